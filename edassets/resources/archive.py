"""Immutable audit archive: a write-once object store with local and S3 backends.

Every raw payload the platform ingests is archived here before it is parsed, so
an audit can always go back to the exact bytes a vendor sent. The archive is
append-only by construction: ``put`` never replaces an existing object on any
backend, even when two writers race for the same key.
"""

import base64
import hashlib
import os
import re
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import dagster as dg
from botocore.exceptions import ClientError
from dagster_aws.s3 import S3Resource
from pydantic import PrivateAttr

# One rule for key segments keeps keys portable: safe as POSIX file names and as
# S3 keys, with no spaces, quoting or URL-encoding surprises.
_KEY_PART = re.compile(r"[A-Za-z0-9._=:+-]+")
_KEY_PART_PREFIX = re.compile(r"[A-Za-z0-9._=:+-]*")

# Checked in order; the project-specific variable wins over the generic AWS one.
_ENDPOINT_ENV_VARS = ("EDASSETS_S3_ENDPOINT_URL", "AWS_ENDPOINT_URL")


@dataclass(frozen=True)
class ArchivedObject:
    """Receipt for an object written to the archive.

    Attributes:
        key: Full key inside the archive, without any backend prefix.
        sha256: Hex SHA-256 digest of the stored bytes.
        size: Number of bytes stored.
    """

    key: str
    sha256: str
    size: int


class ArchiveObjectExists(Exception):
    """Raised when ``put`` targets a key that already holds an object."""

    def __init__(self, key: str) -> None:
        super().__init__(f"archive object already exists: {key}")
        self.key = key


class ArchiveObjectNotFound(LookupError):
    """Raised when ``get`` asks for a key that holds no object."""

    def __init__(self, key: str) -> None:
        super().__init__(f"archive object not found: {key}")
        self.key = key


def archive_key(*parts: str) -> str:
    """Build an archive key from its segments.

    Args:
        *parts: Key segments, each matching ``[A-Za-z0-9._=:+-]+`` and not
            ``.`` or ``..``.

    Returns:
        The segments joined with ``/``.

    Raises:
        ValueError: If no parts are given or any part is not a safe segment.
    """
    if not parts:
        raise ValueError("archive_key needs at least one part")
    for part in parts:
        _check_part(part)
    return "/".join(parts)


def _is_part(part: str) -> bool:
    # "." and ".." pass the character class but would escape or alias
    # directories on the local backend.
    return isinstance(part, str) and bool(_KEY_PART.fullmatch(part)) and part not in (".", "..")


def _check_part(part: str) -> None:
    if not _is_part(part):
        raise ValueError(f"invalid archive key part: {part!r}")


def _check_key(key: str) -> None:
    # put() enforces the archive_key rules too, so no backend can ever hold a
    # key (absolute, "..", empty segment) that another backend could not.
    if not isinstance(key, str) or not key:
        raise ValueError("archive key must be a non-empty string")
    for part in key.split("/"):
        _check_part(part)


def _check_prefix(prefix: str) -> None:
    # The last segment of a listing prefix may be partial ("2024/ro") or empty
    # ("2024/"); every segment before it must be a full key part.
    head, sep, tail = prefix.rpartition("/")
    head_ok = not sep or all(_is_part(part) for part in head.split("/"))
    if not head_ok or not _KEY_PART_PREFIX.fullmatch(tail):
        raise ValueError(f"invalid archive prefix: {prefix!r}")


