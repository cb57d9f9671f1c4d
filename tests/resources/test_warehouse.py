"""The warehouse resource: loads with snapshot safety, reference and crosswalk look-ups, on SQLite and PostgreSQL."""

from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from edassets.resources.warehouse import MassDeactivationError, WarehouseResource, upgrade_schema
from edassets.schema.entities import LEARNING_ACTIVITY, PERSON, PERSON_IDENTIFIER

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
_STRING = pd.StringDtype("pyarrow")


@pytest.fixture(params=["sqlite", "postgresql"])
def warehouse(request: pytest.FixtureRequest, tmp_path) -> WarehouseResource:
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    upgrade_schema(url)
    return WarehouseResource(url=url)


def _persons(district: str, ids: list[str]) -> pd.DataFrame:
    n = len(ids)
    frame = pd.DataFrame({f.name: pd.Series([pd.NA] * n, dtype=f.kind.pandas_dtype)
                          for f in PERSON.all_fields if f.name != "lineage_loaded_at"})
    frame["district_id"] = pd.Series([district] * n, dtype=_STRING)
    frame["person_id"] = pd.Series(ids, dtype=_STRING)
    frame["role"] = pd.Series(["student"] * n, dtype=_STRING)
    frame["source_platform"] = pd.Series(["oneroster_csv"] * n, dtype=_STRING)
    frame["active"] = pd.Series([True] * n, dtype="boolean")
    frame["lineage_archive_key"] = pd.Series(["raw/x/users.csv"] * n, dtype=_STRING)
    frame["lineage_record_index"] = pd.Series(range(n), dtype="Int64")
    frame["lineage_run_id"] = pd.Series(["run"] * n, dtype=_STRING)
    return frame


def _active(warehouse: WarehouseResource, district: str) -> dict[str, bool]:
    with warehouse.engine().connect() as connection:
        rows = connection.execute(sa.text("SELECT person_id, active FROM person WHERE district_id = :d"), {"d": district})
        return {person_id: bool(active) for person_id, active in rows}


def test_quarantined_records_of_a_snapshot_stay_active(warehouse: WarehouseResource) -> None:
    scope = {"district_id": "d-q", "source_platform": "oneroster_csv"}
    everyone = [f"p{i}" for i in range(20)]
    warehouse.load(PERSON, _persons("d-q", everyone), snapshot_of=scope, now=NOW)

    # p0 was quarantined (say, an unknown grade code) and p1 really left.
    stats = warehouse.load(PERSON, _persons("d-q", everyone[2:]), snapshot_of=scope, now=NOW,
                           quarantined=_persons("d-q", ["p0"]))

    assert stats.deactivated == 1
    active = _active(warehouse, "d-q")
    assert active["p0"] is True and active["p1"] is False


def test_a_snapshot_that_would_deactivate_most_of_a_district_is_refused_and_rolled_back(warehouse: WarehouseResource) -> None:
    scope = {"district_id": "d-m", "source_platform": "oneroster_csv"}
    everyone = [f"p{i}" for i in range(40)]
    warehouse.load(PERSON, _persons("d-m", everyone), snapshot_of=scope, now=NOW)
    truncated = _persons("d-m", everyone[:5])
    truncated.loc[0, "given_name"] = "changed"

    with pytest.raises(MassDeactivationError, match="would deactivate 35 of 40 active rows"):
        warehouse.load(PERSON, truncated, snapshot_of=scope, now=NOW, max_deactivated_share=0.5)

    assert all(_active(warehouse, "d-m").values())
    with warehouse.engine().connect() as connection:
        assert connection.scalar(sa.text("SELECT count(*) FROM person WHERE given_name = 'changed'")) == 0


