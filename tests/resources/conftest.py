"""Fixtures for resource tests."""

from tests.fixtures_pg import pg_engine, pg_url  # noqa: F401
from tests.fixtures_s3 import moto_s3_endpoint, s3_bucket  # noqa: F401
