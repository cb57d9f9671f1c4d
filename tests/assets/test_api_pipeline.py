"""API platforms through Dagster: pages archived before parsing, replay without the vendor, bad pages fail loudly."""

import json

import dagster as dg
import pandas as pd
import pytest
import sqlalchemy as sa

from edassets.adapters import fetch
from edassets.adapters.http import RetryPolicy
from edassets.demo.sandbox_demo import SANDBOX_SEED
from edassets.resources.archive import open_archive
from edassets.resources.districts import DistrictRegistry
from edassets.runs import run_platform
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.onboard import sandbox_districts, sandbox_environment
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.settings import Settings

DISTRICT = "api-rest"
FAST = RetryPolicy(max_attempts=2, backoff_base_s=0.01, backoff_max_s=0.02)


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(WorldOptions(districts=(DistrictSpec(DISTRICT, "API Unified", 500, "oneroster_rest"),),
                                       seed=SANDBOX_SEED))


@pytest.fixture
def onboard(world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """Start a sandbox (optionally with faults) and register its district; yields the server."""
    servers: list[SandboxServer] = []

    def _start(faults: FaultPlan | None = None) -> SandboxServer:
        server = SandboxServer(world, seed=SANDBOX_SEED, faults=faults).start()
        server.set_today(world.options.sync_dates[0])
        servers.append(server)
        monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the sandbox is plain HTTP on loopback
        for name, value in sandbox_environment(world, SANDBOX_SEED).items():
            monkeypatch.setenv(name, value)
        registry = DistrictRegistry.load(settings.registry_path)
        for district in sandbox_districts(world, server):
            registry = registry.with_district(district)
        registry.save(settings.registry_path)
        return server

    yield _start
    for server in servers:
        server.stop()


def _rows(settings: Settings, entity: str) -> pd.DataFrame:
    engine = sa.create_engine(settings.warehouse_url)
    frame = pd.read_sql(sa.text(f"SELECT * FROM {entity} WHERE district_id = :d"), engine, params={"d": DISTRICT})
    engine.dispose()
    return frame.drop(columns=[c for c in frame.columns if c.startswith("lineage_")]).sort_values(
        frame.columns[1]).reset_index(drop=True)


def test_replay_rebuilds_from_the_archive_without_the_vendor(onboard, settings: Settings,
                                                             instance: dg.DagsterInstance) -> None:
    server = onboard()
    day = "2026-01-12"
    first = run_platform("oneroster_rest", DISTRICT, day, settings=settings, instance=instance)
    before = {entity: _rows(settings, entity) for entity in ("person", "enrollment")}
    pages = open_archive(settings.archive_url).list(f"raw/oneroster_rest/persons/{DISTRICT}/{day}/")
    server.stop()  # the vendor is gone: a replay must not need it
    engine = sa.create_engine(settings.warehouse_url)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM enrollment WHERE district_id = :d"), {"d": DISTRICT})
    engine.dispose()

    replayed = run_platform("oneroster_rest", DISTRICT, day, replay=True, settings=settings, instance=instance)

    assert first.failure is None and replayed.failure is None
    assert any(key.endswith(".json") for key in pages)
    for entity, frame in before.items():
        pd.testing.assert_frame_equal(_rows(settings, entity), frame)


def test_a_page_that_stays_malformed_fails_the_run_and_is_archived(onboard, settings: Settings,
                                                                   instance: dg.DagsterInstance,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    onboard(FaultPlan(faults=(Fault("malformed_json", "oneroster_rest"),)))
    # Every feed would otherwise spend the platform's whole retry budget on its bad page.
    client = fetch.RestClient
    monkeypatch.setattr(fetch, "RestClient", lambda *args, **kwargs: client(*args, **{**kwargs, "retry": FAST}))

    outcome = run_platform("oneroster_rest", DISTRICT, "2026-01-12", settings=settings, instance=instance)

    assert outcome.failure is not None and "invalid JSON" in outcome.failure
    manifest_key = outcome.failure.rsplit("archived: ", 1)[1].split()[0]
    archive = open_archive(settings.archive_url)
    assert manifest_key.startswith("raw-failed/oneroster_rest/") and archive.exists(manifest_key)
    manifest = json.loads(archive.get(manifest_key))
    bad_pages = [entry["key"] for entry in manifest["files"] if entry["name"].endswith(".malformed")]
    assert bad_pages and archive.get(bad_pages[0])  # the exact bytes received, kept for the vendor ticket
    assert _rows(settings, "person").empty
