"""`edassets`: import a district's files, run the demo, migrate the warehouse.

Every import runs through Dagster on the same instance the UI reads (DAGSTER_HOME), so a
command-line run shows up in the UI with its checks, metadata and logs.
"""

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import date

import dagster as dg
import pandas as pd

from edassets.demo.sandbox_demo import SANDBOX_SEED, demo_world_options, run_sandbox_syncs
from edassets.resources.archive import open_archive
from edassets.resources.warehouse import WarehouseResource, upgrade_schema
from edassets.runs import prepare_instance_home, print_outcome, run_platform
from edassets.sandbox.accuracy import accuracy_table
from edassets.sandbox.server import SandboxServer, serve
from edassets.sandbox.world import World
from edassets.settings import Settings


def _cmd_run(args: argparse.Namespace) -> int:
    """`import`, `sync` and `replay`: one platform run, one summary, exit 1 only on a run failure."""
    outcome = run_platform(args.platform, args.district, args.date, paths=getattr(args, "paths", ()),
                           replay=args.command == "replay", timezone=getattr(args, "timezone", None))
    print_outcome(outcome)
    return 1 if outcome.failure else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    prepare_instance_home(settings)
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