class ArchiveStore(ABC):
    """Write-once object store for raw audit payloads.

    Attributes:
        url: Location of the archive, e.g. ``file:///abs/path`` or
            ``s3://bucket/prefix``.
    """

    url: str

    @abstractmethod
    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ArchivedObject:
        """Store ``data`` under ``key`` unless the key is already taken.

        Args:
            key: Archive key, ``/``-separated safe segments (see ``archive_key``).
            data: Bytes to store.
            content_type: MIME type recorded by backends that keep one.

        Returns:
            The key, SHA-256 digest and size of the stored object.

        Raises:
            ArchiveObjectExists: If ``key`` already holds an object; the existing
                bytes are left untouched.
            ValueError: If ``key`` is not a valid archive key.
        """

    def put_content(
        self, prefix: str, name: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ArchivedObject:
        """Store ``data`` once under ``prefix``, keyed by its sha256, however often it arrives.

        The same bytes received again (the file every feed of a bundle reads, a re-sent
        drop) land on the same key, so they are archived once and stay write-once: an
        existing key already holds exactly these bytes, because the key is their digest.

        Args:
            prefix: Archive key of the folder (platform, district, day).
            name: Human name kept as the last segment (a safe file name).
            data: Bytes to store.
            content_type: MIME type recorded by backends that keep one.
        """
        digest = hashlib.sha256(data).hexdigest()
        key = f"{prefix}/sha256={digest}/{name}"
        try:
            return self.put(key, data, content_type=content_type)
        except ArchiveObjectExists:
            return ArchivedObject(key=key, sha256=digest, size=len(data))

    @abstractmethod
    def get(self, key: str) -> bytes:
        """Read the bytes stored under ``key``.

        Raises:
            ArchiveObjectNotFound: If ``key`` holds no object.
            ValueError: If ``key`` is not a valid archive key.
        """

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Return whether ``key`` holds an object."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Return the sorted keys that start with ``prefix``.

        Args:
            prefix: Plain string prefix of the keys to return; its last segment
                may be partial.
        """

    @abstractmethod
    def describe(self, key: str) -> str:
        """Return a human locator for ``key``: a local path or an ``s3://`` URL."""


class LocalArchive(ArchiveStore):
    """Archive in a local directory; keys map to files in subdirectories.

    Args:
        root: Directory holding the archive. Created on first ``put``.
    """

    # "~" is not allowed in key parts, so temp files can never collide with
    # or be listed as archive objects.
    _TMP_PREFIX = ".~tmp-"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        _check_key(key)
        return self.root.joinpath(*key.split("/"))

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ArchivedObject:
        """See ``ArchiveStore.put``. ``content_type`` is not recorded locally."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=self._TMP_PREFIX, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
                # Read-only before publication, so the object is never writable
                # under its final name, not even for an instant.
                os.fchmod(tmp.fileno(), 0o444)
            # link() refuses to replace an existing name atomically, unlike
            # rename(): a racing writer gets EEXIST instead of overwriting, and
            # readers only ever see complete files.
            try:
                os.link(tmp_name, path)
            except FileExistsError:
                raise ArchiveObjectExists(key) from None
        finally:
            os.unlink(tmp_name)
        self._fsync_dir(path.parent)
        return ArchivedObject(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        # An audit record must survive a crash once put() has returned, which
        # needs the new directory entry on disk, not just the file contents.
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def get(self, key: str) -> bytes:
        """See ``ArchiveStore.get``."""
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ArchiveObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        """See ``ArchiveStore.exists``."""
        return self._path(key).is_file()

    def list(self, prefix: str = "") -> list[str]:
        """See ``ArchiveStore.list``."""
        _check_prefix(prefix)
        # Walk only the deepest directory the prefix pins down, not the whole archive.
        head = prefix.rpartition("/")[0]
        base = self.root.joinpath(*head.split("/")) if head else self.root
        keys = []
        for dirpath, _, filenames in os.walk(base):
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(self._TMP_PREFIX):
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def describe(self, key: str) -> str:
        """See ``ArchiveStore.describe``."""
        return str(self._path(key))


class S3Archive(ArchiveStore):
    """Archive in an S3 bucket, optionally under a key prefix.

    Args:
        bucket: Bucket name.
        prefix: Key prefix inside the bucket; surrounding slashes are ignored.
        client: boto3 S3 client. Defaults to one built from the environment.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if not bucket:
            raise ValueError("S3 archive needs a bucket name")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client if client is not None else S3Resource().get_client()

    def _s3_key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(
        self, key: str, data: bytes, *, content_type: str = "application/octet-stream"
    ) -> ArchivedObject:
        """See ``ArchiveStore.put``."""
        digest = hashlib.sha256(data)
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=self._s3_key(key),
                Body=data,
                ContentType=content_type,
                # S3 conditional write: the server rejects the PUT if the key
                # exists, so racing writers cannot overwrite each other
                # (moto 5.2 implements this too).
                IfNoneMatch="*",
                Metadata={"sha256": digest.hexdigest()},
                # S3 verifies the body against this and keeps it for later reads.
                ChecksumAlgorithm="SHA256",
                ChecksumSHA256=base64.b64encode(digest.digest()).decode("ascii"),
            )
        except ClientError as exc:
            # A 409 ConditionalRequestConflict (concurrent conditional write in
            # flight) is re-raised: the other write may still fail, so it does
            # not prove the key is taken.
            if exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                raise ArchiveObjectExists(key) from None
            raise
        return ArchivedObject(key=key, sha256=digest.hexdigest(), size=len(data))

    def get(self, key: str) -> bytes:
        """See ``ArchiveStore.get``."""
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=self._s3_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ArchiveObjectNotFound(key) from None
            raise
        return response["Body"].read()

    def exists(self, key: str) -> bool:
        """See ``ArchiveStore.exists``."""
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._s3_key(key))
        except ClientError as exc:
            # HEAD responses have no body, so a missing key surfaces as bare "404".
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> list[str]:
        """See ``ArchiveStore.list``."""
        _check_prefix(prefix)
        base = f"{self.prefix}/" if self.prefix else ""
        paginator = self._client.get_paginator("list_objects_v2")
        keys = [
            obj["Key"][len(base) :]
            for page in paginator.paginate(Bucket=self.bucket, Prefix=base + prefix)
            for obj in page.get("Contents", [])
        ]
        return sorted(keys)

    def describe(self, key: str) -> str:
        """See ``ArchiveStore.describe``."""
        return f"s3://{self.bucket}/{self._s3_key(key)}"


