"""End to end: a OneRoster CSV import of N users, then a MAP Growth import of N results.

Not a test (pytest never collects it). Targets (README): 200,000 OneRoster users in ≤ 20 s
with ≤ 600 MB peak memory on the embedded default, ≤ 15 s on PostgreSQL. Run from the
repository root::

    .venv/bin/python -m benchmarks.bench_import [--users 200000] [--warehouse sqlite|postgres|both]
                                                [--repeat 1] [--profile DIR] [--steps]

What is imported: one district of the sandbox world (`edassets.sandbox.world`, made up,
``example.org`` e-mails: no real person) on its first sync day, rendered by the sandbox's own
renderers (`edassets.sandbox.render`), with about N/1.95 students so that the bundle holds
about N users:

* a OneRoster 1.1 zip bundle: ``users.csv`` with about N users (students, a teacher per 18
  students, district administrators, guardians of 60% of the students), ``demographics.csv``,
  ``orgs.csv`` (one school per 500 students), ``academicSessions.csv``, ``courses.csv``,
  ``classes.csv`` (sections of up to 25) and ``enrollments.csv``. The world enrols a student
  in 4-7 classes as real districts do; the bundle keeps each student's Mathematics seat and
  the teachers of those classes, so that the figure is about users, which is what the
  target counts.
* the district's MAP Growth export: ``AssessmentResults.csv`` (the world has 1-3 fall
  results per student from kindergarten up, about N in all, cut to ``--map-rows``; the
  lexile, growth and goal columns the world leaves blank are filled from each row's RIT)
  and ``StudentsBySchool.csv`` (one row per tested student, for the grade).

A district of this size is beyond any real one (`MAX_STUDENTS`): the spec asks for it with
``benchmark_scale``. The world is generated in a few seconds (vectorised; the "generated in"
line includes rendering and writing).

Each import runs in a fresh Python process (`edassets.runs.run_platform`, the same call
as ``edassets import``) with a temporary EDASSETS_HOME and DAGSTER_HOME, so its peak RSS
is its own; OneRoster and MAP share one home, as a district's two imports would. On
PostgreSQL the benchmark database (``EDASSETS_BENCH_PG_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/edassets_bench``) is dropped and
recreated before every repeat. The COPY floor is a plain ``COPY`` of the loaded rows of
every table the import writes into unindexed copies of them; the indexed floor copies them
into copies with the tables' own indexes (what any loader keeping them must pay). The
machine is shared and noisy, so the ratio to the floor is the figure to compare across runs,
and the import process's own CPU seconds (``cpu s``: it waits for other processes' load far
less than the wall clock does; PostgreSQL's own work is not in it).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edassets.sandbox.world import WorldState

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/edassets_bench"
DISTRICT = "bench-usd"
DAY = "2026-01-12"  # the world's first sync: every record as created, nothing withdrawn yet
SEED = 20260112
USERS_PER_STUDENT = 1.95  # the world's: 1 + 1/18 teachers + 0.9 guardians (60% of students, half with two)
ONEROSTER_TABLES = ("district", "school", "academic_session", "course", "class", "person", "person_identifier",
                    "enrollment")
TARGETS = {"sqlite": (20.0, 600), "postgres": (15.0, 600)}  # OneRoster import: seconds, MB


@dataclass(frozen=True)
class Sizes:
    """Row counts of one generated district."""

    users: int
    students: int
    teachers: int
    schools: int
    classes: int
    enrollments: int
    map_results: int


def _bench_state(users: int, map_results: int) -> WorldState:
    """The district on `DAY`, with one class per student and the first `map_results` MAP results."""
    # Imported here: the import children load this module too, and the world is not part of their RSS.
    from edassets.sandbox.world import MIN_STUDENTS, DistrictSpec, World, WorldOptions

    students = max(MIN_STUDENTS, round(users / USERS_PER_STUDENT))
    spec = DistrictSpec(DISTRICT, "Bench Unified School District", students, "oneroster_csv", benchmark_scale=True)
    state = World.generate(WorldOptions(districts=(spec,), seed=SEED)).state(DISTRICT, date.fromisoformat(DAY))
    if map_results > len(state.assessment_results):
        raise SystemExit(f"--map-rows {map_results:,}: a world of {users:,} users has only "
                         f"{len(state.assessment_results):,} MAP results; ask for more --users")
    maths = state.classes.loc[state.classes["subject"] == "Mathematics", "class_key"]
    return replace(state, enrollments=state.enrollments[state.enrollments["class_key"].isin(maths)],
                   assessment_results=state.assessment_results.iloc[:map_results])


def _fill_score_details(results_csv: bytes) -> bytes:
    """The export with the columns the world does not model yet filled from each row's RIT.

    Lexile (Reading), fall-to-spring growth and four goal areas: the import builds its goal
    and growth JSON from them, a large part of its work that blank columns would not measure.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pa_csv

    header = results_csv[: results_csv.index(b"\n")].decode().split(",")
    table = pa_csv.read_csv(pa.py_buffer(results_csv), convert_options=pa_csv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False))
    rng = np.random.default_rng(SEED)
    rit = pc.cast(table["TestRITScore"], pa.int64()).to_numpy()
    m = len(rit)

    def text(values: np.ndarray) -> pa.Array:
        return pa.array(values.astype(np.int64)).cast(pa.string())

    reading = pc.equal(table["Course"], "Reading").to_numpy(zero_copy_only=False)
    filled = {
        "LexileScore": pc.if_else(reading, pc.binary_join_element_wise(text(10 * rit - 1400), "L", ""), ""),
        "FallToSpringProjectedGrowth": text(rng.integers(3, 16, m)),
        "TypicalFallToSpringGrowth": text(rng.integers(3, 16, m)),
    }
    for goal in range(1, 5):
        score = rit + rng.integers(-8, 9, m)
        filled |= {f"Goal{goal}Name": pa.repeat(pa.scalar(f"Goal area {goal}"), m), f"Goal{goal}RitScore": text(score),
                   f"Goal{goal}StdErr": pa.repeat(pa.scalar("6.3"), m),
                   f"Goal{goal}Range": pc.binary_join_element_wise(text(score - 6), text(score + 6), "-"),
                   f"Goal{goal}Adjective": table["AchievementQuintile"]}
    for name, values in filled.items():
        table = table.set_column(header.index(name), name, values)
    out = io.BytesIO()
    out.write(results_csv[: results_csv.index(b"\n") + 1])  # NWEA's header line is not quoted
    pa_csv.write_csv(table, out, pa_csv.WriteOptions(include_header=False, quoting_style="all_valid"))
    return out.getvalue()


