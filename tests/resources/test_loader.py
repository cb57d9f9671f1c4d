"""Tests for the bulk upsert loader on a real PostgreSQL server and on SQLite."""

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from edassets.resources import indexes, loader
from edassets.resources.loader import LoadStats, SnapshotScope, upsert_frame

KEY = ("district_id", "person_id")
LINEAGE = ("lineage_archive_key", "lineage_record_index", "lineage_run_id", "lineage_loaded_at")
ONEROSTER = {"district_id": "d1", "source_platform": "oneroster_csv"}

T0 = datetime(2024, 9, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 9, 2, 12, 0, tzinfo=UTC)
T2 = datetime(2024, 9, 3, 12, 0, tzinfo=UTC)
T3 = datetime(2024, 9, 4, 12, 0, tzinfo=UTC)

# The dtypes the platform's frames carry (see edassets.schema.model.Kind), plus the
# pandas 3 default "str" for one column.
FRAME_DTYPES: dict[str, object] = {
    "district_id": pd.StringDtype("pyarrow"),
    "person_id": pd.StringDtype("pyarrow"),
    "given_name": "str",
    "grade_level": pd.Int64Dtype(),
    "gpa": pd.Float64Dtype(),
    "birth_date": "datetime64[ns]",
    "enrolled_at": "datetime64[ns, UTC]",
    "is_staff": pd.BooleanDtype(),
    "source_platform": pd.StringDtype("pyarrow"),
    "active": pd.BooleanDtype(),
    "lineage_archive_key": pd.StringDtype("pyarrow"),
    "lineage_record_index": pd.Int64Dtype(),
    "lineage_run_id": pd.StringDtype("pyarrow"),
    "lineage_loaded_at": "datetime64[ns, UTC]",
}


