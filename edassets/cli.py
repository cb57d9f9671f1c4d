"""`edassets`: import a district's files, run the demo, migrate the warehouse.

Every import runs through Dagster on the same instance the UI reads (DAGSTER_HOME), so a
command-line run shows up in the UI with its checks, metadata and logs.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd

from edassets.adapters.spec import PlatformSpec
from edassets.assets.factory import asset_key
from edassets.assets.partitions import districts_partitions_name, partition_key
from edassets.definitions import build_definitions, job_name
from edassets.platforms import platform
from edassets.resources.districts import District, DistrictRegistry, normalize_district_id
from edassets.resources.warehouse import WarehouseResource, upgrade_schema
from edassets.resources.archive import open_archive
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.onboard import platforms_of, sandbox_districts, sandbox_environment, write_file_drops
from edassets.sandbox.server import SandboxServer, serve
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.settings import Settings

_DAGSTER_YAML = """\
# Written by the edassets command line: the embedded default instance (SQLite storage).
telemetry:
  enabled: false
"""


def _prepare_instance_home(settings: Settings) -> Path:
    """Point DAGSTER_HOME at the embedded instance unless the user chose one."""
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home)))
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML, encoding="utf-8")
    return home


@dataclass(frozen=True)
class FeedSummary:
    """One feed's outcome in one import."""

    feed: str
    received: int
    loaded: int
    quarantined: int
    deactivated: int
    report: str | None
    status: str

    def line(self) -> str:
        """One human line, no record values (they can be student PII)."""
        report = f"  report: {self.report}" if self.report and self.quarantined else ""
        return (f"  {self.feed:<20} received {self.received:>7}  loaded {self.loaded:>7}  "
                f"quarantined {self.quarantined:>6}  deactivated {self.deactivated:>6}  {self.status}{report}")


@dataclass(frozen=True)
class ImportOutcome:
    """What an import did, feed by feed, and why a run failed if it did."""

    platform: str
    partition: str
    feeds: list[FeedSummary]
    failure: str | None


def run_platform(
    platform_name: str,
    district: str,
    day: str,
    *,
    paths: Sequence[str] = (),
    replay: bool = False,
    timezone: str | None = None,
    settings: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
) -> ImportOutcome:
    """Run a platform's asset graph for one district and day through Dagster.

    A district new to the platform is registered first (registry entry and partition).

    Args:
        platform_name: registered platform.
        district: district id (normalised to [a-z0-9_-]).
        day: delivery date, YYYY-MM-DD.
        paths: file-drop platforms: files, folders or zips the district handed over
            (empty: the district's dropbox folder). API platforms fetch instead.
        replay: rebuild parsed → loaded from the archive without fetching or reading files.
        timezone: IANA zone for a district not yet registered.
        settings: installation settings (default: from the environment).
        instance: Dagster instance to run on (default: the one DAGSTER_HOME names).
    """
    settings = settings or Settings.from_env()
    if instance is None:
        _prepare_instance_home(settings)
        instance = dg.DagsterInstance.get()
    spec = platform(platform_name)
    district_id = normalize_district_id(district)
    upgrade_schema(settings.warehouse_url)
    _register(spec, district, district_id, timezone, settings, instance)

    job = build_definitions(settings).resolve_job_def(job_name(spec.name))
    absolute = [str(Path(p).resolve()) for p in paths]
    run_config: dict[str, object] = {
        # The summary is printed at the end; step-by-step logs are in the UI.
        "loggers": {"console": {"config": {"log_level": os.environ.get("EDASSETS_LOG_LEVEL", "CRITICAL")}}},
    }
    if spec.delivery == "file_drop" and not replay:
        run_config["ops"] = {asset_key(spec.name, "raw", f.name).to_python_identifier(): {"config": {"paths": absolute}}
                             for f in spec.feeds}
    selection = None
    if replay:
        selection = [asset_key(spec.name, stage, f.name) for f in spec.feeds for stage in ("parsed", "validated", "loaded")]
    key = partition_key(district_id, day)
    result = job.execute_in_process(run_config=run_config, instance=instance, partition_key=key,
                                    asset_selection=selection, raise_on_error=False)
    return _summarize(spec, str(key), result)


