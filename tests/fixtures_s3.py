"""Reusable pytest fixtures for a real-protocol S3 endpoint served by moto.

Import them into a folder's ``conftest.py``::

    from tests.fixtures_s3 import moto_s3_endpoint, s3_bucket  # noqa: F401

boto3 talks plain HTTP to a local moto server, so tests exercise the real S3
wire protocol (conditional writes, checksums, metadata) instead of patched calls.
"""

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def moto_s3_endpoint() -> Iterator[str]:
    """Start a moto server on an ephemeral port and yield its endpoint URL.

    Session-scoped, so each xdist worker runs its own server; port 0 keeps
    workers from colliding. Fake credentials are set only where none exist and
    removed again afterwards.
    """
    added = [name for name in _FAKE_AWS_ENV if name not in os.environ]
    for name in added:
        os.environ[name] = _FAKE_AWS_ENV[name]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name in added:
            os.environ.pop(name, None)


@pytest.fixture
def s3_bucket(moto_s3_endpoint: str) -> str:
    """Create a fresh, uniquely named bucket on the moto server and return its name."""
    name = f"edassets-test-{uuid.uuid4().hex[:16]}"
    boto3.client("s3", endpoint_url=moto_s3_endpoint).create_bucket(Bucket=name)
    return name