def people_table(name: str) -> sa.Table:
    """A small soft-delete table shaped like the warehouse's generated tables."""
    return sa.Table(
        name,
        sa.MetaData(),
        sa.Column("district_id", sa.Text, nullable=False),
        sa.Column("person_id", sa.Text, nullable=False),
        sa.Column("given_name", sa.Text),
        sa.Column("grade_level", sa.BigInteger),
        sa.Column("gpa", sa.Double),
        sa.Column("birth_date", sa.Date),
        sa.Column("enrolled_at", sa.DateTime(timezone=True)),
        sa.Column("is_staff", sa.Boolean),
        sa.Column("source_platform", sa.Text, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("deactivated_at", sa.DateTime(timezone=True)),
        sa.Column("lineage_archive_key", sa.Text, nullable=False),
        sa.Column("lineage_record_index", sa.BigInteger, nullable=False),
        sa.Column("lineage_run_id", sa.Text, nullable=False),
        sa.Column("lineage_loaded_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint(*KEY),
        sa.CheckConstraint("grade_level BETWEEN -1 AND 13", name=f"{name}_grade_level"),
    )


def person(person_id: str, **overrides: object) -> dict[str, object]:
    """One frame record with plausible values; `overrides` replace any of them."""
    record: dict[str, object] = {
        "district_id": "d1",
        "person_id": person_id,
        "given_name": f"Name {person_id}",
        "grade_level": 5,
        "gpa": 3.1,
        "birth_date": "2014-03-01",
        "enrolled_at": "2024-08-15T13:30:00.123456Z",
        "is_staff": False,
        "source_platform": "oneroster_csv",
        "active": True,
    }
    return record | overrides


def people_frame(records: list[dict[str, object]], *, run_id: str = "run-1", loaded_at: datetime = T0) -> pd.DataFrame:
    """A typed frame of `records`, with lineage naming the run that produced it."""
    rows = [
        record
        | {
            "lineage_archive_key": f"raw/{run_id}/users.csv",
            "lineage_record_index": index,
            "lineage_run_id": run_id,
            "lineage_loaded_at": loaded_at.isoformat(),
        }
        for index, record in enumerate(records)
    ]
    columns: dict[str, pd.Series] = {}
    for name, dtype in FRAME_DTYPES.items():
        values = [row[name] for row in rows]
        if dtype == "datetime64[ns]":
            columns[name] = pd.Series(pd.to_datetime(values, format="ISO8601")).astype(dtype)
        elif dtype == "datetime64[ns, UTC]":
            columns[name] = pd.Series(pd.to_datetime(values, format="ISO8601", utc=True)).astype(dtype)
        else:
            columns[name] = pd.Series(values, dtype=dtype)
    return pd.DataFrame(columns)


def load(
    engine: sa.Engine, table: sa.Table, frame: pd.DataFrame, *, now: datetime, snapshot: SnapshotScope | None = None
) -> LoadStats:
    """One load in its own transaction, the way assets call the loader."""
    with engine.begin() as connection:
        return upsert_frame(connection, table, frame, key=KEY, lineage=LINEAGE, snapshot=snapshot, now=now)


def dump(engine: sa.Engine, table: sa.Table) -> list[tuple[object, ...]]:
    """Every row in key order; on PostgreSQL with its ``xmin`` to expose any rewrite."""
    columns: list[sa.ColumnElement[object]] = list(table.c)
    if engine.dialect.name == "postgresql":
        columns.append(sa.cast(sa.column("xmin"), sa.Text).label("xmin"))
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(sa.select(*columns).order_by(*(table.c[k] for k in KEY)))]


def rows_by_id(engine: sa.Engine, table: sa.Table) -> dict[tuple[str, str], dict[str, object]]:
    """Rows as dicts keyed by (district_id, person_id), timestamps as aware UTC."""
    with engine.connect() as connection:
        rows = connection.execute(sa.select(table)).mappings().all()
    return {(row["district_id"], row["person_id"]): {k: _utc(v) for k, v in row.items()} for row in rows}


def _utc(value: object) -> object:
    """SQLite hands timestamptz values back naive (they are stored in UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    """A file-backed SQLite database, the embedded default warehouse."""
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'warehouse.db'}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres), "sqlite"])
def engine(request: pytest.FixtureRequest) -> sa.Engine:
    """Each behaviour test runs on PostgreSQL and on SQLite."""
    return request.getfixturevalue("pg_engine" if request.param == "postgresql" else "sqlite_engine")


def _created(engine: sa.Engine) -> Iterator[sa.Table]:
    """A fresh, uniquely named people table on `engine`, dropped afterwards."""
    table = people_table(f"people_{uuid.uuid4().hex[:10]}")
    table.metadata.create_all(engine)
    try:
        yield table
    finally:
        table.metadata.drop_all(engine)


@pytest.fixture
def people(engine: sa.Engine) -> Iterator[sa.Table]:
    """A fresh people table on the test's backend."""
    yield from _created(engine)


@pytest.fixture
def pg_people(pg_engine: sa.Engine) -> Iterator[sa.Table]:
    """A fresh people table on PostgreSQL."""
    yield from _created(pg_engine)


@pytest.fixture
def sqlite_people(sqlite_engine: sa.Engine) -> Iterator[sa.Table]:
    """A fresh people table on SQLite."""
    yield from _created(sqlite_engine)


def test_identical_reload_changes_nothing(engine: sa.Engine, people: sa.Table) -> None:
    records = [person(f"p{i}") for i in range(5)]
    first = load(engine, people, people_frame(records), now=T0, snapshot=SnapshotScope(ONEROSTER))
    before = dump(engine, people)

    again = load(
        engine,
        people,
        people_frame(records, run_id="run-2", loaded_at=T1),
        now=T1,
        snapshot=SnapshotScope(ONEROSTER),
    )

    assert first == LoadStats(received=5, inserted=5, updated=0, unchanged=0, deactivated=0)
    assert again == LoadStats(received=5, inserted=0, updated=0, unchanged=5, deactivated=0)
    # Same values, same lineage (run-1) and, on PostgreSQL, the same row versions.
    assert dump(engine, people) == before
    if engine.dialect.name == "postgresql":
        # Not even locked: ON CONFLICT would lock (set xmax on) rows it then skips.
        with engine.connect() as connection:
            locked = sa.select(sa.func.count()).where(sa.cast(sa.column("xmax"), sa.Text) != "0")
            assert connection.execute(locked.select_from(people)).scalar_one() == 0


def test_changed_value_updates_only_that_row_and_refreshes_its_lineage(engine: sa.Engine, people: sa.Table) -> None:
    records = [person(f"p{i}") for i in range(5)]
    load(engine, people, people_frame(records), now=T0)
    before = {row[1]: row for row in dump(engine, people)}

    records[2] = person("p2", gpa=3.9)
    stats = load(engine, people, people_frame(records, run_id="run-2", loaded_at=T1), now=T1)

    assert stats == LoadStats(received=5, inserted=0, updated=1, unchanged=4, deactivated=0)
    after = {row[1]: row for row in dump(engine, people)}
    assert {pid for pid in after if after[pid] != before[pid]} == {"p2"}
    changed = rows_by_id(engine, people)[("d1", "p2")]
    assert changed["gpa"] == 3.9
    assert changed["lineage_run_id"] == "run-2"
    assert changed["lineage_archive_key"] == "raw/run-2/users.csv"
    assert changed["lineage_loaded_at"] == T1


def test_duplicate_keys_keep_the_last_occurrence(engine: sa.Engine, people: sa.Table) -> None:
    frame = people_frame([person("p1", given_name="First"), person("p2"), person("p1", given_name="Last")])

    stats = load(engine, people, frame, now=T0)

    assert stats == LoadStats(received=3, inserted=2, updated=0, unchanged=0, deactivated=0)
    row = rows_by_id(engine, people)[("d1", "p1")]
    assert row["given_name"] == "Last"
    assert row["lineage_record_index"] == 2


def test_na_and_empty_string_round_trip_with_their_types(engine: sa.Engine, people: sa.Table) -> None:
    awkward = 'quote " comma , newline \n backslash \\N NULL é'
    nulls = dict.fromkeys(["given_name", "grade_level", "gpa", "birth_date", "enrolled_at", "is_staff"])
    frame = people_frame(
        [person("empty", given_name=""), person("null", **nulls), person("awkward", given_name=awkward)]
    )

    load(engine, people, frame, now=T0)
    rows = rows_by_id(engine, people)

    assert rows[("d1", "empty")]["given_name"] == ""
    assert rows[("d1", "awkward")]["given_name"] == awkward
    assert all(rows[("d1", "null")][name] is None for name in nulls)
    typed = rows[("d1", "empty")]
    assert typed["grade_level"] == 5
    assert typed["gpa"] == 3.1
    assert typed["is_staff"] is False
    assert type(typed["birth_date"]) is date
    assert typed["birth_date"] == date(2014, 3, 1)
    assert typed["enrolled_at"] == datetime(2024, 8, 15, 13, 30, 0, 123456, tzinfo=UTC)
    # NA and "" must also compare stably, or every re-load would rewrite these rows.
    assert load(engine, people, frame, now=T1).unchanged == 3


def test_snapshot_deactivates_only_within_its_scope(engine: sa.Engine, people: sa.Table) -> None:
    scoped = [person("p1"), person("p2"), person("p3")]
    load(engine, people, people_frame(scoped), now=T0, snapshot=SnapshotScope(ONEROSTER))
    load(engine, people, people_frame([person("c1", source_platform="clever")]), now=T0)
    load(engine, people, people_frame([person("p3", district_id="d2")]), now=T0)

    gone = load(engine, people, people_frame(scoped[:2], run_id="run-2"), now=T1, snapshot=SnapshotScope(ONEROSTER))
    assert gone == LoadStats(received=2, inserted=0, updated=0, unchanged=2, deactivated=1)
    rows = rows_by_id(engine, people)
    assert (rows[("d1", "p3")]["active"], rows[("d1", "p3")]["deactivated_at"]) == (False, T1)
    assert rows[("d1", "c1")]["active"] and rows[("d2", "p3")]["active"]
    assert rows[("d1", "p1")]["active"] and rows[("d1", "p2")]["active"]

    still_gone = load(
        engine, people, people_frame(scoped[:2], run_id="run-3"), now=T2, snapshot=SnapshotScope(ONEROSTER)
    )
    assert still_gone.deactivated == 0
    assert rows_by_id(engine, people)[("d1", "p3")]["deactivated_at"] == T1

    back = load(engine, people, people_frame(scoped, run_id="run-4"), now=T3, snapshot=SnapshotScope(ONEROSTER))
    assert back == LoadStats(received=3, inserted=0, updated=1, unchanged=2, deactivated=0)
    returned = rows_by_id(engine, people)[("d1", "p3")]
    assert (returned["active"], returned["deactivated_at"], returned["lineage_run_id"]) == (True, None, "run-4")


def test_inactive_rows_in_a_delta_are_deactivated_once(engine: sa.Engine, people: sa.Table) -> None:
    load(engine, people, people_frame([person("p1"), person("p2")]), now=T0)
    # A OneRoster delta marking p2 `tobedeleted`, plus a record that arrives already deleted.
    delta = people_frame([person("p2", active=False), person("p9", active=False)], run_id="run-2")

    first = load(engine, people, delta, now=T1)
    again = load(engine, people, delta, now=T2)
    # A later change to a deleted record rewrites the row but not its deactivation time.
    renamed = people_frame([person("p2", active=False, given_name="Renamed")], run_id="run-3")
    edited = load(engine, people, renamed, now=T3)

    assert first == LoadStats(received=2, inserted=1, updated=1, unchanged=0, deactivated=0)
    assert again == LoadStats(received=2, inserted=0, updated=0, unchanged=2, deactivated=0)
    assert edited == LoadStats(received=1, inserted=0, updated=1, unchanged=0, deactivated=0)
    rows = rows_by_id(engine, people)
    for person_id in ("p2", "p9"):
        assert (rows[("d1", person_id)]["active"], rows[("d1", person_id)]["deactivated_at"]) == (False, T1)
    assert (rows[("d1", "p1")]["active"], rows[("d1", "p1")]["deactivated_at"]) == (True, None)


def test_constraint_violation_mid_load_writes_nothing(engine: sa.Engine, people: sa.Table) -> None:
    load(engine, people, people_frame([person("p1"), person("p2")]), now=T0)
    before = dump(engine, people)
    # p1 changes and p3 is new, but p2 breaks the CHECK constraint in the same statement.
    bad = people_frame([person("p1", gpa=2.0), person("p2", grade_level=99), person("p3")], run_id="run-2")

    with pytest.raises(sa.exc.IntegrityError):
        load(engine, people, bad, now=T1)

    assert dump(engine, people) == before


def test_failure_after_the_merge_writes_nothing(
    engine: sa.Engine, people: sa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(engine, people, people_frame([person("p1"), person("p2")]), now=T0)
    before = dump(engine, people)

    def fail(*args: object, **kwargs: object) -> int:
        raise RuntimeError("snapshot step failed")

    # The stage is filled and the merge has run by the time the snapshot step fails.
    monkeypatch.setattr(loader, "_deactivate_missing", fail)
    changed = people_frame([person("p1", gpa=2.0), person("p3")], run_id="run-2")
    with pytest.raises(RuntimeError, match="snapshot step failed"):
        load(engine, people, changed, now=T1, snapshot=SnapshotScope(ONEROSTER))

    assert dump(engine, people) == before


def test_empty_frame_changes_nothing_and_an_empty_snapshot_empties_its_scope(
    engine: sa.Engine, people: sa.Table
) -> None:
    load(engine, people, people_frame([person("p1"), person("c1", source_platform="clever")]), now=T0)
    before = dump(engine, people)
    empty = people_frame([person("p1")]).iloc[:0]

    nothing = load(engine, people, empty, now=T1)
    assert nothing == LoadStats(received=0, inserted=0, updated=0, unchanged=0, deactivated=0)
    assert dump(engine, people) == before

    emptied = load(engine, people, empty, now=T1, snapshot=SnapshotScope(ONEROSTER))
    assert emptied.deactivated == 1
    rows = rows_by_id(engine, people)
    assert (rows[("d1", "p1")]["active"], rows[("d1", "c1")]["active"]) == (False, True)


@pytest.mark.postgres
def test_sqlite_and_postgresql_end_in_identical_rows(
    pg_engine: sa.Engine, pg_people: sa.Table, sqlite_engine: sa.Engine, sqlite_people: sa.Table
) -> None:
    oneroster_d1 = SnapshotScope(ONEROSTER)
    oneroster_d2 = SnapshotScope({"district_id": "d2", "source_platform": "oneroster_csv"})
    # Each step is one transaction: (frame, snapshot) loads and the load time.
    steps: list[tuple[list[tuple[pd.DataFrame, SnapshotScope | None]], datetime]] = [
        ([(people_frame([person(f"p{i}") for i in range(6)] + [person("x", given_name="")]), None)], T0),
        (
            [
                (people_frame([person("p1", gpa=None), person("p2"), person("p2", is_staff=True)]), oneroster_d1),
                (people_frame([person("q1", district_id="d2", birth_date=None)]), oneroster_d2),
            ],
            T1,
        ),
        ([(people_frame([person("p3", active=False), person("p4", given_name=None)], run_id="run-3"), None)], T2),
        ([(people_frame([person(f"p{i}") for i in range(4)], run_id="run-4"), oneroster_d1)], T3),
    ]

    def run(engine: sa.Engine, table: sa.Table) -> tuple[list[LoadStats], dict[tuple[str, str], dict[str, object]]]:
        stats = []
        for loads, now in steps:
            # Several loads may share one transaction.
            with engine.begin() as connection:
                for frame, snapshot in loads:
                    stats.append(
                        upsert_frame(connection, table, frame, key=KEY, lineage=LINEAGE, snapshot=snapshot, now=now)
                    )
        return stats, rows_by_id(engine, table)

    on_pg = run(pg_engine, pg_people)
    on_sqlite = run(sqlite_engine, sqlite_people)

    assert on_pg == on_sqlite
    assert on_pg[1][("d1", "p5")]["deactivated_at"] == T1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.assign(nickname="x"), "not columns of"),
        (lambda f: f.assign(person_id=pd.Series([None, "p2"], dtype=pd.StringDtype("pyarrow"))), "contain nulls"),
        (lambda f: f.assign(enrolled_at=f["enrolled_at"].dt.tz_localize(None)), "naive timestamps"),
        (lambda f: f.drop(columns=["lineage_run_id"]), "not in the frame"),
    ],
    ids=["unknown-column", "null-key", "naive-timestamptz", "missing-lineage"],
)
def test_rejects_frames_that_do_not_fit_the_table(
    sqlite_engine: sa.Engine,
    sqlite_people: sa.Table,
    change: Callable[[pd.DataFrame], pd.DataFrame],
    message: str,
) -> None:
    frame = change(people_frame([person("p1"), person("p2")]))

    with pytest.raises(ValueError, match=message):
        load(sqlite_engine, sqlite_people, frame, now=T0)


