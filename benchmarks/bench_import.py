"""End to end: a OneRoster CSV import of N users, then a MAP Growth import of N results.

Not a test (pytest never collects it). Targets (README): 200,000 OneRoster users in ≤ 20 s
with ≤ 600 MB peak memory on the embedded default, ≤ 15 s on PostgreSQL. Run from the
repository root::

    .venv/bin/python -m benchmarks.bench_import [--users 200000] [--warehouse sqlite|postgres|both]
                                                [--repeat 1] [--profile DIR] [--steps]

What is generated (deterministic, made up, ``example.org`` e-mails: no real person):

* a OneRoster 1.1 zip bundle: ``users.csv`` with N users (90% students, 10% teachers),
  ``demographics.csv`` (a birth date per student), ``orgs.csv`` (the district and one
  school per 1,000 students), ``academicSessions.csv`` (a school year and two semesters),
  ``courses.csv`` (3 subjects × 13 grades), ``classes.csv`` (one homeroom of 25 per
  grade group) and ``enrollments.csv`` (every student in their homeroom plus one teacher
  per class: about 1.04 × students rows). Real districts enrol a student in 4-6 classes;
  the enrollments are kept minimal so the figure is about users, which is what the
  target counts.
* a MAP Growth export of N rows for the same students: ``AssessmentResults.csv`` (the
  full current header; RIT, percentile, lexile, goal and growth columns filled) and
  ``StudentsBySchool.csv`` (one row per tested student, for the grade).

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
import csv
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
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/edassets_bench"
DISTRICT = "bench-usd"
DAY = "2026-01-12"
STUDENT_SHARE = 0.9
STUDENTS_PER_SCHOOL = 1_000
CLASS_SIZE = 25
ONEROSTER_TABLES = ("district", "school", "academic_session", "course", "class", "person", "person_identifier",
                    "enrollment")
TARGETS = {"sqlite": (20.0, 600), "postgres": (15.0, 600)}  # OneRoster import: seconds, MB

# --- synthetic files ------------------------------------------------------------------------

_GRADES = ("KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
_NWEA_GRADES = ("K", *(str(g) for g in range(1, 13)))
_SUBJECTS = (("Mathematics", "Math K-12", "Math"), ("Language Arts", "Reading", "Reading"),
             ("Language Arts", "Language Usage", "Language"))
_GIVEN = ("Olivia", "Liam", "Emma", "Noah", "Ava", "Mateo", "Mia", "Lucas", "Aria", "Elijah",
          "Luna", "James", "Zoey", "Levi", "Nora", "Owen")
_FAMILY = ("Smith", "Garcia", "Nguyen", "Brown", "Lopez", "Walker", "Reyes", "Adams", "Turner",
           "Collins", "Rivera", "Baker", "Carter", "Flores", "Mitchell", "Young")
_USERS_HEADER = ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
                 "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
                 "sms", "phone", "agentSourcedIds", "grades", "password")
_MANIFEST_FILES = ("academicSessions", "categories", "classes", "classResources", "courses",
                   "courseResources", "demographics", "enrollments", "lineItems", "orgs", "resources",
                   "results", "users")


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


def _ids(prefix: str, n: int, seed: int) -> np.ndarray:
    """Deterministic GUID-shaped ids (real OneRoster sourcedIds are GUIDs)."""
    raw = np.random.default_rng(seed).integers(0, 2**63, size=(n, 2), dtype=np.int64)
    return np.array([f"{prefix}{uuid.UUID(int=(int(a) << 64) | int(b))}"[-36:] for a, b in raw.tolist()], dtype=object)


def _strs(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def _write(path: Path, columns: dict[str, object], header: tuple[str, ...] | None = None) -> None:
    """Write a CSV with `header` (columns it lacks stay empty), quoting only where needed."""
    header = header or tuple(columns)
    n = next(len(v) for v in columns.values() if not isinstance(v, str))
    arrays = []
    for name in header:
        values = columns.get(name)
        if values is None:
            arrays.append(pa.nulls(n, pa.string()))
        elif isinstance(values, str):
            arrays.append(pa.array([values] * n, pa.string()))
        elif isinstance(values, pa.Array):
            arrays.append(values.cast(pa.string()))
        else:
            arrays.append(pa.array(values, pa.string()))
    options = pa_csv.WriteOptions(quoting_style="needed")
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=list(header)), str(path), options)


def generate(out: Path, users: int, map_results: int) -> tuple[Path, Path, Sizes]:
    """Write the OneRoster zip and the MAP folder under `out`; return their paths and sizes."""
    students = max(1, round(users * STUDENT_SHARE))
    teachers = users - students
    schools = -(-students // STUDENTS_PER_SCHOOL)
    rng = np.random.default_rng(20260112)
    folder = out / "oneroster"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = "2025-08-15T12:00:00.000Z"

    district_id = "d0000000-0000-4000-8000-000000000001"
    school_ids = _ids("", schools, 1)
    year_id, fall_id, spring_id = "s-2026", "s-2026-fall", "s-2026-spring"
    _write(folder / "orgs.csv", {
        "sourcedId": [district_id, *school_ids], "status": "active", "dateLastModified": stamp,
        "name": ["Bench Unified School District", *(f"Bench School {i + 1}" for i in range(schools))],
        "type": ["district", *(["school"] * schools)],
        "identifier": ["0600001", *(f"{1000 + i}" for i in range(schools))],
        "parentSourcedId": [None, *([district_id] * schools)],
    })
    _write(folder / "academicSessions.csv", {
        "sourcedId": [year_id, fall_id, spring_id], "status": "active", "dateLastModified": stamp,
        "title": ["2025-2026", "Fall 2025", "Spring 2026"], "type": ["schoolYear", "semester", "semester"],
        "startDate": ["2025-08-15", "2025-08-15", "2026-01-05"], "endDate": ["2026-06-10", "2025-12-19", "2026-06-10"],
        "parentSourcedId": [None, year_id, year_id], "schoolYear": "2026",
    })
    course_ids = [f"c-{g}-{s[2].lower()}" for g in _GRADES for s in _SUBJECTS]
    _write(folder / "courses.csv", {
        "sourcedId": course_ids, "status": "active", "dateLastModified": stamp,
        "schoolYearSourcedId": year_id, "title": [f"{s[2]} {g}" for g in _GRADES for s in _SUBJECTS],
        "courseCode": [f"{s[2][:4].upper()}-{g}" for g in _GRADES for s in _SUBJECTS],
        "grades": [g for g in _GRADES for _ in _SUBJECTS], "orgSourcedId": district_id,
        "subjects": [s[0] for _ in _GRADES for s in _SUBJECTS],
    })

    # Students fill schools, then homerooms of 25, in order; a homeroom has one grade.
    student_school = np.arange(students) * schools // students
    student_class = np.arange(students) // CLASS_SIZE
    classes = int(student_class[-1]) + 1
    class_grade = np.arange(classes) % len(_GRADES)
    class_school = student_school[np.arange(classes) * CLASS_SIZE]
    class_ids = _ids("", classes, 2)
    _write(folder / "classes.csv", {
        "sourcedId": class_ids, "status": "active", "dateLastModified": stamp,
        "title": [f"Homeroom {i + 1}" for i in range(classes)], "grades": np.array(_GRADES, dtype=object)[class_grade],
        "courseSourcedId": np.array(course_ids, dtype=object)[class_grade * len(_SUBJECTS)],
        "classCode": [f"HR-{i + 1}" for i in range(classes)], "classType": "homeroom",
        "location": [f"Room {100 + i % 300}" for i in range(classes)],
        "schoolSourcedId": school_ids[class_school], "termSourcedIds": year_id,
    })

    user_ids = _ids("", users, 3)
    is_student = np.arange(users) < students
    teacher_school = np.arange(teachers) * schools // max(teachers, 1)
    school_of = np.concatenate([school_ids[student_school], school_ids[teacher_school]])
    given = np.array(_GIVEN, dtype=object)[rng.integers(0, len(_GIVEN), users)]
    family = np.array(_FAMILY, dtype=object)[rng.integers(0, len(_FAMILY), users)]
    number = np.arange(users)
    sis = np.where(is_student, 100_000_000 + number, 900_000_000 + number)
    sis_text = _strs(sis).to_numpy(zero_copy_only=False)
    login = (np.char.lower(given.astype(str)) + "." + np.char.lower(family.astype(str)) + "."
             + np.char.mod("%d", number)).astype(object)
    grade_index = class_grade[student_class]
    student_grade = np.array(_GRADES, dtype=object)[grade_index]
    _write(folder / "users.csv", {
        "sourcedId": user_ids, "status": "active", "dateLastModified": stamp, "enabledUser": "true",
        "orgSourcedIds": school_of, "role": np.where(is_student, "student", "teacher").astype(object),
        "username": login, "userIds": np.where(is_student, "{State:" + (sis_text.astype(str)) + "}", None),
        "givenName": given, "familyName": family,
        "middleName": np.array(["A", "B", "C", "D", None], dtype=object)[number % 5],
        "identifier": sis_text, "email": (login + "@example.org").astype(object),
        "grades": np.concatenate([student_grade, np.full(teachers, None, dtype=object)]),
    }, _USERS_HEADER)
    birth = np.datetime64("2008-09-01") + rng.integers(0, 13 * 365, students).astype("timedelta64[D]")
    _write(folder / "demographics.csv", {
        "sourcedId": user_ids[:students], "status": "active", "dateLastModified": stamp,
        "birthDate": np.datetime_as_string(birth, unit="D").astype(object),
        "sex": np.where(number[:students] % 2 == 0, "female", "male").astype(object),
    })
    teachers_in_class = min(classes, teachers)
    enrollment_ids = _ids("", students + teachers_in_class, 4)
    _write(folder / "enrollments.csv", {
        "sourcedId": enrollment_ids, "status": "active", "dateLastModified": stamp,
        "classSourcedId": np.concatenate([class_ids[student_class], class_ids[:teachers_in_class]]),
        "schoolSourcedId": np.concatenate([school_ids[student_school], school_ids[class_school[:teachers_in_class]]]),
        "userSourcedId": np.concatenate([user_ids[:students], user_ids[students:students + teachers_in_class]]),
        "role": np.array(["student"] * students + ["teacher"] * teachers_in_class, dtype=object),
        "primary": np.array(["false"] * students + ["true"] * teachers_in_class, dtype=object),
        "beginDate": "2025-08-15", "endDate": "2026-06-10",
    })
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        rows = [("manifest.version", "1.0"), ("oneroster.version", "1.1")]
        written = {p.stem for p in folder.glob("*.csv")}
        rows += [(f"file.{name}", "bulk" if name in written else "absent") for name in _MANIFEST_FILES]
        csv.writer(fh, lineterminator="\n").writerows([("propertyName", "value"), *rows])
    bundle = out / "oneroster.zip"
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.glob("*.csv")):
            zf.write(path, path.name)

    nwea = _nwea(out / "nwea", rng, map_results, students, sis_text, given, family, grade_index,
                 np.array([f"Bench School {i + 1}" for i in range(schools)], dtype=object)[student_school], birth)
    sizes = Sizes(users, students, teachers, schools, classes, students + teachers_in_class, map_results)
    return bundle, nwea, sizes


def _nwea(folder: Path, rng: np.random.Generator, m: int, students: int, sis: np.ndarray, given: np.ndarray,
          family: np.ndarray, grade: np.ndarray, school: np.ndarray, birth: np.ndarray) -> Path:
    """AssessmentResults.csv with `m` rows (student r % students, subject r // students) and StudentsBySchool.csv."""
    from edassets.demo.synthetic import NWEA_ASSESSMENT_RESULTS_HEADER, NWEA_STUDENTS_BY_SCHOOL_HEADER

    folder.mkdir(parents=True, exist_ok=True)
    term = "Fall 2025-2026"
    student = np.arange(m) % students
    kind = (np.arange(m) // students) % len(_SUBJECTS)
    rit = rng.integers(150, 250, m)
    pct = np.clip((rit - 150) * 98 // 100 + 1, 1, 99)
    days = np.array([f"09/{d:02d}/2025" for d in range(2, 30)], dtype=object)
    quintile = np.array(["Low", "LoAvg", "Avg", "HiAvg", "High"], dtype=object)[(pct - 1) * 5 // 99]
    stem = np.array([s[2] for s in _SUBJECTS], dtype=object)[kind]
    results: dict[str, object] = {
        "TermName": term, "DistrictName": "Bench Unified School District", "SchoolName": school[student],
        "StudentID": sis[student], "Subject": np.array([s[0] for s in _SUBJECTS], dtype=object)[kind],
        "Course": np.array([s[1] for s in _SUBJECTS], dtype=object)[kind], "GrowthMeasureYN": "TRUE",
        "NormsReferenceData": "2020", "TestType": "Survey With Goals",
        "TestName": "Growth: " + stem + " CCSS 2010", "TestID": _strs(710_000_000 + np.arange(m)),
        "TestStartDate": days[rng.integers(0, days.size, m)],
        "TestStartTime": np.char.mod("%02d:", rng.integers(8, 15, m)).astype(object) + np.char.mod(
            "%02d:00", rng.integers(0, 60, m)).astype(object),
        "TestDurationMinutes": _strs(rng.integers(20, 61, m)), "TestRITScore": _strs(rit),
        "TestStandardError": np.char.mod("%.1f", 3.0 + rng.random(m)).astype(object),
        "TestPercentile": _strs(pct), "AchievementQuintile": quintile,
        "LexileScore": np.where(kind == 1, np.char.mod("%dL", 10 * rit - 1400), None),
        "FallToSpringProjectedGrowth": _strs(rng.integers(3, 16, m)), "TypicalFallToSpringGrowth": _strs(rng.integers(3, 16, m)),
    }
    for goal in range(1, 5):
        score = rit + rng.integers(-8, 9, m)
        results[f"Goal{goal}Name"] = f"Goal area {goal}"
        results[f"Goal{goal}RitScore"] = _strs(score)
        results[f"Goal{goal}StdErr"] = "6.3"
        results[f"Goal{goal}Range"] = _strs(score - 6).to_numpy(zero_copy_only=False) + "-" + _strs(score + 6).to_numpy(zero_copy_only=False)
        results[f"Goal{goal}Adjective"] = quintile
    _write(folder / "AssessmentResults.csv", results, NWEA_ASSESSMENT_RESULTS_HEADER)
    tested = np.unique(student)
    nwea_grade = np.array(_NWEA_GRADES, dtype=object)[grade[tested]]
    _write(folder / "StudentsBySchool.csv", {
        "TermName": term, "DistrictName": "Bench Unified School District", "SchoolName": school[tested],
        "StudentLastName": family[tested], "StudentFirstName": given[tested], "StudentID": sis[tested],
        "StudentDateOfBirth": np.array([f"{d[5:7]}/{d[8:10]}/{d[:4]}" for d in np.datetime_as_string(birth[tested], unit="D")], dtype=object),
        "StudentGender": np.where(tested % 2 == 0, "F", "M").astype(object), "Grade": nwea_grade,
    }, NWEA_STUDENTS_BY_SCHOOL_HEADER)
    return folder


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