def open_archive(url: str, *, s3_endpoint_url: str | None = None) -> ArchiveStore:
    """Open the archive at ``url``.

    Args:
        url: ``file:///abs/path``, a plain filesystem path, or
            ``s3://bucket/optional/prefix``.
        s3_endpoint_url: S3 endpoint override (MinIO, moto). Falls back to the
            ``EDASSETS_S3_ENDPOINT_URL`` then ``AWS_ENDPOINT_URL`` environment
            variables, then the AWS default.

    Returns:
        A ``LocalArchive`` or ``S3Archive``.

    Raises:
        ValueError: If the URL scheme is unsupported or the URL is malformed.
    """
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError("s3 archive URL needs a bucket: s3://bucket/prefix")
        endpoint = s3_endpoint_url or next(
            (os.environ[var] for var in _ENDPOINT_ENV_VARS if os.environ.get(var)), None
        )
        client = S3Resource(endpoint_url=endpoint).get_client()
        return S3Archive(parsed.netloc, parsed.path, client=client)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise ValueError("file archive URL must name a local path: file:///abs/path")
        return LocalArchive(unquote(parsed.path))
    if not parsed.scheme:
        return LocalArchive(url)
    # Only the scheme is echoed: the rest of a URL may carry credentials.
    raise ValueError(f"unsupported archive URL scheme: {parsed.scheme!r}")


class ArchiveResource(dg.ConfigurableResource):
    """Dagster resource giving assets access to the audit archive.

    Attributes:
        url: Archive location: a filesystem path, ``file://`` URL or
            ``s3://bucket/prefix``.
        s3_endpoint_url: Optional S3 endpoint override (MinIO, moto).
    """

    url: str
    s3_endpoint_url: str | None = None

    _store: ArchiveStore | None = PrivateAttr(default=None)

    def store(self) -> ArchiveStore:
        """Return the archive store, opened once per resource instance."""
        if self._store is None:
            self._store = open_archive(self.url, s3_endpoint_url=self.s3_endpoint_url)
        return self._store
