"""The pandera schemas, the SQLAlchemy tables and the Alembic migrations agree."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pandera.engines import pandas_engine

from edassets.resources.warehouse import upgrade_schema
from edassets.schema.dataframes import LOAD_TIME_COLUMNS, dataframe_schema
from edassets.schema.entities import ENTITIES
from edassets.schema.model import Kind
from edassets.schema.tables import TABLES, metadata

_SQL_TYPE_OF_KIND = {
    Kind.STRING: sa.Text,
    Kind.INTEGER: sa.BigInteger,
    Kind.FLOAT: sa.Double,
    Kind.BOOLEAN: sa.Boolean,
    Kind.DATE: sa.Date,
    Kind.TIMESTAMP: sa.DateTime,
}


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_pandera_and_sqlalchemy_agree_on_columns_types_and_nullability(entity) -> None:
    schema = dataframe_schema(entity)
    table = TABLES[entity.name]

    assert list(schema.columns) == [c.name for c in table.columns if c.name not in LOAD_TIME_COLUMNS]
    for name, column in schema.columns.items():
        sql_column = table.c[name]
        kind = entity.field(name).kind
        assert column.nullable == sql_column.nullable, name
        assert isinstance(sql_column.type, _SQL_TYPE_OF_KIND[kind]), name
        # pandera accepts, without coercion, exactly the dtype the mapping gives the column.
        assert column.dtype.check(pandas_engine.Engine.dtype(kind.pandas_dtype)), name
    assert [c.name for c in table.primary_key.columns] == list(entity.key)
    assert set(schema.unique) == set(entity.key)


@pytest.mark.parametrize("entity", ENTITIES, ids=lambda e: e.name)
def test_every_loaded_row_carries_lineage(entity) -> None:
    columns = set(TABLES[entity.name].c.keys())
    assert {"lineage_archive_key", "lineage_record_index", "lineage_run_id", "lineage_loaded_at"} <= columns


def _assert_migrations_match_tables(url: str) -> None:
    upgrade_schema(url)
    upgrade_schema(url)  # idempotent
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    # Comments are not kept by SQLite; everything else must match exactly.
    assert [d for d in diff if not str(d[0]).endswith("comment")] == []


def test_migrations_build_exactly_the_declared_tables_on_sqlite(tmp_path) -> None:
    _assert_migrations_match_tables(f"sqlite:///{tmp_path / 'warehouse.db'}")


def test_migrations_build_exactly_the_declared_tables_on_postgres(pg_url) -> None:
    _assert_migrations_match_tables(pg_url)