def generate(out: Path, users: int, map_results: int) -> tuple[Path, Path, Sizes]:
    """Write the OneRoster zip and the MAP folder under `out`; return their paths and sizes."""
    from edassets.sandbox.emulators import EMULATORS

    state = _bench_state(users, map_results)
    bundle = out / "oneroster.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in EMULATORS["oneroster_csv"].render(state).items():
            zf.writestr(name, data)
    nwea = out / "nwea"
    nwea.mkdir(parents=True, exist_ok=True)
    export = EMULATORS["nwea_map"].render(state)
    export["AssessmentResults.csv"] = _fill_score_details(export["AssessmentResults.csv"])
    for name, data in export.items():
        (nwea / name).write_bytes(data)
    roles = state.persons["role"]
    sizes = Sizes(len(state.persons), int((roles == "student").sum()), int((roles == "teacher").sum()),
                  len(state.schools), len(state.classes), len(state.enrollments), len(state.assessment_results))
    return bundle, nwea, sizes


# --- the child: one import in its own process ------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def child(platform: str, paths: list[str], profile: str | None) -> None:
    """Run one import; print one JSON line with wall seconds, peak RSS and per-step figures."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            samples.append((time.time(), _rss_mb()))

    from edassets import runs  # imports are part of the fixed cost but not of the timed wall

    sampler = threading.Thread(target=sample, daemon=True)
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started_at, started = time.time(), time.perf_counter()
    sampler.start()
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    outcome = runs.run_platform(platform, DISTRICT, DAY, paths=paths, timezone="America/Chicago")
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    wall = time.perf_counter() - started
    done.set()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024
    steps = _step_figures(samples, started_at)
    print("BENCH " + json.dumps({
        "wall": wall, "cpu": usage.ru_utime + usage.ru_stime - cpu_before, "peak_mb": peak,
        "failure": outcome.failure, "steps": steps,
        "feeds": [[f.feed, f.received, f.loaded, f.quarantined, f.status] for f in outcome.feeds],
    }), flush=True)


def _step_figures(samples: list[tuple[float, float]], since: float) -> list[list[object]]:
    """[step, seconds, peak RSS MB during the step, RSS MB at its start] of the latest run, in start order."""
    import dagster as dg

    instance = dg.DagsterInstance.get()
    run = instance.get_runs(limit=1)[0]
    starts: dict[str, float] = {}
    figures = []
    for entry in instance.all_logs(run.run_id):
        if not entry.is_dagster_event or entry.step_key is None:
            continue
        kind = entry.dagster_event.event_type_value
        if kind == "STEP_START":
            starts[entry.step_key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and entry.step_key in starts:
            begin, end = starts[entry.step_key], entry.timestamp
            rss = [mb for t, mb in samples if begin <= t <= end]
            figures.append([entry.step_key, end - begin, max(rss, default=0.0), rss[0] if rss else 0.0])
    return figures


# --- the parent ----------------------------------------------------------------------------


def _run_child(platform: str, paths: list[str], env: dict[str, str], profile: Path | None) -> dict:
    command = [sys.executable, "-m", "benchmarks.bench_import", "--child", platform, *paths]
    if profile:
        command += ["--profile", str(profile)]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    process = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith("BENCH ")]
    if done.returncode or not lines:
        raise RuntimeError(f"{platform} import crashed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(lines[-1][len("BENCH "):]), "process": process}


def _psql(url: str, statement: str) -> None:
    import psycopg

    maintenance = url.replace("postgresql+psycopg://", "postgresql://").rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(statement)


def _reset_pg(url: str) -> None:
    from psycopg import sql

    name = url.rsplit("/", 1)[1]
    _psql(url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)).as_string())
    _psql(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)).as_string())


def copy_floor(url: str, table: str, *, with_indexes: bool = False) -> tuple[int, float]:
    """(rows, seconds) of a plain COPY of `table`'s rows into an empty copy of it.

    Without indexes it is the floor of moving the bytes; with the table's own indexes
    (`with_indexes`) it is the floor of any load that keeps them, whatever the loader does.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        buffer = io.BytesIO()
        with connection.cursor() as cursor, cursor.copy(
            sql.SQL("COPY {} TO STDOUT (FORMAT csv)").format(sql.Identifier(table))
        ) as copy:
            for chunk in copy:
                buffer.write(chunk)
        floor = sql.Identifier(f"_floor_{table}")
        like = sql.SQL("INCLUDING INDEXES") if with_indexes else sql.SQL("")
        connection.execute(sql.SQL("CREATE TABLE {} (LIKE {} {})").format(floor, sql.Identifier(table), like))
        data = buffer.getvalue()
        started = time.perf_counter()
        with connection.cursor() as cursor, cursor.copy(sql.SQL("COPY {} FROM STDIN (FORMAT csv)").format(floor)) as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])
        connection.commit()
        seconds = time.perf_counter() - started
        rows = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(floor)).fetchone()[0]
        connection.execute(sql.SQL("DROP TABLE {}").format(floor))
        connection.commit()
    return rows, seconds


