"""Bad records in file drops and API pages alike end in quarantine, with their reasons, and nothing else does.

One small district per roster platform, synced once through every platform it uses, with a
share of records corrupted on every platform that can carry them: the warehouse must equal
the truth minus the corrupted records (and what references them), and every corrupted
record must be in quarantine.
"""

from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from edassets.demo.sandbox_demo import SANDBOX_SEED, demo_faults, demo_world_options, run_sandbox_syncs
from edassets.resources.archive import open_archive
from edassets.resources.warehouse import WarehouseResource, upgrade_schema
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.emulators import EMULATORS, FileEmulator
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import World
from tests.assets.conftest import make_settings


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(accuracy table, injected bad records) after one faulty sync of the demo world at 500 students."""
    settings = make_settings(Path(tmp_path_factory.mktemp("bad-records")))
    upgrade_schema(settings.warehouse_url)
    world = World.generate(demo_world_options(500))
    day = world.options.sync_dates[0]
    with dg.DagsterInstance.ephemeral() as instance, \
            SandboxServer(world, seed=SANDBOX_SEED, faults=demo_faults(0.01)) as server:
        outcomes = run_sandbox_syncs(world, server, settings, instance, echo=False, days=(day,))
        assert [o.failure for o in outcomes if o.failure] == []
        warehouse = WarehouseResource(url=settings.warehouse_url)
        store = open_archive(settings.archive_url)
        injected = server.injected_bad_records()
        table = pd.concat([accuracy_table(world, d.district_id, (day,), warehouse=warehouse, instance=instance,
                                          store=store, injected=injected) for d in world.options.districts],
                          ignore_index=True)
        warehouse.engine().dispose()
    return table, injected


def test_every_valid_record_loads_and_nothing_corrupted_does(synced: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, _ = synced
    wrong = table[(table["loaded_correctly"] != table["records_expected"]) | (table["loaded_wrong"] > 0)
                  | (table["missing"] > 0) | (table["unexpected"] > 0) | (table["quarantined_wrongly"] > 0)]
    assert wrong.empty, wrong.to_string()


def test_every_corrupted_record_is_quarantined_on_every_platform(synced: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    table, injected = synced
    file_platforms = {name for name, emulator in EMULATORS.items() if issubclass(emulator, FileEmulator)}
    assert file_platforms <= set(injected["platform"]), "file drops got no bad records"
    assert set(injected["platform"]) == set(EMULATORS)
    quarantined = table.groupby(["district_id", "platform"])["quarantined_correctly"].sum()
    per_platform = injected.groupby(["district_id", "platform"]).size()
    # Each corrupted record is in quarantine; the cascade (enrollments of a quarantined user) adds more.
    assert (quarantined.reindex(per_platform.index, fill_value=0) >= per_platform).all(), (
        pd.DataFrame({"quarantined": quarantined, "injected": per_platform}).to_string())
