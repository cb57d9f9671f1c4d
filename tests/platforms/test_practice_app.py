"""The practice-app platform: each K12_FORMATS #20 quirk on synthetic sessions, then over real sockets."""

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from edassets.adapters.http import RestClient, RetryPolicy
from edassets.adapters.json_records import read_json_pages
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import API_RECORDS, ParseContext
from edassets.assets.factory import asset_key
from edassets.assets.partitions import partition_key
from edassets.checks.validation import validate_batch
from edassets.demo.sandbox_demo import SANDBOX_SEED, run_sandbox_syncs
from edassets.handoffs import ParsedBatch, ReceivedFile, ValidatedBatch
from edassets.platforms.practice_app import SESSIONS, SPEC, percent
from edassets.resources.archive import open_archive
from edassets.resources.io_managers import latest_manifest, read_batch
from edassets.resources.warehouse import WarehouseResource, upgrade_schema
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.credentials import sandbox_credentials
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.schema.entities import PERSON_IDENTIFIER
from tests.assets.conftest import make_settings

CONTEXT = ParseContext(district_id="d-p", timezone=ZoneInfo("America/Chicago"), platform=SPEC.name)
_STRING = pd.StringDtype("pyarrow")


def _session(**overrides: object) -> dict[str, Any]:
    """One session as the app writes it; every field a distinct value."""
    return {
        "id": "ps_1", "student_id": "12345", "class_id": "c-1",
        "activity": {"id": "https://app.example.org/lessons/fractions-3", "title": "Fractions 3", "type": "quiz"},
        "status": "passed", "started_at": "2026-01-05 16:40:12", "ended_at": "2026-01-05 16:52:42",
        "minutes": 12.5, "score": "87%", "completed": True, "updated_at": "2026-01-05 16:52:42", "deleted_at": None,
        **overrides,
    }


def _parse(*sessions: Mapping[str, Any]) -> ParsedBatch:
    page = ReceivedFile("records.page-00000.json", json.dumps({"sessions": list(sessions), "total_pages": 1}).encode(),
                        archive_key="raw/practice_app/records.page-00000.json")
    table = read_json_pages([page], records_path="sessions")
    return map_feed(SESSIONS, {API_RECORDS: table}, context=CONTEXT, archive_key="", run_id="run-p", sync_mode="events")


def _validate(batch: ParsedBatch, person_lookup: Any = None) -> ValidatedBatch:
    return validate_batch(SESSIONS, batch, reference_exists=lambda _, __, ids: pd.Series(True, index=ids.index),
                          person_lookup=person_lookup or (lambda ids, _: ("P-" + ids).astype(_STRING)))


def test_a_session_maps_every_field_to_its_own_column() -> None:
    row = _validate(_parse(_session())).rows.iloc[0]

    assert (row["event_id"], row["person_id"], row["source_person_id"], row["class_id"]) == ("ps_1", "P-12345", "12345", "c-1")
    assert (row["activity_type"], row["object_id"], row["object_name"]) == (
        "quiz", "https://app.example.org/lessons/fractions-3", "Fractions 3")
    assert row["verb"] == "http://adlnet.gov/expapi/verbs/passed"
    # 16:40 in Chicago in January is 22:40 UTC (CST, UTC-6).
    assert row["started_at"] == pd.Timestamp("2026-01-05 22:40:12", tz="UTC")
    assert row["ended_at"] == pd.Timestamp("2026-01-05 22:52:42", tz="UTC")
    assert row["duration_seconds"] == 750
    assert (row["score_raw"], row["score_min"], row["score_max"], row["score_scaled"]) == (87, 0, 100, 0.87)
    assert row["completed"] and row["active"]