@dataclass
class Figure:
    warehouse: str
    platform: str
    wall: float
    cpu: float
    peak_mb: float
    floor_s: float | None
    indexed_floor_s: float | None
    steps: list[list[object]]
    feeds: list[list[object]]


def bench_once(warehouse: str, bundle: Path, nwea: Path, pg_url: str, profile: Path | None, repeat: int) -> list[Figure]:
    """One OneRoster then one MAP import into a fresh home (and fresh database)."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="edassets-bench-") as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EDASSETS_", "DAGSTER_"))}
        env.update(EDASSETS_HOME=home, DAGSTER_HOME=str(Path(home) / "dagster"))
        if warehouse == "postgres":
            _reset_pg(pg_url)
            env["EDASSETS_WAREHOUSE_URL"] = pg_url
        for platform, paths, tables in (("oneroster_csv", [str(bundle)], ONEROSTER_TABLES),
                                        ("nwea_map", [str(nwea)], ("assessment_result",))):
            prof = profile / f"{warehouse}-{platform}-{repeat}.prof" if profile else None
            result = _run_child(platform, paths, env, prof)
            if result["failure"]:
                raise RuntimeError(f"{warehouse} {platform}: {result['failure']}")
            floor = indexed = None
            if warehouse == "postgres":
                floor = sum(copy_floor(pg_url, table)[1] for table in tables)
                indexed = sum(copy_floor(pg_url, table, with_indexes=True)[1] for table in tables)
            figures.append(Figure(warehouse, platform, result["wall"], result["cpu"], result["peak_mb"], floor, indexed,
                                  result["steps"], result["feeds"]))
    return figures


def main() -> None:
    """Generate the files, run the imports and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--map-rows", type=int, default=None, help="MAP result rows (default: --users)")
    parser.add_argument("--warehouse", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=Path, default=None, help="folder for cProfile dumps (one per import)")
    parser.add_argument("--steps", action="store_true", help="print every step's seconds and peak RSS")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:], str(args.profile) if args.profile else None)
        return

    pg_url = os.environ.get("EDASSETS_BENCH_PG_URL", DEFAULT_PG_URL)
    warehouses = ("sqlite", "postgres") if args.warehouse == "both" else (args.warehouse,)
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="edassets-bench-files-") as files:
        started = time.perf_counter()
        bundle, nwea, sizes = generate(Path(files), args.users, args.map_rows or args.users)
        print(f"generated in {time.perf_counter() - started:.1f} s: {sizes.users:,} users ({sizes.students:,} students, "
              f"{sizes.teachers:,} teachers), {sizes.schools} schools, {sizes.classes:,} classes, "
              f"{sizes.enrollments:,} enrollments, {sizes.map_results:,} MAP rows; "
              f"zip {bundle.stat().st_size / 2**20:.1f} MB, "
              f"AssessmentResults {(nwea / 'AssessmentResults.csv').stat().st_size / 2**20:.1f} MB")
        results: dict[tuple[str, str], list[Figure]] = {}
        for repeat in range(args.repeat):
            for warehouse in warehouses:
                for figure in bench_once(warehouse, bundle, nwea, pg_url, args.profile, repeat):
                    results.setdefault((figure.warehouse, figure.platform), []).append(figure)
                    floor = (f"  COPY floor {figure.floor_s:.2f} s, into the indexed tables {figure.indexed_floor_s:.2f} s"
                             if figure.floor_s else "")
                    print(f"  run {repeat + 1}: {warehouse:<8} {figure.platform:<14} {figure.wall:6.1f} s  "
                          f"(client CPU {figure.cpu:5.1f} s)  "
                          f"peak {figure.peak_mb:6.0f} MB{floor}", flush=True)
    _print_table(results, sizes)
    if args.steps:
        _print_steps(results)
    if args.warehouse == "postgres":
        _psql(pg_url, f"DROP DATABASE IF EXISTS {pg_url.rsplit('/', 1)[1]} WITH (FORCE)")


