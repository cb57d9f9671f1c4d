"""Fixtures for resource tests."""

from tests.fixtures_s3 import moto_s3_endpoint, s3_bucket  # noqa: F401
from tests.fixtures_pg import pg_url, pg_engine  # noqa: F401