def test_naive_local_times_are_read_in_the_district_zone_across_dst_changes() -> None:
    batch = _parse(
        # Spring forward (8 March 2026, 02:00 CST -> 03:00 CDT): 01:50 to 03:10 on the wall is 20 minutes.
        _session(id="spring", started_at="2026-03-08 01:50:00", ended_at="2026-03-08 03:10:00"),
        # The same wall time either side of the autumn change (1 November 2026) is an hour apart in UTC.
        _session(id="cdt", started_at="2026-10-31 12:00:00", ended_at="2026-10-31 12:30:00"),
        _session(id="cst", started_at="2026-11-01 12:00:00", ended_at="2026-11-01 12:30:00"),
    )
    rows = _validate(batch).rows.set_index("event_id")

    assert rows.loc["spring", "duration_seconds"] == 20 * 60
    assert rows.loc["spring", "started_at"] == pd.Timestamp("2026-03-08 07:50", tz="UTC")
    assert rows.loc["cdt", "started_at"] == pd.Timestamp("2026-10-31 17:00", tz="UTC")
    assert rows.loc["cst", "started_at"] == pd.Timestamp("2026-11-01 18:00", tz="UTC")


def test_percent_strings_are_scores_and_bare_numbers_are_quarantined() -> None:
    assert percent(pd.Series(["87%", " 92.5 % ", "0%", "100%", "87", "0.87", "abc", None])).tolist() == [
        87, 92.5, 0, 100, pd.NA, pd.NA, pd.NA, pd.NA]
    validated = _validate(_parse(_session(id="ok", score="92.5%"), _session(id="unscored", score=None),
                                 _session(id="bare", score="14")))

    rows = validated.rows.set_index("event_id")
    assert rows.loc["ok", "score_scaled"] == pytest.approx(0.925)
    assert rows.loc["unscored", ["score_raw", "score_min", "score_max", "score_scaled"]].isna().all()
    assert validated.quarantine["event_id"].tolist() == ["bare"]
    assert "score_raw: percent string like 87%" in validated.quarantine["quarantine_reasons"].iloc[0]


def test_a_deleted_session_is_written_inactive_not_dropped() -> None:
    validated = _validate(_parse(_session(id="kept"), _session(id="gone", deleted_at="2026-01-05 17:00:00")))

    assert dict(zip(validated.rows["event_id"], validated.rows["active"], strict=True)) == {"kept": True, "gone": False}
    ledger = validated.ledger()
    assert ledger.imbalance() is None and validated.quarantined == 0


def test_student_ids_without_leading_zeros_match_the_rosters_padded_sis_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'w.db'}"
    upgrade_schema(url)
    warehouse = WarehouseResource(url=url)
    padded = ["0012345", "0000678"]
    warehouse.load(PERSON_IDENTIFIER, pd.DataFrame({
        "district_id": "d-p", "source_platform": "oneroster_csv", "id_type": "sis_id", "external_id": padded,
        "person_id": ["p-1", "p-2"], "active": True, "lineage_archive_key": "k", "lineage_record_index": [0, 1],
        "lineage_run_id": "r",
    }).astype({"lineage_record_index": "Int64", "active": "boolean"}), snapshot_of=None, now=datetime.now(UTC))

    validated = _validate(_parse(_session(id="a", student_id="12345"), _session(id="b", student_id="678"),
                                 _session(id="c", student_id="999")),
                          person_lookup=lambda ids, id_types: warehouse.person_ids("d-p", ids, id_types))

    assert dict(zip(validated.rows["event_id"], validated.rows["person_id"], strict=True)) == {"a": "p-1", "b": "p-2"}
    assert validated.quarantine["quarantine_reasons"].iloc[0].startswith("person_id: unmatched person")
    warehouse.engine().dispose()


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(WorldOptions(districts=(DistrictSpec("pa-rest", "Practice Unified", 500, "oneroster_rest"),)))


