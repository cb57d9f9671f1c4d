"""Files a district hands over: single files, folders and zip bundles, kept byte for byte."""

import csv
import hashlib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


class DropError(Exception):
    """The drop cannot be read at all (a path that does not exist, a corrupt zip)."""


@dataclass(frozen=True)
class ReceivedFile:
    """One data file exactly as received.

    Attributes:
        name: file name (zip members lose their folders: OneRoster zips are flat by spec,
            but hand-made zips often wrap the files in one folder).
        data: the bytes.
        container: name of the zip the file came out of, if any.
        archive_key: where the archive keeps it, once archived.
    """

    name: str
    data: bytes
    container: str | None = None
    archive_key: str | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class RawDrop:
    """The bytes one raw asset received for one partition.

    Attributes:
        files: data files the feed reads, as received.
        roles: lower-cased expected file name -> name of the received file playing that role.
        containers: zip files they came out of, archived whole so not one received byte is lost.
        missing: file names the feed wanted but the drop lacked.
        meta: how the bytes were obtained (API: sync mode, cursor, page URLs and statuses).
    """

    files: tuple[ReceivedFile, ...]
    roles: Mapping[str, str]
    containers: tuple[ReceivedFile, ...] = ()
    missing: tuple[str, ...] = ()
    meta: Mapping[str, object] = field(default_factory=dict)

    def by_name(self) -> dict[str, ReceivedFile]:
        """Files keyed by the lower-cased name the feed expects (vendors are not consistent about case)."""
        received = {f.name: f for f in self.files}
        return {role: received[name] for role, name in self.roles.items()}


def _read_zip(path: Path) -> tuple[ReceivedFile, list[ReceivedFile]]:
    data = path.read_bytes()
    container = ReceivedFile(path.name, data)
    try:
        with zipfile.ZipFile(path) as bundle:
            members = [
                ReceivedFile(PurePosixPath(info.filename).name, bundle.read(info), container=path.name)
                for info in bundle.infolist()
                if not info.is_dir() and not PurePosixPath(info.filename).name.startswith(".")
            ]
    except zipfile.BadZipFile as error:
        raise DropError(f"{path.name} is not a readable zip file ({error})") from error
    return container, members


def collect_files(paths: Iterable[str | Path]) -> tuple[list[ReceivedFile], list[ReceivedFile]]:
    """Read every file under `paths` (files, folders, zips; folders are not recursed).

    Returns:
        (data files, zip containers).

    Raises:
        DropError: a path does not exist or a zip is corrupt.
    """
    files: list[ReceivedFile] = []
    containers: list[ReceivedFile] = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.exists():
            raise DropError(f"{path} does not exist")
        candidates = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        for candidate in candidates:
            if candidate.suffix.lower() == ".zip":
                container, members = _read_zip(candidate)
                containers.append(container)
                files.extend(members)
            elif not candidate.name.startswith("."):
                files.append(ReceivedFile(candidate.name, candidate.read_bytes()))
    return files, containers


def _header_names(data: bytes) -> set[str]:
    first_line = data[:65536].split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    return {cell.strip().casefold() for cell in next(csv.reader([first_line]), [])}


def select_drop(
    files: Iterable[ReceivedFile],
    containers: Iterable[ReceivedFile],
    wanted: Iterable[str],
    signatures: Mapping[str, tuple[str, ...]] | None = None,
) -> RawDrop:
    """Keep the files a feed reads, and the containers they came from.

    Args:
        files: every data file of the drop.
        containers: every zip of the drop.
        wanted: file names the feed reads (case-insensitive).
        signatures: expected file name -> header columns that identify it when the district
            renamed the file (MAP exports arrive as "Fall results.csv" as often as not).
    """
    files = list(files)
    signatures = {name.lower(): tuple(c.casefold() for c in cols) for name, cols in (signatures or {}).items()}
    by_name = {f.name.lower(): f for f in files}
    roles: dict[str, str] = {}
    for name in dict.fromkeys(w.lower() for w in wanted):
        if name in by_name:
            roles[name] = by_name[name].name
        elif name in signatures:
            match = next((f for f in files if f.name not in roles.values() and f.name.lower().endswith(".csv")
                          and set(signatures[name]) <= _header_names(f.data)), None)
            if match is not None:
                roles[name] = match.name
    chosen = tuple(f for f in files if f.name in set(roles.values()))
    used_containers = {f.container for f in chosen if f.container}
    return RawDrop(
        files=chosen,
        roles=roles,
        containers=tuple(c for c in containers if c.name in used_containers),
        missing=tuple(name for name in dict.fromkeys(w.lower() for w in wanted) if name not in roles),
    )
