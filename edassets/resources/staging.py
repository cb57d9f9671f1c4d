"""Staging tables: a load's rows moved into a temporary table on the caller's connection.

PostgreSQL (psycopg 3) stages with ``COPY`` fed by Arrow's CSV writer; SQLite (the
embedded default) stages with ``executemany``. Either way the stage holds exactly what a
row written through SQLAlchemy would hold, so the statements that merge it into the
target leave identical rows behind on both.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from psycopg import sql

# Rows per COPY / executemany chunk: bounds the memory of the staging copy.
_CHUNK_ROWS = 50_000


@dataclass(frozen=True)
class StagedRows:
    """Where each column of a staged batch comes from in SQL.

    Attributes:
        stage: the temporary table holding the columns that vary from row to row.
        constants: columns holding one and the same non-null value in every row (the
            district, the platform, the batch's archive object and run); they are bound
            once as parameters instead of being copied row by row. Never key columns:
            every anti-join on the key goes through the stage.
        rows: rows staged.
    """

    stage: sa.Table
    constants: dict[str, object]
    rows: int

    def column(self, table: sa.Table, name: str) -> sa.ColumnElement[Any]:
        """The SQL expression giving column `name` of a staged row."""
        if name in self.constants:
            return sa.literal(self.constants[name], type_=table.c[name].type)
        return self.stage.c[name]


def to_arrow(frame: pd.DataFrame, table: sa.Table) -> pa.Table:
    """Convert the frame to Arrow with the temporal types the target columns expect.

    DATE columns become ``date32`` (pandas carries dates as midnight timestamps) and
    timestamps are cut to microseconds, the precision both databases store; aware
    timestamps are normalized to UTC.
    """
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    for index, name in enumerate(arrow.column_names):
        arrow_type = arrow.schema.field(index).type
        if not pa.types.is_timestamp(arrow_type):
            continue
        column_type = table.c[name].type
        if isinstance(column_type, sa.Date):
            target = pa.date32()
        elif arrow_type.tz is not None:
            target = pa.timestamp("us", tz="UTC")
        elif isinstance(column_type, sa.DateTime) and column_type.timezone:
            # A naive value would be read in the session time zone: refuse to guess.
            raise ValueError(f"column {name} holds naive timestamps but {table.fullname}.{name} is timezone-aware")
        else:
            target = pa.timestamp("us")
        # safe=False truncates sub-microsecond digits and the time of day of DATE values.
        arrow = arrow.set_column(index, name, arrow.column(index).cast(target, safe=False))
    return arrow


def constant_columns(arrow: pa.Table, candidates: Sequence[str]) -> dict[str, object]:
    """Those of `candidates` whose every value is the same non-null value, with that value.

    A 600,000-row crosswalk batch carries its 150-character archive key and its run id in
    every row: staging them once instead of per row took half the bytes out of its COPY
    and a third of the Python objects out of its SQLite executemany.
    """
    if arrow.num_rows == 0:
        return {}
    constants = {}
    for name in candidates:
        values = arrow.column(name)
        if values.null_count:
            continue
        first = values[0]
        if pa_compute.all(pa_compute.equal(values, first)).as_py():
            constants[name] = first.as_py()
    return constants


def driver(connection: sa.Connection) -> Any:
    """The DBAPI connection under `connection` (psycopg's for COPY, sqlite3's for executemany)."""
    dbapi_connection = connection.connection.driver_connection
    if dbapi_connection is None:
        raise RuntimeError("the connection has been invalidated; no DBAPI connection to load through")
    return dbapi_connection


def temporary_table(purpose: str, table: sa.Table, columns: Sequence[str]) -> sa.Table:
    """A temporary table with the target's types for `columns` and no constraints.

    The name is unique so several loads can share one transaction.
    """
    return sa.Table(
        f"_edassets_{purpose}_{uuid.uuid4().hex[:12]}",
        sa.MetaData(),
        *(sa.Column(name, table.c[name].type) for name in columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )


def fill_stage(
    connection: sa.Connection, stage: sa.Table, arrow: pa.Table, key: list[str] | None, *, order: pa.Array | None = None
) -> None:
    """Load the rows into the stage, then index its key (when `key` is given) and analyze it.

    The index is built after filling, far cheaper than maintaining it row by row.
    Only anti-joins probing the stage row by row need it (see `index_stage`); the merge
    does not, so the main stage is indexed only when a snapshot has rows to deactivate.

    Args:
        connection: the caller's connection.
        stage: a `temporary_table` with the columns of `arrow`.
        arrow: the rows.
        key: index the stage on these columns afterwards (None: no index).
        order: SQLite only: row positions in the order to insert them (the stage's rowid order).
    """
    if connection.dialect.name == "postgresql":
        _copy_into_stage(connection, stage, arrow)
    else:
        _insert_into_stage(connection, stage, arrow, order)
    if key is not None:
        index_stage(connection, stage, key)
    if connection.dialect.name == "postgresql":
        # Autovacuum never analyzes temporary tables. Without statistics the planner takes
        # the stage for a few rows and runs the snapshot's anti-join as a nested loop of
        # sequential scans: 29k crosswalk rows took minutes; with them, a hash anti-join.
        with driver(connection).cursor() as cursor:
            cursor.execute(sql.SQL("ANALYZE {stage}").format(stage=sql.Identifier(stage.name)))


def index_stage(connection: sa.Connection, stage: sa.Table, key: list[str]) -> None:
    """A unique index on the stage's key.

    It keeps an anti-join against the stage cheap even when the planner, lacking
    statistics for the target rows just written in this transaction, expects a handful
    of them and picks a nested loop (without it, 200k rows took minutes).
    """
    sa.Index(f"{stage.name}_key", *(stage.c[c] for c in key), unique=True).create(connection)


def _copy_into_stage(connection: sa.Connection, stage: sa.Table, arrow: pa.Table) -> None:
    """Stream the rows into the stage with PostgreSQL ``COPY`` in CSV form.

    Arrow writes NULL as an unquoted empty field and every string quoted, so an
    empty string arrives as ``""``; PostgreSQL's CSV mode reads exactly that
    distinction with ``NULL ''``.
    """
    statement = sql.SQL("COPY {stage} ({columns}) FROM STDIN (FORMAT csv, NULL '')").format(
        stage=sql.Identifier(stage.name),
        columns=sql.SQL(", ").join(sql.Identifier(c) for c in arrow.column_names),
    )
    options = pa_csv.WriteOptions(include_header=False)
    with driver(connection).cursor() as cursor, cursor.copy(statement) as copy:
        for batch in _with_utc_text(arrow).to_batches(max_chunksize=_CHUNK_ROWS):
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(batch, sink, options)
            copy.write(memoryview(sink.getvalue()))


def _with_utc_text(arrow: pa.Table) -> pa.Table:
    """Replace timezone-aware timestamps by their UTC text with a ``Z`` suffix.

    Arrow's CSV writer formats zoned timestamps through the time zone database, about
    twenty times slower than plain ones; the values are already UTC, so formatting
    the naive wall time and appending ``Z`` gives PostgreSQL the same instants.
    Nulls stay null.
    """
    for index, field in enumerate(arrow.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            wall_time = arrow.column(index).cast(pa.timestamp(field.type.unit)).cast(pa.string())
            arrow = arrow.set_column(index, field.name, pa_compute.binary_join_element_wise(wall_time, "Z", ""))
    return arrow


def _insert_into_stage(connection: sa.Connection, stage: sa.Table, arrow: pa.Table, order: pa.Array | None) -> None:
    """Fill the stage with the driver's ``executemany`` in chunks (SQLite, no bulk path).

    The rows reach the driver as plain tuples, already in the form SQLAlchemy's own
    bind processing would give them, so the stage (and through it the target) holds the
    very same text and numbers as a row written through SQLAlchemy. Going through
    SQLAlchemy's executemany instead cost about 50 µs a row in per-row parameter
    processing: 30 s of a 600,000-row crosswalk load.
    """
    statement = stage.insert().compile(dialect=connection.dialect, column_keys=arrow.column_names)
    columns = arrow.select(list(statement.positiontup or arrow.column_names))
    cursor = driver(connection).cursor()
    try:
        for start in range(0, columns.num_rows, _CHUNK_ROWS):
            # Taken chunk by chunk, so the ordered rows never exist as a second whole copy.
            chunk = (columns.slice(start, _CHUNK_ROWS) if order is None
                     else columns.take(order.slice(start, _CHUNK_ROWS))).combine_chunks()
            values = [_driver_values(chunk.column(i), stage.c[name].type, connection.dialect)
                      for i, name in enumerate(chunk.column_names)]
            cursor.executemany(statement.string, zip(*values, strict=True))
    finally:
        cursor.close()


def _driver_values(values: pa.ChunkedArray, column_type: sa.types.TypeEngine, dialect: sa.Dialect) -> list[object]:
    """One column as the DBAPI parameters SQLAlchemy would bind for `column_type`.

    Dates, timestamps and booleans, which SQLite has no type for, are converted by
    Arrow (``YYYY-MM-DD``, ``YYYY-MM-DD HH:MM:SS.ffffff`` of the UTC wall time, 0/1),
    the first value checked against SQLAlchemy's own processor; anything else with a
    bind processor goes through that processor value by value.
    """
    processor = column_type._cached_bind_processor(dialect)  # noqa: SLF001 - SQLAlchemy's per-dialect cache
    if processor is None:
        return values.to_pylist()
    if dialect.name == "sqlite" and values.null_count < len(values):
        converted: pa.ChunkedArray | None = None
        if pa.types.is_timestamp(values.type) and isinstance(column_type, sa.DateTime):
            converted = values.cast(pa.timestamp("us")).cast(pa.string())
        elif pa.types.is_date32(values.type) and isinstance(column_type, sa.Date):
            converted = values.cast(pa.string())
        elif pa.types.is_boolean(values.type) and isinstance(column_type, sa.Boolean):
            converted = values.cast(pa.int64())
        if converted is not None:
            sample = values.drop_null()[0].as_py()
            fast = converted.to_pylist()
            if fast[values.is_valid().index(True).as_py()] == processor(sample):
                return fast
    return [None if value is None else processor(value) for value in values.to_pylist()]
