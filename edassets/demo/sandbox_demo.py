"""The demo: the sandbox's three synthetic districts synced through every platform they use."""

import os

import dagster as dg

from edassets.resources.districts import DistrictRegistry
from edassets.runs import ImportOutcome, print_outcome, run_platform
from edassets.sandbox.onboard import platforms_of, sandbox_districts, sandbox_environment, write_file_drops
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.settings import Settings

SANDBOX_SEED = 11


def demo_world_options(students: int) -> WorldOptions:
    """The demo's sandbox world: one district per kind of authoritative roster."""
    return WorldOptions(
        districts=(
            DistrictSpec("maple-usd", "Maple Unified (OneRoster CSV)", students, "oneroster_csv", "America/Chicago"),
            DistrictSpec("cedar-usd", "Cedar Unified (OneRoster REST)", students, "oneroster_rest", "America/Denver"),
            DistrictSpec("birch-usd", "Birch Unified (Clever)", students, "clever", "America/New_York"),
        ),
        seed=SANDBOX_SEED,
    )


def run_sandbox_syncs(world: World, server: SandboxServer, settings: Settings, instance: dg.DagsterInstance,
                      echo: bool = True) -> list[ImportOutcome]:
    """Onboard every sandbox district and run each of its platforms on every sync date of the world.

    Credentials go into this process's environment only (the registry holds `env:` references).
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
    for sync in world.options.sync_dates:
        server.set_today(sync)
        drops = write_file_drops(world, district_ids, sync, settings.home / "sandbox_drops")
        for district_id in district_ids:
            for platform_name in platforms_of(world, district_id):
                folder = drops.get((district_id, platform_name))
                outcome = run_platform(platform_name, district_id, sync.isoformat(), paths=[str(folder)] if folder else (),
                                       settings=settings, instance=instance)
                outcomes.append(outcome)
                if echo:
                    print_outcome(outcome)
    return outcomes


