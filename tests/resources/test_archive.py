"""Tests for the write-once audit archive on the local and S3 (moto server) backends."""

import hashlib
import stat
import threading
from pathlib import Path

import boto3
import dagster as dg
import pytest

from edassets.resources.archive import (
    ArchivedObject,
    ArchiveObjectExists,
    ArchiveObjectNotFound,
    ArchiveResource,
    ArchiveStore,
    LocalArchive,
    S3Archive,
    archive_key,
    open_archive,
)

S3_PREFIX = "audit/raw"


@pytest.fixture(params=["local", "s3"])
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> ArchiveStore:
    """An empty archive on each backend; the S3 one sits under a key prefix."""
    if request.param == "local":
        return LocalArchive(tmp_path / "archive")
    endpoint = request.getfixturevalue("moto_s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return S3Archive(bucket, prefix=S3_PREFIX, client=boto3.client("s3", endpoint_url=endpoint))


def test_put_get_round_trip(archive: ArchiveStore) -> None:
    data = b"student_id,grade\n1,5\n"

    receipt = archive.put("roster/2024-09-01/students.csv", data, content_type="text/csv")

    assert receipt == ArchivedObject(
        key="roster/2024-09-01/students.csv",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )
    assert archive.get("roster/2024-09-01/students.csv") == data


def test_second_put_raises_and_keeps_original(archive: ArchiveStore) -> None:
    archive.put("roster/students.csv", b"original")

    with pytest.raises(ArchiveObjectExists, match="roster/students.csv"):
        archive.put("roster/students.csv", b"tampered")

    assert archive.get("roster/students.csv") == b"original"


def test_list_by_prefix_is_sorted(archive: ArchiveStore) -> None:
    for key in ["b/2", "a/2", "ab/x", "a/10", "a/1"]:
        archive.put(key, b"x")

    assert archive.list() == ["a/1", "a/10", "a/2", "ab/x", "b/2"]
    assert archive.list("a/") == ["a/1", "a/10", "a/2"]
    assert archive.list("a") == ["a/1", "a/10", "a/2", "ab/x"]
    assert archive.list("a/1") == ["a/1", "a/10"]
    assert archive.list("missing/") == []


def test_exists(archive: ArchiveStore) -> None:
    assert not archive.exists("a/b.json")

    archive.put("a/b.json", b"{}")

    assert archive.exists("a/b.json")
    assert not archive.exists("a")  # a key prefix is not an object


def test_get_missing_raises_not_found(archive: ArchiveStore) -> None:
    with pytest.raises(ArchiveObjectNotFound, match="no/such.key"):
        archive.get("no/such.key")


@pytest.mark.parametrize("key", ["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a/", "a b", "a\\b"])
def test_invalid_keys_are_rejected(archive: ArchiveStore, key: str) -> None:
    with pytest.raises(ValueError):
        archive.put(key, b"x")
    with pytest.raises(ValueError):
        archive.get(key)


@pytest.mark.parametrize("prefix", ["/", "/a", "../", "a/../", "a//", "a b"])
def test_invalid_list_prefixes_are_rejected(archive: ArchiveStore, prefix: str) -> None:
    with pytest.raises(ValueError):
        archive.list(prefix)


def test_describe_local(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)

    assert archive.url == tmp_path.resolve().as_uri()
    assert archive.describe("a/b.csv") == str(tmp_path.resolve() / "a" / "b.csv")


def test_describe_s3(moto_s3_endpoint: str, s3_bucket: str) -> None:
    client = boto3.client("s3", endpoint_url=moto_s3_endpoint)

    prefixed = S3Archive(s3_bucket, prefix=f"/{S3_PREFIX}/", client=client)
    bare = S3Archive(s3_bucket, client=client)

    assert prefixed.url == f"s3://{s3_bucket}/{S3_PREFIX}"
    assert prefixed.describe("a/b.csv") == f"s3://{s3_bucket}/{S3_PREFIX}/a/b.csv"
    assert bare.url == f"s3://{s3_bucket}"
    assert bare.describe("a/b.csv") == f"s3://{s3_bucket}/a/b.csv"


def test_s3_object_is_really_in_bucket(moto_s3_endpoint: str, s3_bucket: str) -> None:
    archive = open_archive(f"s3://{s3_bucket}/{S3_PREFIX}", s3_endpoint_url=moto_s3_endpoint)
    data = b'{"score": 97}'

    receipt = archive.put("scores/1.json", data, content_type="application/json")

    # An independent client proves the bytes, metadata and checksum reached the server.
    response = boto3.client("s3", endpoint_url=moto_s3_endpoint).get_object(
        Bucket=s3_bucket, Key=f"{S3_PREFIX}/scores/1.json", ChecksumMode="ENABLED"
    )
    assert response["Body"].read() == data
    assert response["Metadata"]["sha256"] == receipt.sha256 == hashlib.sha256(data).hexdigest()
    assert response["ContentType"] == "application/json"
    assert response["ChecksumSHA256"]


def test_local_object_is_read_only_and_leaves_no_temp_files(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    archive.put("a/b.csv", b"x")
    with pytest.raises(ArchiveObjectExists):
        archive.put("a/b.csv", b"y")

    assert stat.S_IMODE((tmp_path / "a" / "b.csv").stat().st_mode) == 0o444
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b.csv"]


def test_local_concurrent_puts_have_exactly_one_winner(tmp_path: Path) -> None:
    archive = LocalArchive(tmp_path)
    barrier = threading.Barrier(8)
    winners: list[bytes] = []

    def write(payload: bytes) -> None:
        barrier.wait()
        try:
            archive.put("race/key", payload)
            winners.append(payload)
        except ArchiveObjectExists:
            pass

    threads = [threading.Thread(target=write, args=(bytes([i]) * 1024,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert archive.get("race/key") == winners[0]


def test_archive_key_joins_safe_parts() -> None:
    assert archive_key("roster", "district=42", "2024-09-01T00:00:00+00:00", "a_b.csv") == (
        "roster/district=42/2024-09-01T00:00:00+00:00/a_b.csv"
    )


@pytest.mark.parametrize(
    "parts", [(), ("",), ("..",), (".",), ("a/b",), ("a b",), ("ok", "é"), ("ok", "x?y")]
)
def test_archive_key_rejects_bad_parts(parts: tuple[str, ...]) -> None:
    with pytest.raises(ValueError):
        archive_key(*parts)


def test_open_archive_local_dispatch(tmp_path: Path) -> None:
    from_path = open_archive(str(tmp_path))
    from_url = open_archive(tmp_path.as_uri())

    assert isinstance(from_path, LocalArchive)
    assert isinstance(from_url, LocalArchive)
    assert from_path.root == from_url.root == tmp_path.resolve()


def test_open_archive_s3_dispatch(moto_s3_endpoint: str, s3_bucket: str) -> None:
    archive = open_archive(f"s3://{s3_bucket}/a/b/", s3_endpoint_url=moto_s3_endpoint)

    assert isinstance(archive, S3Archive)
    assert (archive.bucket, archive.prefix, archive.url) == (s3_bucket, "a/b", f"s3://{s3_bucket}/a/b")
    archive.put("k", b"v")
    assert archive.get("k") == b"v"


def test_open_archive_reads_endpoint_from_env(
    moto_s3_endpoint: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDASSETS_S3_ENDPOINT_URL", moto_s3_endpoint)

    archive = open_archive(f"s3://{s3_bucket}")
    archive.put("k", b"v")

    assert archive.list() == ["k"]


@pytest.mark.parametrize(
    "url", ["s3://", "s3:///prefix", "file://remote-host/x", "ftp://user:hunter2@host/x"]
)
def test_open_archive_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        open_archive(url)

    assert "hunter2" not in str(excinfo.value)


def test_archive_resource_in_dagster_asset(moto_s3_endpoint: str, s3_bucket: str) -> None:
    resource = ArchiveResource(url=f"s3://{s3_bucket}/{S3_PREFIX}", s3_endpoint_url=moto_s3_endpoint)
    assert resource.store() is resource.store()

    @dg.asset
    def archived_roster(archive: ArchiveResource) -> str:
        return archive.store().put(archive_key("roster", "students.csv"), b"id\n1\n").sha256

    result = dg.materialize([archived_roster], resources={"archive": resource})

    assert result.success
    assert result.output_for_node("archived_roster") == hashlib.sha256(b"id\n1\n").hexdigest()
    assert open_archive(resource.url, s3_endpoint_url=moto_s3_endpoint).list() == [
        "roster/students.csv"
    ]