@pytest.mark.parametrize(
    ("snapshot", "now", "message"),
    [
        (SnapshotScope({"district_id": "d2"}), T0, "outside the snapshot scope"),
        (SnapshotScope({"no_such_column": 1}), T0, "not columns of"),
        (None, datetime(2024, 9, 1), "timezone-aware"),
    ],
    ids=["frame-outside-scope", "unknown-scope-column", "naive-now"],
)
def test_rejects_unsafe_snapshots_and_naive_now(
    sqlite_engine: sa.Engine, sqlite_people: sa.Table, snapshot: SnapshotScope | None, now: datetime, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load(sqlite_engine, sqlite_people, people_frame([person("p1")]), now=now, snapshot=snapshot)


def test_a_load_outnumbering_its_table_rebuilds_the_secondary_index_and_matches_a_maintained_one(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 3)
    tables = []
    for name in (f"people_{uuid.uuid4().hex[:10]}", f"people_{uuid.uuid4().hex[:10]}"):
        table = people_table(name)
        sa.Index(f"ix_{name}_given_name", table.c.district_id, table.c.given_name)
        table.create(engine)
        tables.append(table)
    rebuilt, maintained = tables
    try:
        first = people_frame([person(f"p{i}") for i in range(4)])
        second = people_frame([person("p1", gpa=2.0), person("p9")], run_id="run-2")
        assert load(engine, rebuilt, first, now=T0).inserted == 4
        # Two rows into a table of four: the index is maintained as it goes.
        assert load(engine, rebuilt, second, now=T1) == LoadStats(2, 1, 1, 0, 0)
        monkeypatch.setattr(indexes, "DEFERRED_INDEX_MIN_ROWS", 1_000)
        for frame, now in ((first, T0), (second, T1)):
            load(engine, maintained, frame, now=now)

        with engine.connect() as connection:
            assert [ix["name"] for ix in sa.inspect(connection).get_indexes(rebuilt.name)] == [
                f"ix_{rebuilt.name}_given_name"]
        assert rows_by_id(engine, rebuilt) == rows_by_id(engine, maintained)
    finally:
        for table in tables:
            table.drop(engine)