def test_a_rate_limited_key_gets_429_with_retry_after_and_the_client_waits_it_out(world: World) -> None:
    day = world.options.sync_dates[0]
    waits: list[float] = []
    # One request per window: three pages inside two windows put two in one of them.
    options = {SPEC.name: {"rate_limit": 1, "window_s": 2.0}}
    with SandboxServer(world, today=day, emulator_options=options) as server:
        api = SPEC.api
        assert api is not None
        key = sandbox_credentials(SPEC.name, "pa-rest", 11)
        # Rendered before the first page: a first request slowed by rendering on a loaded
        # machine would let the window pass, and no request would be over the limit.
        server.records(SPEC.name, "pa-rest", "sessions")
        client = RestClient(server.base_url(SPEC.name, "pa-rest"), auth=api.auth(key, ""), paginator=api.paginator(),
                            retry=RetryPolicy(max_attempts=6, max_elapsed_s=60, jitter=False),
                            sleep=lambda s: (waits.append(s), time.sleep(s)))
        records = [r for page in client.paginate("/v1/sessions", records_path="sessions") for r in page.records]
        limited = [r for r in server.request_log if r.status == 429]

    assert len(records) == len(EMULATORS[SPEC.name].render(world.state("pa-rest", day), "sessions"))
    assert limited and waits
    # Retry-After is whole seconds, rounded up; the client waited exactly what it was told.
    assert all(w >= 1 and w == int(w) for w in waits)


REASONS = {
    "missing_id": "event_id: required",
    "out_of_range_score": "score_raw: percent string like 87%",
    "future_date": "started_at: not in the future",
    "dangling_reference": "person_id: unmatched person",
}


# Two full syncs of a district; the default suite's faulty sync of every platform
# (tests/sandbox/test_bad_records_end_to_end.py) covers the same ground once.
@pytest.mark.slow
def test_a_district_loads_every_valid_session_and_quarantines_every_injected_bad_one(world: World, tmp_path: Path) -> None:
    bad = Fault("bad_records", SPEC.name, params={"rate": 0.01, "collections": ["sessions"]})
    settings = make_settings(tmp_path)
    with dg.DagsterInstance.ephemeral() as instance, SandboxServer(world, seed=SANDBOX_SEED,
                                                                   faults=FaultPlan(faults=(bad,))) as server:
        outcomes = run_sandbox_syncs(world, server, settings, instance, echo=False)
        assert [o.failure for o in outcomes if o.failure] == []
        warehouse = WarehouseResource(url=settings.warehouse_url)
        store = open_archive(settings.archive_url)
        injected = server.injected_bad_records()
        table = accuracy_table(world, "pa-rest", world.options.sync_dates, warehouse=warehouse, instance=instance,
                               store=store, injected=injected)
        manifest = latest_manifest(instance, store, asset_key(SPEC.name, "validated", SESSIONS.name),
                                   str(partition_key("pa-rest", world.options.sync_dates[-1].isoformat())))
        quarantine = read_batch(store, manifest).quarantine
        warehouse.engine().dispose()

    activity = table[table["platform"] == SPEC.name].iloc[0]
    assert activity["records_expected"] > 3000 and activity["loaded_correctly"] == activity["records_expected"]
    assert (activity["loaded_wrong"], activity["missing"], activity["unexpected"], activity["quarantined_wrongly"]) == (
        0, 0, 0, 0)
    assert set(injected["kind"]) == set(REASONS)
    # The last sync lists every session, so its quarantine holds every injected record, each
    # for the reason its defect deserves (a record whose id was emptied is known by its reason).
    assert len(quarantine) == len(injected)
    named = quarantine.dropna(subset="event_id").set_index("event_id")["quarantine_reasons"]
    nameless = quarantine.loc[quarantine["event_id"].isna(), "quarantine_reasons"]
    for record in injected.itertuples():
        if record.kind == "missing_id":
            continue
        assert REASONS[record.kind] in named[record.served_id], record
    assert len(nameless) == (injected["kind"] == "missing_id").sum()
    assert nameless.str.contains(REASONS["missing_id"]).all()
    # The accuracy table agrees for the named records (it cannot tell nameless ones of two syncs apart).
    assert activity["quarantined_correctly"] >= len(named)
