"""Sync modes declared by a drop's own manifest (OneRoster `manifest.csv`)."""

from collections.abc import Mapping, Sequence

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.file_drop import DropError
from edassets.adapters.spec import FeedSpec, PlatformSpec, SyncMode
from edassets.handoffs import ReceivedFile


def _manifest_values(data: bytes) -> dict[str, str]:
    frame = read_csv_text(data).frame
    if frame.shape[1] < 2:
        raise DropError("the manifest needs two columns: propertyName,value")
    names = frame.iloc[:, 0].fillna("").str.strip()
    values = frame.iloc[:, 1].fillna("").str.strip().str.casefold()
    return dict(zip(names, values, strict=True))


def resolve_sync_mode(platform: PlatformSpec, feed: FeedSpec, files: Mapping[str, Sequence[ReceivedFile]]) -> SyncMode:
    """How this drop's batch for `feed` relates to the warehouse.

    Args:
        platform: the platform (its manifest rule, if any).
        feed: the feed.
        files: the drop's files keyed by the lower-cased name of the role they play.

    Returns:
        The feed's declared mode when the platform has no manifest; otherwise what the
        manifest says for the feed's file. A file the manifest does not mention is read as
        a delta: deactivating a district's whole roster because an exporter forgot a
        manifest line would be far worse than a late clean-up.

    Raises:
        DropError: the manifest promises a file that is not there, uses an unknown mode, or
            the drop holds several manifests (several bundles).
    """
    rule = platform.manifest
    present = feed.file.lower() in files
    if rule is None or feed.sync_mode == "events":
        if not present and not feed.optional:
            raise DropError(f"{feed.file} is not in the drop")
        return feed.sync_mode if present else "absent"
    manifests = files.get(rule.file.lower(), [])
    if len(manifests) > 1:
        raise DropError(f"the drop holds {len(manifests)} {rule.file} files: hand over one bundle per import")
    manifest = manifests[0] if manifests else None
    if manifest is None:
        return "incremental" if present else "absent"
    stem = feed.file.rsplit(".", 1)[0]
    declared = _manifest_values(manifest.data).get(f"{rule.property_prefix}{stem}")
    if declared is None or declared == "":
        return "incremental" if present else "absent"
    mode = rule.modes.get(declared)
    if mode is None:
        raise DropError(f"{rule.file} declares {stem} as {declared!r}; expected one of {', '.join(rule.modes)}")
    if mode != "absent" and not present:
        raise DropError(f"{rule.file} declares {stem} as {declared} but the drop has no {feed.file}")
    return mode
