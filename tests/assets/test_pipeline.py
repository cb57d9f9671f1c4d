"""Whole platform graphs through Dagster: gates, blocking, idempotent re-imports, deactivation."""

import shutil
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from edassets.assets.factory import asset_key
from edassets.assets.partitions import partition_key
from edassets.definitions import build_definitions, job_name
from edassets.resources.archive import open_archive
from edassets.settings import Settings
from tests.assets.conftest import DAY
from tests.world_drops import zip_bundle


def _table(settings: Settings, name: str, district: str) -> pd.DataFrame:
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as connection:
        frame = pd.read_sql(sa.text(f"SELECT * FROM {name} WHERE district_id = :d"), connection, params={"d": district})
    engine.dispose()
    key = [c for c in frame.columns if c.endswith("_id")][:3]
    return frame.sort_values(key).reset_index(drop=True)


def _materialized(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str) -> bool:
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition]), limit=1)
    return bool(records.records)


def test_good_partition_loads_the_truth_while_the_blocked_partition_loads_nothing(
    run, district_files, settings, instance
) -> None:
    good, bad = district_files("good"), district_files("bad")

    roster = run("oneroster_csv", [good.oneroster_dir], "good")
    results = run("nwea_map", [good.nwea_dir], "good")
    # No roster for "bad": every result is unmatched, far above the 20% block threshold.
    blocked = run("nwea_map", [bad.nwea_dir], "bad")

    by_feed = {f.feed: f for f in roster.feeds + results.feeds}
    assert roster.failure is None and results.failure is None
    assert by_feed["persons"].loaded == good.expected["users.csv"]
    assert by_feed["enrollments"].loaded == good.expected["enrollments.csv"]
    assert by_feed["assessment_results"].loaded == good.expected["AssessmentResults.csv"]
    # Students withdrawn before the roster snapshot keep their MAP results (NWEA never
    # deletes): no roster person has their SIS id, so they are quarantined as unmatched, not dropped.
    assert good.bad["AssessmentResults.csv"] > 0
    assert by_feed["assessment_results"].quarantined == good.bad["AssessmentResults.csv"]
    report = pd.read_csv(by_feed["assessment_results"].report)
    assert set(report["rule"]) == {"unmatched person: no roster person with this sis_id"}

    loaded_key = asset_key("nwea_map", "loaded", "assessment_results")
    assert _materialized(instance, loaded_key, str(partition_key("good", DAY)))
    assert len(_table(settings, "assessment_result", "good")) == good.expected["AssessmentResults.csv"]
    assert blocked.feeds[0].status == "BLOCKED by data quality gate"
    assert blocked.failure is None  # bad records are not a crash
    assert not _materialized(instance, loaded_key, str(partition_key("bad", DAY)))
    assert _table(settings, "assessment_result", "bad").empty

    # Blocking is run-scoped: a later run selecting only `loaded` must refuse by itself.
    job = build_definitions(settings).resolve_job_def(job_name("nwea_map"))
    loaded_only = job.execute_in_process(
        instance=instance, partition_key=partition_key("bad", DAY), asset_selection=[loaded_key], raise_on_error=False
    )
    assert not loaded_only.success
    failure = next(e for e in loaded_only.all_events if e.event_type_value == "STEP_FAILURE")
    assert "blocked by data quality: the quarantine gate of nwea_map/validated/assessment_results" in (
        failure.step_failure_data.error.message
    )
    assert _table(settings, "assessment_result", "bad").empty


