"""Secondary indexes deferred during a load that outnumbers its table, on PostgreSQL and SQLite."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from edassets.resources import indexes
from edassets.resources.indexes import indexes_rebuilt_after


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """PostgreSQL or a file-backed SQLite database."""
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_engine")
        return
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def table(engine: sa.Engine) -> Iterator[sa.Table]:
    """A keyed table with one plain secondary index and one unique index, holding three rows."""
    name = f"t_{uuid.uuid4().hex[:10]}"
    table = sa.Table(
        name, sa.MetaData(),
        sa.Column("id", sa.Text, primary_key=True), sa.Column("person_id", sa.Text), sa.Column("email", sa.Text),
        sa.Index(f"ix_{name}_person_id", "person_id"), sa.Index(f"ux_{name}_email", "email", unique=True),
    )
    table.create(engine)
    with engine.begin() as connection:
        connection.execute(table.insert(), [{"id": str(i), "person_id": f"p{i}", "email": f"{i}@x"} for i in range(3)])
    yield table
    table.drop(engine)


def _index_names(connection: sa.Connection, table: sa.Table) -> set[str]:
    return {str(index["name"]) for index in sa.inspect(connection).get_indexes(table.name)}


def test_a_batch_outnumbering_the_table_rebuilds_the_plain_index_after_it(
    engine: sa.Engine, table: sa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 4)
    all_indexes = {f"ix_{table.name}_person_id", f"ux_{table.name}_email"}
    new = [{"id": f"n{i}", "person_id": "p", "email": f"n{i}@x"} for i in range(5)]
    with engine.begin() as connection:
        # As the loader does, a write (the stage's) comes first.
        connection.execute(table.insert(), new[:1])
        with indexes_rebuilt_after(connection, table, incoming=5):
            # The unique index stays: ON CONFLICT and the table's guarantees need it.
            assert _index_names(connection, table) == {f"ux_{table.name}_email"}
            connection.execute(table.insert(), new[1:])
        assert _index_names(connection, table) == all_indexes

    with engine.connect() as connection:
        assert _index_names(connection, table) == all_indexes
        assert connection.scalar(sa.select(sa.func.count()).select_from(table)) == 8


def test_sqlite_keeps_every_index_while_no_write_has_opened_its_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("id", sa.Text, primary_key=True), sa.Column("p", sa.Text, index=True))
    table.create(engine)
    monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 1)
    with engine.begin() as connection, indexes_rebuilt_after(connection, table, incoming=4):
        # A DROP INDEX here would commit at once: a failure could not restore the index.
        assert _index_names(connection, table) == {"ix_t_p"}
    engine.dispose()


def test_a_batch_smaller_than_the_table_or_the_floor_keeps_every_index(
    engine: sa.Engine, table: sa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    all_indexes = {f"ix_{table.name}_person_id", f"ux_{table.name}_email"}
    with engine.begin() as connection:
        # Below the floor: a small first load is not worth an exclusive lock.
        with indexes_rebuilt_after(connection, table, incoming=1_000):
            assert _index_names(connection, table) == all_indexes
        monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 2)
        # The table holds three rows: a batch of three does not outnumber it.
        with indexes_rebuilt_after(connection, table, incoming=3):
            assert _index_names(connection, table) == all_indexes


def test_a_load_failing_with_its_index_dropped_rolls_back_to_the_index(
    engine: sa.Engine, table: sa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 4)
    with pytest.raises(RuntimeError, match="load failed"), engine.begin() as connection:
        # As the loader does, rows are written (staged) before the indexes are dropped.
        connection.execute(table.insert(), [{"id": "n1", "person_id": "p", "email": "n1@x"}])
        with indexes_rebuilt_after(connection, table, incoming=5):
            assert _index_names(connection, table) == {f"ux_{table.name}_email"}
            raise RuntimeError("load failed")

    with engine.connect() as connection:
        assert _index_names(connection, table) == {f"ix_{table.name}_person_id", f"ux_{table.name}_email"}
