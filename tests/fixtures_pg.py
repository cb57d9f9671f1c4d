"""Reusable pytest fixtures for a real PostgreSQL database.

Import them into a folder's ``conftest.py``::

    from tests.fixtures_pg import pg_url, pg_engine  # noqa: F401

The server comes from ``EDASSETS_TEST_PG_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``). Each test session, and so
each xdist worker, gets its own freshly created database, dropped at the end, so
parallel workers never see each other's tables. An unreachable server fails the
tests instead of skipping them: CI must provide PostgreSQL.
"""

import os
import secrets
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_CONNECT_TIMEOUT_SECONDS = 5


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """Create a uniquely named database on the test server and yield its SQLAlchemy URL."""
    server_url = sa.make_url(os.environ.get("EDASSETS_TEST_PG_URL", DEFAULT_PG_URL))
    name = f"edassets_test_{os.getpid()}_{secrets.token_hex(4)}"
    # CREATE/DROP DATABASE cannot run inside a transaction block; NullPool keeps no
    # idle admin connection open for the whole session.
    admin = sa.create_engine(
        server_url,
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS},
        poolclass=sa.NullPool,
    )
    quoted = admin.dialect.identifier_preparer.quote(name)
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    except sa.exc.OperationalError as error:
        unreachable = str(error.orig)
    else:
        unreachable = None
    if unreachable is not None:
        # Failing outside the except block keeps the report to this one message.
        pytest.fail(
            f"PostgreSQL is required but unreachable at {server_url.render_as_string(hide_password=True)} "
            f"(set EDASSETS_TEST_PG_URL to point at a server): {unreachable}",
            pytrace=False,
        )
    try:
        yield server_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            # FORCE ends connections a failed test may have leaked.
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)"))


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    """An engine on the session's test database."""
    engine = sa.create_engine(pg_url, connect_args={"connect_timeout": _CONNECT_TIMEOUT_SECONDS})
    try:
        yield engine
    finally:
        engine.dispose()
