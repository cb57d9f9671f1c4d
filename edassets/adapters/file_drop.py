"""Files a district hands over: single files, folders and zip bundles, kept byte for byte.

Every file a drop brings gets an outcome in the drop's inventory (the file ledger): read
by the feeds that expect it, or ignored with the reason. Nothing is dropped unremarked.
"""

import csv
import fnmatch
import hashlib
import io
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    """What is left of a drop's limits while files are being listed."""

    def __init__(self, limits: DropLimits) -> None:
        self.limits = limits
        self.bytes_left = limits.max_bytes
        self.files_left = limits.max_files

    def take(self, name: str, size: int) -> None:
        self.files_left -= 1
        self.bytes_left -= size
        if self.files_left < 0:
            raise DropError(f"the drop holds more than {self.limits.max_files} files (the limit); refused, nothing read")
        if self.bytes_left < 0:
            raise DropError(f"the drop expands to more than {self.limits.max_bytes:,} bytes (the limit) at {name}; "
                            "refused, nothing read")


_HEADER_BYTES = 65536

# What zipfile raises for a corrupt or unsupported archive: a bad header or CRC, a
# compression method it cannot decompress (NotImplementedError, e.g. Deflate64), a cut-off file.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError)


@dataclass(frozen=True)
class _Entry:
    """One file of a drop, listed but not necessarily read.

    A raw step reads only the files its feed reads (and the ones nobody reads, to archive
    them): the eight feeds of a OneRoster bundle each unzipped the whole bundle before.

    Attributes:
        name: the file's name (its path when another file of the drop has the same name).
        size: bytes (a zip member's declared size).
        container: the zip it is in, if any.
        header: its first bytes, for recognising renamed files by their header.
        load: its whole content.
    """

    name: str
    size: int
    container: str | None
    header: bytes
    load: Callable[[], bytes]

    @classmethod
    def of(cls, received: ReceivedFile) -> "_Entry":
        return cls(received.name, len(received.data), received.container, received.data[:_HEADER_BYTES],
                   lambda: received.data)


def _zip_member(bundle: zipfile.ZipFile, info: zipfile.ZipInfo, container: str) -> _Entry:
    def load() -> bytes:
        # The declared size can lie (a crafted zip): never read more than it declares.
        # Members are decompressed only here, so a bad CRC surfaces here too.
        try:
            with bundle.open(info) as member:
                content = member.read(info.file_size + 1)
        except _ZIP_ERRORS as error:
            raise DropError(f"{container}/{info.filename} cannot be unzipped ({error})") from error
        if len(content) > info.file_size:
            raise DropError(f"{container}/{info.filename} holds more bytes than its zip entry declares; refused")
        return content

    with bundle.open(info) as member:
        header = member.read(_HEADER_BYTES)
    return _Entry(PurePosixPath(info.filename).name, info.file_size, container, header, load)


def _zip_entries(path: Path, data: bytes, budget: _Budget) -> list[tuple[str, _Entry]]:
    try:
        bundle = zipfile.ZipFile(io.BytesIO(data))
        members = []
        for info in bundle.infolist():
            if info.is_dir():
                continue
            budget.take(info.filename, info.file_size)
            members.append((f"{path.name}/{info.filename}", _zip_member(bundle, info, path.name)))
    except _ZIP_ERRORS as error:
        raise DropError(f"{path.name} is not a readable zip file ({error})") from error
    return members


def _file_entry(path: Path, budget: _Budget) -> _Entry:
    size = path.stat().st_size
    budget.take(path.name, size)
    with path.open("rb") as handle:
        header = handle.read(_HEADER_BYTES)
    return _Entry(path.name, size, None, header, path.read_bytes)


def _scan(paths: Iterable[str | Path], limits: DropLimits) -> tuple[list[_Entry], list[ReceivedFile]]:
    """Every file under `paths` listed (zips opened, members not yet decompressed), and the zips themselves."""
    found: list[tuple[str, _Entry]] = []
    containers: list[ReceivedFile] = []
    budget = _Budget(limits)
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise DropError(f"{path} does not exist")
        candidates = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.suffix.lower() == ".zip":
                data = candidate.read_bytes()
                containers.append(ReceivedFile(candidate.name, data))
                found.extend(_zip_entries(candidate, data, budget))
            else:
                found.append((f"{candidate.parent.name}/{candidate.name}", _file_entry(candidate, budget)))
    seen: dict[str, int] = {}
    for _, entry in found:
        seen[entry.name.lower()] = seen.get(entry.name.lower(), 0) + 1
    entries = [entry if seen[entry.name.lower()] == 1 else replace(entry, name=origin) for origin, entry in found]
    return entries, containers


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
    entries, containers = _scan(paths, limits)
    return [ReceivedFile(e.name, e.load(), container=e.container) for e in entries], containers


def _header_names(header: bytes) -> set[str]:
    first_line = header.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
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


def _base_name(entry: _Entry) -> str:
    return PurePosixPath(entry.name).name.lower()


def _named_role(base_name: str, readers: Mapping[str, object]) -> str | None:
    """The expected file a lower-cased base name is: that very name, else the first pattern it fits.

    An expected name may be a glob pattern (Renaissance Star writes `SR_v1.csv` and
    `SR_v2.csv` for the same export: `sr_v*.csv`); without wildcards it is the name itself.
    """
    if base_name in readers:
        return base_name
    return next((role for role in readers if fnmatch.fnmatchcase(base_name, role)), None)