def _print_table(results: dict[tuple[str, str], list[Figure]], sizes: Sizes) -> None:
    print()
    print(f"{'warehouse':<9} {'import':<14} {'rows':>9} {'wall s':>7} {'cpu s':>6} {'rows/s':>8} {'peak MB':>8} "
          f"{'floor s':>8} {'× floor':>8} {'idx floor':>9} {'loaded s':>9} {'target':>14}")
    for (warehouse, platform), figures in results.items():
        wall = statistics.median(f.wall for f in figures)
        cpu = statistics.median(f.cpu for f in figures)
        peak = max(f.peak_mb for f in figures)
        rows = sizes.users if platform == "oneroster_csv" else sizes.map_results
        floors = [f.floor_s for f in figures if f.floor_s]
        floor = statistics.median(floors) if floors else None
        indexed = statistics.median(f.indexed_floor_s for f in figures) if floors else None
        loaded = statistics.median(sum(s[1] for s in f.steps if "__loaded__" in s[0]) for f in figures)
        target = ""
        if platform == "oneroster_csv":
            seconds, megabytes = TARGETS[warehouse]
            met = wall <= seconds and peak <= megabytes
            target = f"{'ok' if met else 'MISSED'} ≤{seconds:.0f}s/{megabytes}MB"
        floor_text = (f"{floor:8.2f} {wall / floor:8.0f} {indexed:9.2f}" if floor and indexed
                      else f"{'-':>8} {'-':>8} {'-':>9}")
        print(f"{warehouse:<9} {platform:<14} {rows:>9,} {wall:7.1f} {cpu:6.1f} {rows / wall:8,.0f} {peak:8.0f} "
              f"{floor_text} {loaded:9.1f} {target:>14}")


def _print_steps(results: dict[tuple[str, str], list[Figure]]) -> None:
    for (warehouse, platform), figures in results.items():
        figure = figures[-1]
        total = sum(s[1] for s in figure.steps)
        print(f"\n{warehouse} {platform}: {len(figure.steps)} steps, {total:.1f} s of {figure.wall:.1f} s wall in steps")
        for step, seconds, peak, start in sorted(figure.steps, key=lambda s: -s[1]):
            print(f"  {seconds:6.2f} s  peak {peak:6.0f} MB (from {start:6.0f} MB)  {step}")
        for feed in figure.feeds:
            print(f"  feed {feed}")


if __name__ == "__main__":
    main()