def test_existing_ids_and_crosswalk_lookups(warehouse: WarehouseResource) -> None:
    warehouse.load(PERSON, _persons("d-x", ["p1", "p2"]), snapshot_of=None, now=NOW)
    crosswalk = pd.DataFrame({
        "district_id": pd.Series(["d-x"] * 3, dtype=_STRING),
        "source_platform": pd.Series(["oneroster_csv"] * 3, dtype=_STRING),
        "id_type": pd.Series(["sis_id", "sis_id", "email"], dtype=_STRING),
        "external_id": pd.Series(["1001", "1002", "a@example.org"], dtype=_STRING),
        "person_id": pd.Series(["p1", "p2", "p2"], dtype=_STRING),
        "active": pd.Series([True, False, True], dtype="boolean"),
        "lineage_archive_key": pd.Series(["k"] * 3, dtype=_STRING),
        "lineage_record_index": pd.Series([0, 1, 2], dtype="Int64"),
        "lineage_run_id": pd.Series(["r"] * 3, dtype=_STRING),
    })
    warehouse.load(PERSON_IDENTIFIER, crosswalk, snapshot_of=None, now=NOW)

    assert warehouse.existing_ids("person", "d-x", ["p1", "p3"]) == {"p1"}
    assert warehouse.existing_ids("person", "other", ["p1"]) == set()
    resolved = warehouse.person_ids("d-x", pd.Series(["1001", "1002", "a@example.org", pd.NA], dtype=_STRING),
                                    ("sis_id", "email"))
    # 1002's crosswalk row is inactive (a withdrawn student) but still names them.
    assert resolved.tolist() == ["p1", "p2", "p2", pd.NA]


def test_a_withdrawn_learning_event_is_kept_inactive_not_deleted(warehouse: WarehouseResource) -> None:
    fields = [f for f in LEARNING_ACTIVITY.all_fields if f.name != "lineage_loaded_at"]
    frame = pd.DataFrame({f.name: pd.Series([pd.NA], dtype=f.kind.pandas_dtype) for f in fields}).assign(
        district_id="d-a", source_platform="app", event_id="e1", person_id="p1", verb="completed", object_id="o1",
        active=True, lineage_archive_key="raw/x/page-0.json", lineage_record_index=0, lineage_run_id="run",
    ).astype({f.name: f.kind.pandas_dtype for f in fields})
    warehouse.load(LEARNING_ACTIVITY, frame, snapshot_of=None, now=NOW)

    warehouse.load(LEARNING_ACTIVITY, frame.assign(active=False), snapshot_of=None, now=NOW)

    rows = warehouse.district_rows("learning_activity", "d-a")
    assert rows["event_id"].tolist() == ["e1"]
    assert not rows["active"].iloc[0] and rows["deactivated_at"].notna().iloc[0]


def test_a_numeric_id_matches_the_crosswalk_with_or_without_leading_zeros(warehouse: WarehouseResource) -> None:
    # The roster writes SIS numbers padded; a vendor that keeps them as numbers strips the zeros.
    ids = ["0012345", "77", "0000777", "00A1", "042", "0042"]
    persons = ["p1", "p2", "p3", "p4", "p5", "p6"]
    n = len(ids)
    crosswalk = pd.DataFrame({
        "district_id": pd.Series(["d-z"] * n, dtype=_STRING),
        "source_platform": pd.Series(["oneroster_csv"] * n, dtype=_STRING),
        "id_type": pd.Series(["sis_id"] * n, dtype=_STRING),
        "external_id": pd.Series(ids, dtype=_STRING),
        "person_id": pd.Series(persons, dtype=_STRING),
        "active": pd.Series([True] * n, dtype="boolean"),
        "lineage_archive_key": pd.Series(["k"] * n, dtype=_STRING),
        "lineage_record_index": pd.Series(range(n), dtype="Int64"),
        "lineage_run_id": pd.Series(["r"] * n, dtype=_STRING),
    })
    warehouse.load(PERSON_IDENTIFIER, crosswalk, snapshot_of=None, now=NOW)

    asked = pd.Series(["12345", "0077", "777", "A1", "42", "0042", pd.NA], dtype=_STRING)
    resolved = warehouse.person_ids("d-z", asked, ("sis_id",))

    # 77 is written as is; only numbers lose zeros ("A1" is no number); 42 names two persons, 0042 one exactly.
    assert resolved.tolist() == ["p1", "p2", "p3", pd.NA, pd.NA, "p6", pd.NA]
