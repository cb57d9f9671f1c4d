"""`edassets`: import a district's files, run the demo, migrate the warehouse.

Every import runs through Dagster on the same instance the UI reads (DAGSTER_HOME), so a
command-line run shows up in the UI with its checks, metadata and logs.

Dagster, pandas, the platforms and the sandbox are imported inside the command handlers:
together they take seconds to import, and `--help` or a mistyped option must answer at once.
"""

import argparse
import os
import re
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

from edassets.settings import Settings

# What a user can get wrong (an unknown platform, a bad value, a missing file): exit 2.
# Anything else is a failure of edassets or its services: exit 1, like a failed run.
_INPUT_ERRORS = (KeyError, ValueError, OSError)
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A database URL in an error may carry its password (postgresql://user:secret@host/db).
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):[^/\s@]+@")


class UsageError(ValueError):
    """A command-line value refused before anything runs, worded by the command line itself.

    Printed as it is: it holds only what the user typed and the accepted values, so it
    skips the masking of library messages (whose import alone would take a second).
    """


def delivery_day(text: str | None, go_live: date, today: date | None = None) -> str:
    """The day of a run, checked against the daily partitions that exist.

    The daily partitions are UTC days from go-live up to and including today
    (`edassets/assets/partitions.py`); any other day has no partition to run.

    Args:
        text: the `--date` value, YYYY-MM-DD; None means today.
        go_live: the first partition day (`Settings.go_live`).
        today: today's UTC date (default: now).

    Returns:
        The day as YYYY-MM-DD.

    Raises:
        UsageError: not a YYYY-MM-DD date, or outside go-live..today; the message says both.
    """
    today = today or datetime.now(UTC).date()
    if text is None:
        return today.isoformat()
    expected = f"expected YYYY-MM-DD from {go_live} (go-live) to {today} (today, UTC)"
    try:
        # fromisoformat alone also takes 20260302 and 2026-W10-1; partition keys are YYYY-MM-DD.
        day = date.fromisoformat(text) if _ISO_DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise UsageError(f"--date {text!r} is not a date: {expected}")
    if not go_live <= day <= today:
        raise UsageError(f"--date {text} has no partition: {expected}")
    return day.isoformat()


def error_line(error: BaseException) -> str:
    """One readable line for an error, credentials masked.

    Args:
        error: what a command raised.

    Returns:
        The first line of its message; for an unexpected error type (not a bad input) the
        type's name comes first, so a crash is not mistaken for a user mistake.
    """
    if isinstance(error, UsageError):
        return str(error)
    # str(KeyError) is the repr of its argument: quotes around a sentence.
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    first = next((line.strip() for line in message.splitlines() if line.strip()), "")
    if not isinstance(error, _INPUT_ERRORS):
        first = f"{type(error).__name__}: {first}" if first else type(error).__name__
    from edassets.adapters.http.redaction import redact_text

    return redact_text(_URL_PASSWORD.sub(r"\1:***@", first))


def _cmd_run(args: argparse.Namespace) -> int:
    """`import`, `sync` and `replay`: one platform run, one summary, exit 1 only on a run failure.

    Only `import` may add a district: `sync` and `replay` need its registry entry (endpoint,
    credentials, history), so an unknown district there is a typo or a missing entry.
    """
    settings = Settings.from_env()
    day = delivery_day(args.date, settings.go_live)
    from edassets.runs import print_outcome, run_platform

    outcome = run_platform(args.platform, args.district, day, paths=getattr(args, "paths", ()),
                           replay=args.command == "replay", timezone=getattr(args, "timezone", None),
                           onboard=args.command == "import", settings=settings)
    print_outcome(outcome)
    return 1 if outcome.failure else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from edassets.demo.sandbox_demo import print_demo, run_demo

    settings = Settings.from_env()
    result = run_demo(args.students, settings)
    print_demo(result, settings)
    return 1 if any(o.failure for o in result.outcomes) else 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from edassets.demo.sandbox_demo import SANDBOX_SEED, demo_world_options
    from edassets.sandbox.server import serve

    serve(args.port, demo_world_options(args.students), seed=SANDBOX_SEED, today=date.fromisoformat(args.today))
    return 0


def _cmd_new_platform(args: argparse.Namespace) -> int:
    from edassets.scaffold import new_platform, source_checkout

    root = source_checkout()
    for path in new_platform(args.name, args.kind, root):
        print(f"wrote {path.relative_to(root)}")
    print(f"{args.name} is registered: edit its mapping and its emulator to the vendor's format, then run the tests")
    return 0


def _cmd_db_upgrade(_: argparse.Namespace) -> int:
    from edassets.resources.warehouse import upgrade_schema

    settings = Settings.from_env()
    upgrade_schema(settings.warehouse_url)
    print("warehouse schema is up to date")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edassets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    importer = commands.add_parser("import", help="import files a district handed over")
    importer.add_argument("platform", help="a file-drop platform (see the README's platform table)")
    importer.add_argument("paths", nargs="+", help="files, folders or zip bundles")
    importer.add_argument("--district", required=True, help="district id (normalised to [a-z0-9_-]); a new one is registered")
    importer.add_argument("--date", help="delivery date YYYY-MM-DD, go-live to today (default today, UTC)")
    importer.add_argument("--timezone", help="IANA time zone of a new district (default UTC)")
    importer.set_defaults(handler=_cmd_run)

    sync = commands.add_parser("sync", help="fetch a registered district's data from an API platform")
    sync.add_argument("platform", help="an API platform (see the README's platform table)")
    sync.add_argument("--district", required=True, help="registered district id")
    sync.add_argument("--date", help="partition day YYYY-MM-DD, go-live to today (default today, UTC)")
    sync.set_defaults(handler=_cmd_run)

    replay = commands.add_parser("replay", help="rebuild parsed → loaded from the archive, without refetching")
    replay.add_argument("platform")
    replay.add_argument("--district", required=True, help="registered district id")
    replay.add_argument("--date", required=True, help="the partition day to rebuild, YYYY-MM-DD")
    replay.set_defaults(handler=_cmd_run)

    demo = commands.add_parser("demo", help="sync one synthetic district per roster platform from the sandbox through every platform")
    demo.add_argument("--students", type=int, default=600, help="students per demo district")
    demo.set_defaults(handler=_cmd_demo)

    sandbox = commands.add_parser("sandbox", help="serve the provider sandbox (the demo's world) until interrupted")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--students", type=int, default=600, help="students per district")
    sandbox.add_argument("--today", default="2026-01-12", help="the day the APIs serve (the world's first sync date)")
    sandbox.set_defaults(handler=_cmd_sandbox)

    scaffold = commands.add_parser("new-platform", help="write a working platform module, emulator, fixture and test")
    scaffold.add_argument("name", help="the platform id: lower-case snake_case (letters, digits, single underscores)")
    scaffold.add_argument("--kind", required=True, choices=("csv", "api", "push"),
                          help="csv: a handed-over export; api: an API-key REST API; push: not yet supported")
    scaffold.set_defaults(handler=_cmd_new_platform)

    database = commands.add_parser("db", help="warehouse administration")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    upgrade = database_commands.add_parser("upgrade", help="apply migrations to the configured warehouse")
    upgrade.set_defaults(handler=_cmd_db_upgrade)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edassets` console script.

    Every error ends in one line on stderr, never a traceback (EDASSETS_DEBUG=1 shows it):
    exit 2 for a bad input, 1 for anything else.
    """
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("edassets: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("EDASSETS_DEBUG") == "1":
            raise
        print(f"edassets: {error_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, _INPUT_ERRORS) else 1


if __name__ == "__main__":
    sys.exit(main())
