"""Files a district hands over: single files, folders and zip bundles, kept byte for byte.

Every file a drop brings gets an outcome in the drop's inventory (the file ledger): read
by the feeds that expect it, or ignored with the reason. Nothing is dropped unremarked.
"""

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from edassets.adapters.spec import FeedSpec, PlatformSpec
from edassets.handoffs import FileOutcome, RawDrop, ReceivedFile

MANIFEST_READER = "manifest"
"""How the inventory names the reader of a platform's manifest file."""


class DropError(Exception):
    """The drop cannot be read at all (a path that does not exist, a corrupt zip, too big)."""


@dataclass(frozen=True)
class DropLimits:
    """Caps on what one drop may expand to, so a zip bomb is refused before it fills memory.

    Attributes:
        max_bytes: total bytes of all files after decompression.
        max_files: number of files after unpacking zips.
    """

    max_bytes: int = 2 * 1024**3
    max_files: int = 10_000


class _Budget:
    """What is left of a drop's limits while files are being read."""

    def __init__(self, limits: DropLimits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_bytes
        self.files_left = limits.max_files

    def take(self, name: str, size: int) -> None:
        self.files_left -= 1
        self.bytes_left -= size
        if self.files_left < 0:
            raise DropError(f"the drop holds more than {self.limits.max_files} files (the limit); refused, nothing read")
        self.take_more(name, 0)

    def take_more(self, name: str, size: int) -> None:
        self.bytes_left -= size
        if self.bytes_left < 0:
            raise DropError(f"the drop expands to more than {self.limits.max_bytes:,} bytes (the limit) at {name}; "
                            "refused, nothing read")


def _read_zip(path: Path, data: bytes, budget: _Budget) -> list[tuple[str, ReceivedFile]]:
    members = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            for info in bundle.infolist():
                if info.is_dir():
                    continue
                # The declared size can lie (a crafted zip): read at most what the budget allows.
                budget.take(info.filename, info.file_size)
                with bundle.open(info) as member:
                    content = member.read(budget.bytes_left + info.file_size + 1)
                budget.take_more(info.filename, len(content) - info.file_size)
                members.append((f"{path.name}/{info.filename}",
                                ReceivedFile(PurePosixPath(info.filename).name, content, container=path.name)))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as error:
        raise DropError(f"{path.name} is not a readable zip file ({error})") from error
    return members


def collect_files(
    paths: Iterable[str | Path], limits: DropLimits = DropLimits()
) -> tuple[list[ReceivedFile], list[ReceivedFile]]:
    """Read every file under `paths` (files, folders, zips; folders are not recursed).

    A file keeps its own name unless another file of the drop has the same name (two
    terms' `StudentsBySchool.csv` in two folders of one zip): then its name is its path
    (`export.zip/fall/StudentsBySchool.csv`), so both stay distinct and both are read.

    Returns:
        (data files, zip containers).

    Raises:
        DropError: a path does not exist, a zip is corrupt, or the drop exceeds `limits`.
    """
    found: list[tuple[str, ReceivedFile]] = []
    containers: list[ReceivedFile] = []
    budget = _Budget(limits)
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise DropError(f"{path} does not exist")
        candidates = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            data = candidate.read_bytes()
            if candidate.suffix.lower() == ".zip":
                containers.append(ReceivedFile(candidate.name, data))
                found.extend(_read_zip(candidate, data, budget))
            else:
                budget.take(candidate.name, len(data))
                found.append((f"{candidate.parent.name}/{candidate.name}", ReceivedFile(candidate.name, data)))
    seen: dict[str, int] = {}
    for _, received in found:
        seen[received.name.lower()] = seen.get(received.name.lower(), 0) + 1
    files = [received if seen[received.name.lower()] == 1 else replace(received, name=origin)
             for origin, received in found]
    return files, containers


def _header_names(data: bytes) -> set[str]:
    first_line = data[:65536].split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return {cell.strip().casefold() for cell in next(csv.reader([first_line]), [])}


def expected_files(spec: PlatformSpec) -> dict[str, tuple[str, ...]]:
    """Lower-cased file name -> the feeds (or the manifest) that read it."""
    readers: dict[str, list[str]] = {}
    for feed in spec.feeds:
        for name in feed.files:
            readers.setdefault(name.lower(), []).append(feed.name)
    if spec.manifest:
        readers.setdefault(spec.manifest.file.lower(), []).append(MANIFEST_READER)
    return {name: tuple(feeds) for name, feeds in readers.items()}


def _base_name(received: ReceivedFile) -> str:
    return PurePosixPath(received.name).name.lower()


def _assign_roles(spec: PlatformSpec, files: Sequence[ReceivedFile]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(role -> names of the files playing it, name -> why it is ignored) over the whole drop."""
    readers = expected_files(spec)
    signatures = {name.lower(): {c.casefold() for c in cols} for name, cols in spec.file_signatures.items()}
    ignored = {f.name: "hidden or operating-system metadata file" for f in files
               if PurePosixPath(f.name).name.startswith(".") or "__MACOSX/" in f.name}
    role_of = {f.name: _base_name(f) for f in files if f.name not in ignored and _base_name(f) in readers}
    for role, signature in signatures.items():
        # Districts rename exports ("Fall results.csv"); the header still says what they are.
        for received in files:
            if (received.name not in ignored and received.name not in role_of and _base_name(received).endswith(".csv")
                    and signature <= _header_names(received.data)):
                role_of[received.name] = role
    # The same bytes twice (a zip and its unpacked copy) would load every record twice: the
    # first copy that plays a role is read, the others are accounted as identical.
    by_bytes: dict[str, list[ReceivedFile]] = {}
    for received in files:
        if received.name not in ignored:
            by_bytes.setdefault(received.sha256, []).append(received)
    for copies in by_bytes.values():
        kept = next((f for f in copies if f.name in role_of), copies[0])
        for copy in copies:
            if copy is not kept:
                ignored[copy.name] = f"identical to {kept.name} (same sha256); read once"
                role_of.pop(copy.name, None)
    for received in files:
        if received.name not in ignored and received.name not in role_of:
            ignored[received.name] = f"not a file {spec.title} reads (it reads {', '.join(sorted(readers))})"
    roles: dict[str, list[str]] = {}
    for received in files:
        if received.name in role_of:
            roles.setdefault(role_of[received.name], []).append(received.name)
    return roles, ignored


def select_drop(
    files: Iterable[ReceivedFile],
    containers: Iterable[ReceivedFile],
    spec: PlatformSpec,
    feed: FeedSpec | None = None,
) -> RawDrop:
    """The files a feed reads, with the inventory of everything the drop brought.

    Args:
        files: every data file of the drop.
        containers: every zip of the drop (all archived: they are what was received).
        spec: the platform; its feeds together decide which files are read at all.
        feed: the feed whose files are selected; None selects every file the platform reads.

    Raises:
        DropError: the drop is empty, or not one of its files is a file of this platform
            (a different standard handed to the wrong platform).
    """
    files = list(files)
    if not files:
        raise DropError("the drop holds no files")
    roles, ignored = _assign_roles(spec, files)
    if not roles:
        raise DropError(f"none of the {len(files)} files is a {spec.title} file (it reads "
                        f"{', '.join(sorted(expected_files(spec)))}); was this drop meant for another platform?")
    readers = expected_files(spec)
    wanted = list(readers) if feed is None else [
        name.lower() for name in (*feed.files, *((spec.manifest.file,) if spec.manifest else ()))]
    feed_roles = {role: tuple(names) for role, names in roles.items() if role in wanted}
    chosen_names = {name for names in feed_roles.values() for name in names}
    role_of = {name: role for role, names in roles.items() for name in names}
    inventory = tuple(
        FileOutcome(f.name, len(f.data), f.container, read_by=readers.get(role_of.get(f.name, ""), ()),
                    reason=ignored.get(f.name, ""))
        for f in files
    )
    return RawDrop(
        files=tuple(f for f in files if f.name in chosen_names),
        roles=feed_roles,
        containers=tuple(containers),
        missing=tuple(name for name in dict.fromkeys(wanted) if name not in feed_roles),
        inventory=inventory,
        ignored_files=tuple(f for f in files if f.name in ignored),
    )
