"""The demo: one synthetic district per roster platform, synced through every platform it uses.

Every platform of the emulator registry takes part: each roster platform is one district's
authoritative roster, and every district also sends every non-roster platform's data. A few
records per district are corrupted on purpose (file drops and API pages alike), so the demo
shows what the README spends most words on: quarantine, its reports and the gates.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import dagster as dg
import pandas as pd

from edassets.resources.archive import open_archive
from edassets.resources.districts import DistrictRegistry
from edassets.resources.warehouse import WarehouseResource, upgrade_schema
from edassets.runs import ImportOutcome, prepare_instance_home, print_outcome, run_platform
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.emulators import EMULATORS, roster_platforms
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.onboard import platforms_of, sandbox_districts, sandbox_environment, write_file_drops
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.settings import Settings

SANDBOX_SEED = 11

DEMO_BAD_RECORD_RATE = 0.002
"""Share of records the demo corrupts: a handful per district, far below the alert gate."""

# Tree names, one per roster platform, and the zones their wall clocks keep.
_DISTRICT_NAMES = ("maple", "cedar", "birch", "aspen", "willow", "spruce", "alder", "hazel")
_TIMEZONES = ("America/Chicago", "America/Denver", "America/New_York", "America/Los_Angeles")


def demo_world_options(students: int) -> WorldOptions:
    """The demo's sandbox world: one district per roster platform, named after trees."""
    rosters = roster_platforms()
    if len(rosters) > len(_DISTRICT_NAMES):
        raise ValueError(f"the demo names {len(_DISTRICT_NAMES)} districts; {len(rosters)} roster platforms exist")
    return WorldOptions(
        districts=tuple(
            DistrictSpec(f"{tree}-usd", f"{tree.title()} Unified ({EMULATORS[roster].title})", students, roster,
                         _TIMEZONES[i % len(_TIMEZONES)])
            for i, (tree, roster) in enumerate(zip(_DISTRICT_NAMES, rosters, strict=False))
        ),
        seed=SANDBOX_SEED,
    )


def demo_faults(rate: float = DEMO_BAD_RECORD_RATE) -> FaultPlan:
    """A few bad records on every platform that can carry them (a missing id, a future birth date, …)."""
    return FaultPlan((Fault("bad_records", "*", params={"rate": rate}),), seed=SANDBOX_SEED)


def run_sandbox_syncs(world: World, server: SandboxServer, settings: Settings, instance: dg.DagsterInstance,
                      echo: bool = True, days: Sequence[date] | None = None) -> list[ImportOutcome]:
    """Onboard every sandbox district and run each of its platforms on every sync day.

    Credentials go into this process's environment only (the registry holds `env:` references).

    Args:
        world: the sandbox world.
        server: the running sandbox serving it.
        settings: where the instance, warehouse and archive live.
        instance: the Dagster instance to run on.
        echo: print one line per feed as the runs finish.
        days: the sync days, oldest first (default: the world's sync dates).
    """
    # The sandbox speaks plain HTTP on loopback; oauthlib refuses that unless told otherwise.
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    os.environ.update(sandbox_environment(world, SANDBOX_SEED))
    registry = DistrictRegistry.load(settings.registry_path)
    for district in sandbox_districts(world, server):
        registry = registry.with_district(district)
    registry.save(settings.registry_path)
    district_ids = [d.district_id for d in world.options.districts]
    outcomes = []
    for sync in days or world.options.sync_dates:
        server.set_today(sync)
        drops = write_file_drops(server, world, district_ids, settings.home / "sandbox_drops")
        for district_id in district_ids:
            for platform_name in platforms_of(world, district_id):
                folder = drops.get((district_id, platform_name))
                outcome = run_platform(platform_name, district_id, sync.isoformat(), paths=[str(folder)] if folder else (),
                                       settings=settings, instance=instance)
                outcomes.append(outcome)
                if echo:
                    print_outcome(outcome)
    return outcomes


@dataclass(frozen=True)
class DemoResult:
    """What a demo run produced.

    Attributes:
        outcomes: one per platform run.
        accuracy: the accuracy table of every district after the last sync.
        last_sync: the last sync day.
        quarantine_reports: the reports of the last sync's feeds that quarantined records.
    """

    outcomes: list[ImportOutcome]
    accuracy: pd.DataFrame
    last_sync: date
    quarantine_reports: list[str]


def run_demo(students: int, settings: Settings, *, bad_record_rate: float = DEMO_BAD_RECORD_RATE,
             echo: bool = True) -> DemoResult:
    """Generate the demo world, serve it, sync every district twice and score the warehouse.

    Args:
        students: students per district (500 to 50,000).
        settings: where the instance, warehouse and archive live.
        bad_record_rate: share of records corrupted on purpose (0 for a clean run).
        echo: print one line per feed as the runs finish.
    """
    prepare_instance_home(settings)
    instance = dg.DagsterInstance.get()
    upgrade_schema(settings.warehouse_url)
    world = World.generate(demo_world_options(students))
    faults = demo_faults(bad_record_rate) if bad_record_rate else None
    with SandboxServer(world, seed=SANDBOX_SEED, faults=faults) as server:
        if echo:
            print(f"sandbox serving {len(world.options.districts)} synthetic districts on {server.url}")
        outcomes = run_sandbox_syncs(world, server, settings, instance, echo=echo)
        warehouse = WarehouseResource(url=settings.warehouse_url)
        store = open_archive(settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url)
        tables = [accuracy_table(world, d.district_id, world.options.sync_dates, warehouse=warehouse,
                                 instance=instance, store=store, injected=server.injected_bad_records())
                  for d in world.options.districts]
        warehouse.engine().dispose()
    last_sync = world.options.sync_dates[-1]
    reports = sorted({feed.report for outcome in outcomes if outcome.partition.startswith(last_sync.isoformat())
                      for feed in outcome.feeds if feed.report and feed.ledger.quarantined})
    return DemoResult(outcomes, pd.concat(tables, ignore_index=True), last_sync, reports)


def print_demo(result: DemoResult, settings: Settings) -> None:
    """The accuracy table, where the quarantine reports are, and where everything else lives."""
    print()
    print(f"accuracy against the sandbox's ground truth after the {result.last_sync} sync:")
    print(result.accuracy.drop(columns="wrong_columns").to_string(index=False))
    if result.quarantine_reports:
        print()
        print(f"quarantine reports of the {result.last_sync} sync (each record set aside, with the reason):")
        for report in result.quarantine_reports:
            print(f"  {report}")
    print()
    print(f"warehouse: {settings.warehouse_url}")
    print(f"archive:   {settings.archive_url}")
    print(f"open the Dagster UI on this instance: make ui   (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