def test_reimport_changes_nothing_then_the_next_snapshot_deactivates_what_it_lacks(
    run, district_files, settings, tmp_path: Path
) -> None:
    files = district_files("snap")
    run("oneroster_csv", [files.oneroster_dir], "snap", day="2026-03-02")
    first = {name: _table(settings, name, "snap") for name in ("person", "enrollment", "class")}
    archive = open_archive(settings.archive_url)
    raw_before = set(archive.list("raw/oneroster_csv/persons/snap/"))

    again = run("oneroster_csv", [files.oneroster_dir], "snap", day="2026-03-02")

    assert all(f.deactivated == 0 for f in again.feeds)
    for name, frame in first.items():
        pd.testing.assert_frame_equal(_table(settings, name, "snap"), frame)
    raw_after = set(archive.list("raw/oneroster_csv/persons/snap/"))
    assert raw_before < raw_after and all(archive.exists(key) for key in raw_before)  # the archive only grows
    # users.csv, read by two feeds in two imports, is archived once: the same bytes are never stored twice.
    assert len([k for k in archive.list("raw/oneroster_csv/snap/2026-03-02/") if k.endswith("/users.csv")]) == 1

    bundle = tmp_path / "next_bundle"
    shutil.copytree(files.oneroster_dir, bundle)
    users = pd.read_csv(bundle / "users.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    students = users[users["role"] == "student"]
    withdrawn, deleted = students.iloc[0]["sourcedId"], students.iloc[1]["sourcedId"]
    users = users[users["sourcedId"] != withdrawn]
    users.loc[users["sourcedId"] == deleted, "status"] = "tobedeleted"
    users.to_csv(bundle / "users.csv", index=False)

    outcome = run("oneroster_csv", [bundle], "snap", day="2026-03-03")

    persons = _table(settings, "person", "snap").set_index("person_id")
    assert not persons.loc[withdrawn, "active"] and persons.loc[withdrawn, "deactivated_at"] is not None
    assert not persons.loc[deleted, "active"]
    assert persons["active"].sum() == len(persons) - 2
    persons_ledger = {f.feed: f.ledger for f in outcome.feeds}["persons"]
    # One deactivated because the snapshot no longer has it, one because it came as a tombstone.
    assert (persons_ledger.deactivated_missing, persons_ledger.tombstones) == (1, 1)
    assert persons_ledger.imbalance() is None
    assert len(persons) == files.expected["users.csv"]  # nothing is ever deleted


def test_malformed_and_invalid_rows_are_quarantined_while_good_rows_load(run, district_files, settings) -> None:
    files = district_files("dirty", bad_record_rate=0.05)
    bundle = zip_bundle(files.oneroster_dir, files.oneroster_dir.parent / "bundle.zip")

    outcome = run("oneroster_csv", [bundle], "dirty")

    by_feed = {f.feed: f for f in outcome.feeds}
    assert outcome.failure is None
    assert by_feed["persons"].quarantined == files.bad["users.csv"]
    assert by_feed["persons"].loaded == files.expected["users.csv"]
    assert by_feed["classes"].quarantined == files.bad["classes.csv"]
    report = pd.read_csv(by_feed["enrollments"].report)
    quarantined = report[report["outcome"] == "quarantined"]
    assert quarantined["lineage_archive_key"].str.startswith("raw/oneroster_csv/dirty/").all()
    assert quarantined["lineage_archive_key"].str.endswith("/enrollments.csv").all()
    assert by_feed["enrollments"].quarantined == files.bad["enrollments.csv"]
    # The zip itself is archived whole next to the files that came out of it.
    archive = open_archive(settings.archive_url)
    containers = [k for k in archive.list("raw/oneroster_csv/dirty/") if k.endswith("/bundle.zip")]
    assert [archive.get(k) for k in containers] == [bundle.read_bytes()]


@pytest.mark.postgres
def test_postgres_warehouse_and_s3_archive_end_to_end(run, district_files, tmp_path, pg_url, moto_s3_endpoint, s3_bucket) -> None:
    from tests.assets.conftest import make_settings

    settings = make_settings(tmp_path / "prod", warehouse_url=pg_url, archive_url=f"s3://{s3_bucket}/audit",
                             s3_endpoint_url=moto_s3_endpoint)
    files = district_files("pgs3")

    first = run("oneroster_csv", [files.oneroster_dir], "pgs3", settings=settings)
    snapshot = {name: _table(settings, name, "pgs3") for name in ("person", "enrollment", "person_identifier")}
    second = run("oneroster_csv", [files.oneroster_dir], "pgs3", settings=settings)
    results = run("nwea_map", [files.nwea_dir], "pgs3", settings=settings)

    assert first.failure is None and second.failure is None and results.failure is None
    for name, frame in snapshot.items():
        pd.testing.assert_frame_equal(_table(settings, name, "pgs3"), frame)
    assert len(snapshot["person"]) == files.expected["users.csv"]
    assert len(_table(settings, "assessment_result", "pgs3")) == files.expected["AssessmentResults.csv"]
    archive = open_archive(settings.archive_url, s3_endpoint_url=moto_s3_endpoint)
    raw_users = [k for k in archive.list("raw/oneroster_csv/pgs3/") if k.endswith("users.csv")]
    assert len(raw_users) == 1  # two imports, two feeds each: the same bytes are stored once
    assert archive.get(raw_users[0]) == (files.oneroster_dir / "users.csv").read_bytes()