class _Contents:
    """Each entry's bytes, read at most once per selection."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def of(self, entry: _Entry) -> bytes:
        if entry.name not in self._data:
            self._data[entry.name] = entry.load()
        return self._data[entry.name]

    def sha256(self, entry: _Entry) -> str:
        return hashlib.sha256(self.of(entry)).hexdigest()


def _assign_roles(spec: PlatformSpec, entries: Sequence[_Entry],
                  contents: _Contents) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(role -> names of the files playing it, name -> why it is ignored) over the whole drop."""
    readers = expected_files(spec)
    signatures = {name.lower(): {c.casefold() for c in cols} for name, cols in spec.file_signatures.items()}
    ignored = {e.name: "hidden or operating-system metadata file" for e in entries
               if PurePosixPath(e.name).name.startswith(".") or "__MACOSX/" in e.name}
    # An alias (another export version's name) plays the role of the file it stands for.
    role_of = {e.name: role for e in entries if e.name not in ignored
               and (role := spec.file_aliases.get(_base_name(e)) or _named_role(_base_name(e), readers))}
    for entry in entries:
        if entry.name in ignored or entry.name in role_of:
            continue
        # Districts rename exports ("Fall results.csv"); the header still says what they are.
        # Only a file of the same type is compared: a signature is the first line read as CSV.
        header = _header_names(entry.header)
        fits = [role for role, signature in signatures.items()
                if _base_name(entry).endswith(PurePosixPath(role).suffix) and signature <= header]
        if len(fits) > 1 and all(signatures[role] == signatures[fits[0]] for role in fits):
            # Files laid out alike (one vendor's exports per subject) cannot be told apart by
            # their header: guessing would load one subject's scores as another's.
            ignored[entry.name] = (f"renamed, and its header fits {', '.join(sorted(fits))} alike; "
                                   "hand it over under its export name")
        elif fits:
            role_of[entry.name] = fits[0]
    # The same bytes twice (a zip and its unpacked copy) would load every record twice: the
    # first copy that plays a role is read, the others are accounted as identical. Only
    # files of equal size can be identical, so only those are read to compare digests.
    by_size: dict[int, list[_Entry]] = {}
    for entry in entries:
        if entry.name not in ignored:
            by_size.setdefault(entry.size, []).append(entry)
    for same_size in (group for group in by_size.values() if len(group) > 1):
        by_bytes: dict[str, list[_Entry]] = {}
        for entry in same_size:
            by_bytes.setdefault(contents.sha256(entry), []).append(entry)
        for copies in by_bytes.values():
            kept = next((e for e in copies if e.name in role_of), copies[0])
            for copy in copies:
                if copy is not kept:
                    ignored[copy.name] = f"identical to {kept.name} (same sha256); read once"
                    role_of.pop(copy.name, None)
    for entry in entries:
        if entry.name not in ignored and entry.name not in role_of:
            ignored[entry.name] = f"not a file {spec.title} reads (it reads {', '.join(sorted(readers))})"
    roles: dict[str, list[str]] = {}
    for entry in entries:
        if entry.name in role_of:
            roles.setdefault(role_of[entry.name], []).append(entry.name)
    return roles, ignored


def read_drop(paths: Iterable[str | Path], spec: PlatformSpec, feed: FeedSpec,
              limits: DropLimits = DropLimits()) -> RawDrop:
    """What the feed's raw step receives: `collect_files` then `select_drop`, reading only what it keeps.

    Raises:
        DropError: see `collect_files` and `select_drop`.
    """
    entries, containers = _scan(paths, limits)
    return _select(entries, containers, spec, feed)


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
    return _select([_Entry.of(f) for f in files], list(containers), spec, feed)


def _select(entries: list[_Entry], containers: list[ReceivedFile], spec: PlatformSpec,
            feed: FeedSpec | None) -> RawDrop:
    if not entries:
        raise DropError("the drop holds no files")
    contents = _Contents()
    roles, ignored = _assign_roles(spec, entries, contents)
    if not roles:
        raise DropError(f"none of the {len(entries)} files is a {spec.title} file (it reads "
                        f"{', '.join(sorted(expected_files(spec)))}); was this drop meant for another platform?")
    readers = expected_files(spec)
    wanted = list(readers) if feed is None else [
        name.lower() for name in (*feed.files, *((spec.manifest.file,) if spec.manifest else ()))]
    feed_roles = {role: tuple(names) for role, names in roles.items() if role in wanted}
    chosen_names = {name for names in feed_roles.values() for name in names}
    role_of = {name: role for role, names in roles.items() for name in names}
    inventory = tuple(
        FileOutcome(e.name, e.size, e.container, read_by=readers.get(role_of.get(e.name, ""), ()),
                    reason=ignored.get(e.name, ""))
        for e in entries
    )

    def received(entry: _Entry) -> ReceivedFile:
        return ReceivedFile(entry.name, contents.of(entry), container=entry.container)

    return RawDrop(
        files=tuple(received(e) for e in entries if e.name in chosen_names),
        roles=feed_roles,
        containers=tuple(containers),
        missing=tuple(name for name in dict.fromkeys(wanted) if name not in feed_roles),
        inventory=inventory,
        ignored_files=tuple(received(e) for e in entries if e.name in ignored),
    )