def _register(spec: PlatformSpec, district: str, district_id: str, timezone: str | None, settings: Settings,
              instance: dg.DagsterInstance) -> None:
    registry = DistrictRegistry.load(settings.registry_path)
    entry = registry.get(district_id) or District(id=district_id, name=district, timezone=timezone or "UTC", source_id=district)
    if spec.name not in entry.platforms:
        roster = entry.roster_source or (spec.name if spec.roster else None)
        entry = replace(entry, platforms=(*entry.platforms, spec.name), roster_source=roster)
        registry.with_district(entry).save(settings.registry_path)
    partitions_name = districts_partitions_name(spec.name)
    if not instance.has_dynamic_partition(partitions_name, district_id):
        instance.add_dynamic_partitions(partitions_name, [district_id])


def _summarize(spec: PlatformSpec, partition: str, result: dg.ExecuteInProcessResult) -> ImportOutcome:
    metadata: dict[tuple[str, str], dict[str, object]] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.event_specific_data.materialization
        _, stage, feed = materialization.asset_key.path
        metadata[(stage, feed)] = {k: v.value for k, v in materialization.metadata.items()}
    blocked = {
        e.asset_check_evaluation_data.asset_key.path[2]
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
        and not e.asset_check_evaluation_data.passed
        and e.asset_check_evaluation_data.severity.value == "ERROR"
    }
    failures = [
        e.step_failure_data.error for e in result.all_events
        if e.event_type_value == "STEP_FAILURE" and e.step_failure_data.error is not None
    ]
    crash = next((f for f in failures if f.cls_name != "DagsterAssetCheckFailedError"), None)

    feeds = []
    for feed in spec.feeds:
        validated = metadata.get(("validated", feed.name), {})
        loaded = metadata.get(("loaded", feed.name))
        if loaded is not None:
            status = "ok" if loaded.get("sync_mode") != "absent" else "absent"
        elif feed.name in blocked:
            status = "BLOCKED by data quality gate"
        else:
            status = "not loaded"
        feeds.append(FeedSummary(
            feed=feed.name,
            received=int(validated.get("received", 0)),
            loaded=int(loaded.get("dagster/row_count", 0)) if loaded else 0,
            quarantined=int(validated.get("quarantined", 0)),
            deactivated=int(loaded.get("deactivated", 0)) if loaded else 0,
            report=str(validated["quarantine_report"]) if "quarantine_report" in validated else None,
            status=status,
        ))
    failure = None
    if crash is not None:
        # Dagster's message starts with the exception's dotted class path; the reason is after it.
        first_line = (crash.message or crash.cls_name).strip().splitlines()[0]
        failure = first_line.split(": ", 1)[1] if first_line.startswith(("dagster.", "edassets.")) and ": " in first_line else first_line
    return ImportOutcome(spec.name, partition, feeds, failure)


def _print_outcome(outcome: ImportOutcome) -> None:
    print(f"{outcome.platform} {outcome.partition}")
    for feed in outcome.feeds:
        print(feed.line())
    if outcome.failure:
        print(f"  run failed: {outcome.failure}")


