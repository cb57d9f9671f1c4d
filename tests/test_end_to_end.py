"""End to end against the sandbox: every platform, two syncs, PostgreSQL + S3, with and without faults.

Three districts, one per authoritative roster (OneRoster CSV, OneRoster REST, Clever), each
also sending NWEA MAP results; between the two syncs students transfer and withdraw. The
warehouse must equal the sandbox's ground truth exactly, every injected bad record must be
in quarantine with its reason, and nothing secret or personal may reach a log line.
"""

import logging
from collections import Counter
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from edassets.demo.sandbox_demo import SANDBOX_SEED, run_sandbox_syncs
from edassets.resources.archive import open_archive
from edassets.resources.warehouse import WarehouseResource
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.credentials import env_vars
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.settings import Settings
from tests.assets.conftest import make_settings

BAD_RECORDS = Fault("bad_records", "*", params={
    "rate": 0.004, "kinds": ["out_of_range_score", "dangling_reference", "future_date"],
    "collections": ["users", "enrollments", "demographics"],
})
TRANSIENT_FAULTS = (
    Fault("rate_limit_storm", "*", every=9, count=2, params={"retry_after": 1}),
    Fault("token_expiry", "oneroster_rest", every=7),
    Fault("server_error", "*", every=11, count=2),
    Fault("truncated_page", "*", every=13),
    Fault("duplicate_records", "*", every=5),
    Fault("malformed_json", "*", every=17),
)


def _world(prefix: str, students: int, rosters: tuple[str, ...] = ("oneroster_csv", "oneroster_rest", "clever")) -> World:
    zones = {"oneroster_csv": "America/Chicago", "oneroster_rest": "America/Denver", "clever": "America/New_York"}
    return World.generate(WorldOptions(
        districts=tuple(DistrictSpec(f"{prefix}-{roster.replace('_', '-')}", f"{roster} Unified", students, roster,
                                     zones[roster]) for roster in rosters),
        seed=SANDBOX_SEED,
    ))


def _sync_and_measure(world: World, settings: Settings, faults: FaultPlan) -> tuple[pd.DataFrame, pd.DataFrame, Counter]:
    """Run both syncs of every district; return the accuracy table, the injected bad records and HTTP statuses."""
    with dg.DagsterInstance.ephemeral() as instance, SandboxServer(world, seed=SANDBOX_SEED, faults=faults) as server:
        outcomes = run_sandbox_syncs(world, server, settings, instance, echo=False)
        assert [o.failure for o in outcomes if o.failure] == []
        assert all(f.status == "ok" for o in outcomes for f in o.feeds), [
            (o.platform, f.feed, f.status) for o in outcomes for f in o.feeds if f.status != "ok"]
        warehouse = WarehouseResource(url=settings.warehouse_url)
        store = open_archive(settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url)
        injected = server.injected_bad_records()
        statuses = Counter(request.status for request in server.request_log)
        table = pd.concat([
            accuracy_table(world, d.district_id, world.options.sync_dates, warehouse=warehouse, instance=instance,
                           store=store, injected=injected)
            for d in world.options.districts
        ], ignore_index=True)
        warehouse.engine().dispose()
    return table, injected, statuses


def _assert_exact(table: pd.DataFrame, injected: pd.DataFrame) -> None:
    wrong = table[(table["loaded_correctly"] != table["records_expected"]) | (table["loaded_wrong"] > 0)
                  | (table["missing"] > 0) | (table["unexpected"] > 0) | (table["quarantined_wrongly"] > 0)]
    assert wrong.empty, wrong.to_string()
    # Every district got corrupted records, and each one is in quarantine (with its cascade).
    assert set(injected["district_id"]) >= {d for d in table["district_id"] if "csv" not in d}
    quarantined = table.groupby("district_id")["quarantined_correctly"].sum()
    per_district = injected.groupby("district_id").size()
    assert (quarantined.reindex(per_district.index) >= per_district).all()


def _names_and_secrets(world: World) -> list[str]:
    secrets = list(env_vars(world.options.districts, SANDBOX_SEED).values())
    persons = world.state(world.options.districts[0].district_id, world.options.sync_dates[0]).persons
    students = persons[persons["role"] == "student"].head(200)
    return secrets + (students["given_name"] + " " + students["family_name"]).tolist()


def test_small_sandbox_sync_is_exact_and_leaks_no_secret_or_name(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The API rosters only: the CSV path has its own pipeline tests, and this one must stay quick.
    world = _world("s", 500, rosters=("oneroster_rest", "clever"))
    caplog.set_level(logging.DEBUG)

    table, injected, _ = _sync_and_measure(world, make_settings(tmp_path), FaultPlan(faults=(BAD_RECORDS,)))

    _assert_exact(table, injected)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    leaked = [value for value in _names_and_secrets(world) if value in logged]
    assert leaked == []


@pytest.mark.slow
@pytest.mark.postgres
def test_5000_student_districts_on_postgres_and_s3_match_the_truth_after_two_syncs(
    tmp_path: Path, pg_url: str, moto_s3_endpoint: str, s3_bucket: str
) -> None:
    world = _world("big", 5000)
    settings = make_settings(tmp_path, warehouse_url=pg_url, archive_url=f"s3://{s3_bucket}/audit",
                             s3_endpoint_url=moto_s3_endpoint)

    table, injected, _ = _sync_and_measure(world, settings, FaultPlan(faults=(BAD_RECORDS,)))

    _assert_exact(table, injected)
    assert table.loc[table["entity"] == "person", "records_expected"].min() > 5000


@pytest.mark.slow
@pytest.mark.postgres
def test_with_429_storms_token_expiry_and_5xx_bursts_the_sync_converges_to_the_same_state(
    tmp_path: Path, pg_url: str, moto_s3_endpoint: str, s3_bucket: str
) -> None:
    world = _world("faulty", 5000)
    settings = make_settings(tmp_path, warehouse_url=pg_url, archive_url=f"s3://{s3_bucket}/audit",
                             s3_endpoint_url=moto_s3_endpoint)

    table, injected, statuses = _sync_and_measure(world, settings, FaultPlan(faults=(BAD_RECORDS, *TRANSIENT_FAULTS)))

    _assert_exact(table, injected)
    # The faults really happened on the way.
    assert statuses[429] > 0 and statuses[401] > 0 and sum(n for status, n in statuses.items() if status >= 500) > 0
