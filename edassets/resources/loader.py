"""Bulk, idempotent, transactional upsert of pandas frames into warehouse tables.

One call stages the frame in a temporary table, merges it into the target with a
single ``INSERT ... ON CONFLICT DO UPDATE`` and, for snapshot loads, soft-deletes
the rows of the snapshot's scope that the frame no longer contains. Everything
runs on the caller's connection, so the caller's transaction decides whether any
of it becomes visible.

PostgreSQL (psycopg 3) stages with ``COPY`` fed by Arrow's CSV writer; SQLite (the
embedded default) stages with ``executemany``. Both then run the very same merge
and snapshot statements, so they leave identical rows behind.
"""

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.dialects import postgresql, sqlite

logger = logging.getLogger(__name__)

ACTIVE = "active"
DEACTIVATED_AT = "deactivated_at"

# Rows per COPY / executemany chunk: bounds the memory of the staging copy.
_CHUNK_ROWS = 50_000

_DIALECT_INSERTS: dict[str, Callable[[sa.Table], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


@dataclass(frozen=True)
class LoadStats:
    """What one `upsert_frame` call did.

    Attributes:
        received: rows handed in, before duplicate keys were collapsed.
        inserted: rows new to the table.
        updated: existing rows whose business columns changed.
        unchanged: existing rows left untouched because nothing compared changed.
        deactivated: rows deactivated because a snapshot no longer contained them.
    """

    received: int
    inserted: int
    updated: int
    unchanged: int
    deactivated: int


@dataclass(frozen=True)
class SnapshotScope:
    """Rows of the target matching these column values and missing from the frame are deactivated.

    Attributes:
        match: column name to value, e.g. ``{"district_id": "d1", "source_platform": "<platform>"}``.
        retained: natural keys of records the snapshot did contain but that are not in the
            frame (quarantined for bad data). They are not gone from the source, so their
            warehouse rows must not be deactivated; None when there are none.
    """

    match: Mapping[str, object]
    retained: pd.DataFrame | None = None


@dataclass(frozen=True)
class _Plan:
    """The validated column roles of one load."""

    columns: list[str]  # frame columns that are written, in frame order
    key: list[str]
    business: list[str]  # compared to decide whether an existing row changed
    lineage: list[str]  # written with every insert/update, never compared
    soft_delete: bool  # the loader maintains deactivated_at from active


def upsert_frame(
    connection: sa.Connection,
    table: sa.Table,
    frame: pd.DataFrame,
    *,
    key: Sequence[str],
    lineage: Sequence[str] = (),
    snapshot: SnapshotScope | None = None,
    now: datetime,
) -> LoadStats:
    """Insert new rows, update changed rows and optionally deactivate rows missing from a snapshot.

    Re-loading an identical frame changes nothing at all: existing rows are only
    written when a business column differs (``IS DISTINCT FROM``), so unchanged
    rows keep their lineage columns and row versions and are not even locked.

    When the table has ``active`` and ``deactivated_at`` and the frame carries
    ``active``, the loader maintains ``deactivated_at``: NULL for active rows, else
    the first time the row was seen inactive. A frame's own ``deactivated_at`` is
    always ignored. Rows are never deleted.

    Args:
        connection: connection inside the caller's transaction (``engine.begin()``).
            Nothing is committed here; if this raises, rolling back leaves the table
            as it was.
        table: target table; a primary key or unique constraint must cover ``key``.
        frame: rows to load; its columns must be columns of ``table``. NA loads as
            NULL, an empty string stays an empty string. DATE columns take naive
            midnight timestamps or dates; timezone-aware columns take
            timezone-aware timestamps.
        key: natural key columns. Duplicate keys in the frame collapse to the last
            occurrence.
        lineage: columns written with every insert and update but never compared,
            e.g. archive key, record index, run id, load time.
        snapshot: when given, the frame is the complete set of rows of this scope:
            active rows of the scope whose key is absent from the frame are
            deactivated. Needs the soft-delete columns in the table and ``active``
            in the frame, and every frame row must lie inside the scope.
        now: timezone-aware time of the load, stamped into ``deactivated_at``.

    Returns:
        Counts of received, inserted, updated, unchanged and deactivated rows.

    Raises:
        ValueError: the frame, key, lineage, snapshot or ``now`` do not fit the table.
        NotImplementedError: the connection's dialect or driver is not supported.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    dialect = connection.dialect
    if dialect.name not in _DIALECT_INSERTS:
        raise NotImplementedError(f"upsert_frame supports PostgreSQL and SQLite, not {dialect.name}")
    if dialect.name == "postgresql" and dialect.driver != "psycopg":
        raise NotImplementedError(f"PostgreSQL loads need the psycopg (3) driver, not {dialect.driver}")

    plan = _plan(table, frame, key, lineage, snapshot)
    rows = frame[plan.columns].drop_duplicates(subset=plan.key, keep="last")
    arrow = _to_arrow(rows, table)

    stage = _temporary_table("stage", table, plan.columns)
    stage.create(connection)
    _fill_stage(connection, stage, arrow, None)
    if dialect.name == "postgresql":
        inserted, touched = _merge_counting_xmax(connection, table, stage, plan, now)
    else:
        inserted, touched = _merge_counting_new_keys(connection, table, stage, plan, now)
    deactivated = _deactivate_missing(connection, table, stage, plan, snapshot, now) if snapshot else 0
    # Dropping now rather than at commit keeps the staged copy from piling up when
    # one transaction loads many frames.
    stage.drop(connection)

    stats = LoadStats(
        received=len(frame),
        inserted=inserted,
        updated=touched - inserted,
        unchanged=len(rows) - touched,
        deactivated=deactivated,
    )
    # Counts only: row values are student PII and never reach the logs.
    logger.info(
        "loaded %s: received=%d inserted=%d updated=%d unchanged=%d deactivated=%d",
        table.fullname,
        stats.received,
        stats.inserted,
        stats.updated,
        stats.unchanged,
        stats.deactivated,
    )
    return stats


def _plan(
    table: sa.Table,
    frame: pd.DataFrame,
    key: Sequence[str],
    lineage: Sequence[str],
    snapshot: SnapshotScope | None,
) -> _Plan:
    """Check the arguments against the table and split the frame's columns into roles."""
    frame_columns = [str(c) for c in frame.columns]
    if len(set(frame_columns)) != len(frame_columns):
        raise ValueError("frame has duplicate column names")
    unknown = [c for c in frame_columns if c not in table.c]
    if unknown:
        raise ValueError(f"frame columns {unknown} are not columns of {table.fullname}")
    if not key:
        raise ValueError("key must name at least one column")
    missing = [c for c in [*key, *lineage] if c not in frame_columns]
    if missing:
        raise ValueError(f"key/lineage columns {missing} are not in the frame")
    if set(key) & set(lineage):
        raise ValueError("a column cannot be both key and lineage")
    # A NULL key never conflicts, so such a row would be inserted again on every load.
    null_keys = [c for c in key if frame[c].isna().any()]
    if null_keys:
        raise ValueError(f"key columns {null_keys} contain nulls")

    soft_delete = ACTIVE in table.c and DEACTIVATED_AT in table.c and ACTIVE in frame_columns
    # deactivated_at records when the warehouse saw a row go, so only the loader writes it.
    columns = [c for c in frame_columns if c != DEACTIVATED_AT]
    business = [c for c in columns if c not in key and c not in lineage]
    if snapshot is not None:
        _check_snapshot(table, frame, snapshot, soft_delete)
    return _Plan(columns=columns, key=list(key), business=business, lineage=list(lineage), soft_delete=soft_delete)


def _check_snapshot(table: sa.Table, frame: pd.DataFrame, snapshot: SnapshotScope, soft_delete: bool) -> None:
    """Refuse snapshots that could deactivate rows they were never meant to cover."""
    if not soft_delete:
        raise ValueError(
            f"snapshot loads need {ACTIVE} and {DEACTIVATED_AT} in {table.fullname} and {ACTIVE} in the frame"
        )
    if not snapshot.match:
        raise ValueError("snapshot scope must match at least one column")
    unknown = [c for c in snapshot.match if c not in table.c]
    if unknown:
        raise ValueError(f"snapshot columns {unknown} are not columns of {table.fullname}")
    # A frame row outside the scope means the frame is not the snapshot of that scope,
    # and trusting it would deactivate the scope's real rows.
    for column, value in snapshot.match.items():
        if column not in frame.columns:
            continue
        values = frame[column]
        inside = values.isna() if value is None else values.eq(value).fillna(False)
        if not inside.all():
            raise ValueError(f"frame has rows whose {column} lies outside the snapshot scope")


def _to_arrow(frame: pd.DataFrame, table: sa.Table) -> pa.Table:
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


def _driver(connection: sa.Connection) -> Any:
    """The DBAPI connection under `connection` (psycopg's for COPY, sqlite3's for executemany)."""
    driver = connection.connection.driver_connection
    if driver is None:
        raise RuntimeError("the connection has been invalidated; no DBAPI connection to load through")
    return driver


def _temporary_table(purpose: str, table: sa.Table, columns: Sequence[str]) -> sa.Table:
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


def _fill_stage(connection: sa.Connection, stage: sa.Table, arrow: pa.Table, key: list[str] | None) -> None:
    """Load the rows into the stage, then index its key (when `key` is given) and analyze it.

    The index is built after filling, far cheaper than maintaining it row by row.
    Only anti-joins probing the stage row by row need it (see `_index_stage`); the merge
    does not, so the main stage is indexed only when a snapshot has rows to deactivate.
    """
    if connection.dialect.name == "postgresql":
        _copy_into_stage(connection, stage, arrow)
    else:
        _insert_into_stage(connection, stage, arrow)
    if key is not None:
        _index_stage(connection, stage, key)
    if connection.dialect.name == "postgresql":
        # Autovacuum never analyzes temporary tables. Without statistics the planner takes
        # the stage for a few rows and runs the snapshot's anti-join as a nested loop of
        # sequential scans: 29k crosswalk rows took minutes; with them, a hash anti-join.
        with _driver(connection).cursor() as cursor:
            cursor.execute(sql.SQL("ANALYZE {stage}").format(stage=sql.Identifier(stage.name)))


def _index_stage(connection: sa.Connection, stage: sa.Table, key: list[str]) -> None:
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
    driver_connection = _driver(connection)
    with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
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


def _insert_into_stage(connection: sa.Connection, stage: sa.Table, arrow: pa.Table) -> None:
    """Fill the stage with the driver's ``executemany`` in chunks (SQLite, no bulk path).

    The rows reach the driver as plain tuples, already in the form SQLAlchemy's own
    bind processing would give them, so the stage (and through it the target) holds the
    very same text and numbers as a row written through SQLAlchemy. Going through
    SQLAlchemy's executemany instead cost about 50 µs a row in per-row parameter
    processing: 30 s of a 600,000-row crosswalk load.
    """
    statement = stage.insert().compile(dialect=connection.dialect, column_keys=arrow.column_names)
    order = list(statement.positiontup or arrow.column_names)
    cursor = _driver(connection).cursor()
    try:
        for batch in arrow.select(order).to_batches(max_chunksize=_CHUNK_ROWS):
            if batch.num_rows:
                values = [_driver_values(batch.column(i), stage.c[name].type, connection.dialect)
                          for i, name in enumerate(order)]
                cursor.executemany(statement.string, zip(*values, strict=True))
    finally:
        cursor.close()


def _driver_values(values: pa.Array, column_type: sa.types.TypeEngine, dialect: sa.Dialect) -> list[object]:
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
        converted: pa.Array | None = None
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


def _merge(table: sa.Table, stage: sa.Table, plan: _Plan, now: datetime, dialect_name: str) -> sa.Insert:
    """``INSERT ... SELECT`` the staged rows not identical to their target row, ``ON CONFLICT (key) DO UPDATE``.

    The update stays guarded by ``IS DISTINCT FROM`` as well: a row committed by a
    concurrent load after this statement's snapshot reaches ON CONFLICT unfiltered.
    """
    now_value = sa.literal(now, type_=table.c[DEACTIVATED_AT].type) if plan.soft_delete else None
    columns = list(plan.columns)
    selected: list[sa.ColumnElement[object]] = [stage.c[c] for c in plan.columns]
    if plan.soft_delete:
        columns.append(DEACTIVATED_AT)
        selected.append(sa.case((stage.c[ACTIVE], sa.null()), else_=now_value))
    # Skipping staged rows identical to their target row spares the table even the row
    # locks ON CONFLICT takes on rows it then leaves alone. (The WHERE clause also lets
    # SQLite tell the upsert's ON CONFLICT from a join's ON.)
    identical = sa.exists().where(
        *(table.c[c] == stage.c[c] for c in plan.key),
        *(table.c[c].is_not_distinct_from(stage.c[c]) for c in plan.business),
    )
    source = sa.select(*selected).where(~identical).order_by(*(stage.c[c] for c in plan.key))
    statement = _DIALECT_INSERTS[dialect_name](table).from_select(columns, source)

    if not plan.business:
        return statement.on_conflict_do_nothing(index_elements=plan.key)
    excluded = statement.excluded
    assignments: dict[str, sa.ColumnElement[object]] = {c: excluded[c] for c in plan.business + plan.lineage}
    if plan.soft_delete:
        # COALESCE keeps the first deactivation time, so re-loading an inactive row never moves it.
        assignments[DEACTIVATED_AT] = sa.case(
            (excluded[ACTIVE], sa.null()),
            else_=sa.func.coalesce(table.c[DEACTIVATED_AT], now_value),
        )
    changed = sa.or_(*(table.c[c].is_distinct_from(excluded[c]) for c in plan.business))
    return statement.on_conflict_do_update(index_elements=plan.key, set_=assignments, where=changed)


def _merge_counting_xmax(
    connection: sa.Connection, table: sa.Table, stage: sa.Table, plan: _Plan, now: datetime
) -> tuple[int, int]:
    """Run the merge on PostgreSQL and return (inserted, inserted + updated).

    A freshly inserted row version has ``xmax = 0``; one written by ``DO UPDATE``
    carries the updating transaction. Counting inside the statement avoids sending
    one result row per loaded row back to Python.
    """
    inserted_flag = (sa.column("xmax") == sa.literal_column("0")).label("inserted")
    merged = _merge(table, stage, plan, now, "postgresql").returning(inserted_flag).cte("merged")
    counts = sa.select(sa.func.count().filter(merged.c.inserted), sa.func.count()).select_from(merged)
    inserted, touched = connection.execute(counts).one()
    return inserted, touched


def _merge_counting_new_keys(
    connection: sa.Connection, table: sa.Table, stage: sa.Table, plan: _Plan, now: datetime
) -> tuple[int, int]:
    """Run the merge on a dialect without ``xmax`` and return (inserted, inserted + updated).

    New rows are the staged keys absent from the table before the merge; the merge's
    row count covers inserted and updated rows but not those its WHERE skipped.
    """
    new_keys = sa.select(sa.func.count()).select_from(stage).where(~_same_key_exists(table, stage, plan.key))
    inserted = connection.execute(new_keys).scalar_one()
    touched = connection.execute(_merge(table, stage, plan, now, connection.dialect.name)).rowcount
    return inserted, touched


def _deactivate_missing(
    connection: sa.Connection, table: sa.Table, stage: sa.Table, plan: _Plan, snapshot: SnapshotScope, now: datetime
) -> int:
    """Deactivate the scope's active rows whose key is neither staged nor retained; return how many."""
    in_scope = [table.c[column] == value for column, value in snapshot.match.items()]
    if all(column in stage.c for column in snapshot.match):
        # Every staged row lies inside the scope (`_check_snapshot`), and after the merge its
        # target row is exactly as active as the staged one. So the scope's active rows
        # outnumber the staged active ones by exactly the rows the snapshot no longer
        # contains: when the counts agree (a first load, a day nobody left) the anti-join,
        # and the stage index it needs, are skipped. On a 600k-row crosswalk that was 12 s.
        count = sa.func.count()
        active_in_scope = connection.scalar(sa.select(count).select_from(table).where(*in_scope, table.c[ACTIVE]))
        staged_active = connection.scalar(sa.select(count).select_from(stage).where(stage.c[ACTIVE]))
        if active_in_scope == staged_active:
            return 0
    _index_stage(connection, stage, plan.key)
    conditions = [*in_scope, table.c[ACTIVE], ~_same_key_exists(stage, table, plan.key)]
    retained = None
    if snapshot.retained is not None and len(snapshot.retained):
        keys = snapshot.retained[plan.key].dropna().drop_duplicates()
        retained = _temporary_table("retained", table, plan.key)
        retained.create(connection)
        _fill_stage(connection, retained, _to_arrow(keys, table), plan.key)
        conditions.append(~_same_key_exists(retained, table, plan.key))
    statement = sa.update(table).where(*conditions).values({ACTIVE: False, DEACTIVATED_AT: now})
    deactivated = connection.execute(statement).rowcount
    if retained is not None:
        retained.drop(connection)
    return deactivated


def _same_key_exists(rows: sa.Table, outer: sa.Table, key: list[str]) -> sa.Exists:
    """``EXISTS`` a row of `rows` with the same key as the current row of `outer`."""
    return sa.exists().where(*(rows.c[c] == outer.c[c] for c in key))


def deactivate_keys(
    connection: sa.Connection, table: sa.Table, tombstones: pd.DataFrame, *, key: Sequence[str], now: datetime
) -> int:
    """Deactivate the rows a delta says are gone, by key alone; return how many were active.

    A OneRoster delta deletion carries its key and little else: upserting it would blank
    the row's other columns or fail their NOT NULL. Only `active`, `deactivated_at` and
    the lineage columns the tombstone carries are written; a key the table does not
    have, or a row already inactive, is left alone.

    Args:
        connection: connection inside the caller's transaction.
        table: target table with the soft-delete columns.
        tombstones: key columns plus any lineage columns to stamp.
        key: natural key columns.
        now: timezone-aware load time, stamped into ``deactivated_at``.
    """
    columns = list(tombstones.columns)
    stage = _temporary_table("gone", table, columns)
    stage.create(connection)
    _fill_stage(connection, stage, _to_arrow(tombstones.drop_duplicates(subset=list(key), keep="last"), table), list(key))
    stamped = {c: stage.c[c] for c in columns if c not in key}
    statement = (
        sa.update(table)
        .where(*(table.c[c] == stage.c[c] for c in key), table.c[ACTIVE])
        .values({ACTIVE: False, DEACTIVATED_AT: now.astimezone(UTC), **stamped})
    )
    gone = connection.execute(statement).rowcount
    stage.drop(connection)
    return gone