def _cmd_run(args: argparse.Namespace) -> int:
    """`import`, `sync` and `replay`: one platform run, one summary, exit 1 only on a run failure."""
    outcome = run_platform(args.platform, args.district, args.date, paths=getattr(args, "paths", ()),
                           replay=args.command == "replay", timezone=getattr(args, "timezone", None))
    _print_outcome(outcome)
    return 1 if outcome.failure else 0


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
                    _print_outcome(outcome)
    return outcomes


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    _prepare_instance_home(settings)
    instance = dg.DagsterInstance.get()
    upgrade_schema(settings.warehouse_url)
    world = World.generate(demo_world_options(args.students))
    with SandboxServer(world, seed=SANDBOX_SEED) as server:
        print(f"sandbox serving {len(world.options.districts)} synthetic districts on {server.url}")
        outcomes = run_sandbox_syncs(world, server, settings, instance)
        warehouse = WarehouseResource(url=settings.warehouse_url)
        last_sync = world.options.sync_dates[-1]
        tables = [accuracy_table(world, d.district_id, world.options.sync_dates, warehouse=warehouse, instance=instance,
                                 store=open_archive(settings.archive_url, s3_endpoint_url=settings.s3_endpoint_url),
                                 injected=server.injected_bad_records())
                  for d in world.options.districts]
        warehouse.engine().dispose()
    print()
    print(f"accuracy against the sandbox's ground truth after the {last_sync} sync:")
    print(pd.concat(tables, ignore_index=True).drop(columns="wrong_columns").to_string(index=False))
    print()
    print(f"warehouse: {settings.warehouse_url}")
    print(f"archive:   {settings.archive_url}")
    print(f"open the Dagster UI on this instance: make ui   (DAGSTER_HOME={os.environ['DAGSTER_HOME']})")
    return 1 if any(o.failure for o in outcomes) else 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    serve(args.port, demo_world_options(args.students), seed=SANDBOX_SEED, today=date.fromisoformat(args.today))
    return 0


def _cmd_db_upgrade(_: argparse.Namespace) -> int:

    settings = Settings.from_env()
    upgrade_schema(settings.warehouse_url)
    print("warehouse schema is up to date")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edassets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    importer = commands.add_parser("import", help="import files a district handed over")
    importer.add_argument("platform", help="platform name, e.g. oneroster_csv or nwea_map")
    importer.add_argument("paths", nargs="+", help="files, folders or zip bundles")
    importer.add_argument("--district", required=True, help="district id (normalised to [a-z0-9_-])")
    importer.add_argument("--date", default=date.today().isoformat(), help="delivery date YYYY-MM-DD (default today)")
    importer.add_argument("--timezone", help="IANA time zone of a new district (default UTC)")
    importer.set_defaults(handler=_cmd_run)

    sync = commands.add_parser("sync", help="fetch a district's data from an API platform")
    sync.add_argument("platform", help="API platform, e.g. oneroster_rest or clever")
    sync.add_argument("--district", required=True, help="registered district id")
    sync.add_argument("--date", default=date.today().isoformat(), help="partition day YYYY-MM-DD (default today)")
    sync.add_argument("--timezone", help="IANA time zone of a new district (default UTC)")
    sync.set_defaults(handler=_cmd_run)

    replay = commands.add_parser("replay", help="rebuild parsed → loaded from the archive, without refetching")
    replay.add_argument("platform")
    replay.add_argument("--district", required=True)
    replay.add_argument("--date", required=True, help="the partition day to rebuild, YYYY-MM-DD")
    replay.set_defaults(handler=_cmd_run)

    demo = commands.add_parser("demo", help="sync three synthetic districts from the sandbox through every platform")
    demo.add_argument("--students", type=int, default=600, help="students per demo district")
    demo.set_defaults(handler=_cmd_demo)

    sandbox = commands.add_parser("sandbox", help="serve the provider sandbox (the demo's world) until interrupted")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--students", type=int, default=600, help="students per district")
    sandbox.add_argument("--today", default="2026-01-12", help="the day the APIs serve (the world's first sync date)")
    sandbox.set_defaults(handler=_cmd_sandbox)

    database = commands.add_parser("db", help="warehouse administration")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade", help="apply migrations to the configured warehouse")
    upgrade.set_defaults(handler=_cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edassets` console script."""
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except (KeyError, ValueError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"edassets: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
