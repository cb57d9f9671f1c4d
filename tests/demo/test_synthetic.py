"""Tests for the synthetic district: determinism, real formats, hygiene, and exact counts.

The counts are checked by a small validator written here, independently of the generator,
so ``expected`` and ``bad`` are proven against the files rather than against themselves.
"""

from __future__ import annotations

import csv
import os
import re
import time
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from edassets.demo.synthetic import (
    NWEA_ASSESSMENT_RESULTS_HEADER,
    NWEA_LEGACY_RENAMES,
    UNMATCHED_NWEA_STUDENTS,
    SyntheticFiles,
    SyntheticOptions,
    write_synthetic_district,
    zip_bundle,
)

# OneRoster's valid grade codes (K12_FORMATS.md §1.1), written out here on purpose.
ONEROSTER_GRADES = {"IT", "PR", "PK", "TK", "KG", "PS", "UG", "Other", *(f"{g:02d}" for g in range(1, 14))}
ONEROSTER_FILES = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")


def _shared_dir() -> Path:
    configured = os.environ.get("EDASSETS_SHARED_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parents[2].parent / "shared"


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows, tolerating a BOM and any line ending."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _iso(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _us_date(value: str) -> bool:
    try:
        datetime.strptime(value, "%m/%d/%Y")
    except ValueError:
        return False
    return True


def validate(files: SyntheticFiles) -> tuple[dict[str, int], dict[str, int]]:
    """Count valid and invalid data rows per file the way a downstream validator would."""
    oneroster, nwea = files.oneroster_dir, files.nwea_dir
    good: dict[str, int] = {}
    bad: dict[str, int] = {}

    def tally(name: str, rows: list[dict[str, str]], ok: list[bool]) -> None:
        good[name], bad[name] = sum(ok), len(rows) - sum(ok)

    for name in ("orgs.csv", "academicSessions.csv", "courses.csv"):
        rows = read_csv(oneroster / name)[1]
        tally(name, rows, [True] * len(rows))
    course_ids = {r["sourcedId"] for r in read_csv(oneroster / "courses.csv")[1]}

    users = read_csv(oneroster / "users.csv")[1]
    ok = [
        bool(u["sourcedId"]) and all(g in ONEROSTER_GRADES for g in u["grades"].split(",") if g)
        for u in users
    ]
    tally("users.csv", users, ok)
    valid_users = {u["sourcedId"]: u for u, fine in zip(users, ok, strict=True) if fine}

    classes = read_csv(oneroster / "classes.csv")[1]
    ok = [c["courseSourcedId"] in course_ids for c in classes]
    tally("classes.csv", classes, ok)
    valid_classes = {c["sourcedId"] for c, fine in zip(classes, ok, strict=True) if fine}

    enrollments = read_csv(oneroster / "enrollments.csv")[1]
    ok = [
        e["classSourcedId"] in valid_classes
        and e["userSourcedId"] in valid_users
        and _iso(e["beginDate"])
        and _iso(e["endDate"])
        for e in enrollments
    ]
    tally("enrollments.csv", enrollments, ok)

    demographics = read_csv(oneroster / "demographics.csv")[1]
    tally("demographics.csv", demographics, [d["sourcedId"] in valid_users for d in demographics])
    if (oneroster / "roles.csv").exists():
        roles = read_csv(oneroster / "roles.csv")[1]
        tally("roles.csv", roles, [r["userSourcedId"] in valid_users for r in roles])

    roster_ids = {u["identifier"] for u in valid_users.values() if u.get("role", "student") == "student"}
    results = read_csv(nwea / "AssessmentResults.csv")[1]
    ok = [
        r["StudentID"] in roster_ids
        and r["TestRITScore"].isdigit()
        and 100 <= int(r["TestRITScore"]) <= 350
        and _us_date(r["TestStartDate"])
        for r in results
    ]
    tally("AssessmentResults.csv", results, ok)
    if (nwea / "StudentsBySchool.csv").exists():
        students = read_csv(nwea / "StudentsBySchool.csv")[1]
        tally("StudentsBySchool.csv", students, [s["StudentID"] in roster_ids for s in students])
    return good, bad


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SyntheticFiles:
    return write_synthetic_district(tmp_path_factory.mktemp("clean"))


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> SyntheticFiles:
    return write_synthetic_district(tmp_path_factory.mktemp("faulty"), SyntheticOptions(bad_record_rate=0.1))


@pytest.fixture(scope="module")
def v12(tmp_path_factory: pytest.TempPathFactory) -> SyntheticFiles:
    options = SyntheticOptions(
        students=300,
        oneroster_version="1.2",
        bad_record_rate=0.05,
        nwea_legacy_columns=True,
        include_students_by_school=False,
    )
    return write_synthetic_district(tmp_path_factory.mktemp("v12"), options)


def _all_bytes(files: SyntheticFiles) -> dict[str, bytes]:
    return {
        p.name: p.read_bytes() for d in (files.oneroster_dir, files.nwea_dir) for p in sorted(d.iterdir())
    }


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    options = SyntheticOptions(students=200, bad_record_rate=0.1)
    first = write_synthetic_district(tmp_path / "a", options)
    second = write_synthetic_district(tmp_path / "b", options)
    other = write_synthetic_district(
        tmp_path / "c", SyntheticOptions(students=200, bad_record_rate=0.1, seed=8)
    )

    assert _all_bytes(first) == _all_bytes(second)
    assert (first.expected, first.bad) == (second.expected, second.bad)
    differing = {n for n, data in _all_bytes(other).items() if data != _all_bytes(first)[n]}
    assert {"users.csv", "enrollments.csv", "demographics.csv", "AssessmentResults.csv"} <= differing


@pytest.mark.parametrize("world", ["clean", "faulty", "v12"])
def test_expected_and_bad_counts_match_an_independent_validator(
    world: str, request: pytest.FixtureRequest
) -> None:
    files: SyntheticFiles = request.getfixturevalue(world)

    good, bad = validate(files)

    assert good == files.expected
    assert bad == files.bad


def test_bad_rows_cover_every_defect_kind(faulty: SyntheticFiles) -> None:
    users = read_csv(faulty.oneroster_dir / "users.csv")[1]
    enrollments = read_csv(faulty.oneroster_dir / "enrollments.csv")[1]
    results = read_csv(faulty.nwea_dir / "AssessmentResults.csv")[1]
    class_ids = {c["sourcedId"] for c in read_csv(faulty.oneroster_dir / "classes.csv")[1]}

    assert any(u["grades"] == "Grade 14" for u in users)
    assert any(u["sourcedId"] == "" for u in users)
    assert any(e["classSourcedId"] not in class_ids for e in enrollments)
    assert any(not _iso(e["beginDate"]) for e in enrollments)
    assert any(r["TestRITScore"] == "999" for r in results)
    assert any(not _us_date(r["TestStartDate"]) for r in results)
    # Every count is a share of the file, not of the valid rows.
    assert faulty.bad["users.csv"] == pytest.approx(
        0.1 * (faulty.expected["users.csv"] + faulty.bad["users.csv"]), abs=1
    )


def test_valid_rows_do_not_depend_on_the_bad_record_rate(
    clean: SyntheticFiles, faulty: SyntheticFiles
) -> None:
    course_ids = {c["sourcedId"] for c in read_csv(clean.oneroster_dir / "courses.csv")[1]}
    for folder, name, keep in (
        ("oneroster_dir", "users.csv", lambda r: r["sourcedId"] and r["grades"] != "Grade 14"),
        ("oneroster_dir", "classes.csv", lambda r: r["courseSourcedId"] in course_ids),
        (
            "oneroster_dir",
            "enrollments.csv",
            lambda r: r["classSourcedId"].startswith("cls-0") and _iso(r["beginDate"]),
        ),
        ("nwea_dir", "AssessmentResults.csv", lambda r: r["TestID"] < "900000000"),
    ):
        clean_rows = Counter(tuple(r.values()) for r in read_csv(getattr(clean, folder) / name)[1])
        faulty_rows = Counter(
            tuple(r.values()) for r in read_csv(getattr(faulty, folder) / name)[1] if keep(r)
        )
        assert faulty_rows == clean_rows, name


def test_roster_is_referentially_consistent(clean: SyntheticFiles) -> None:
    folder = clean.oneroster_dir
    users = {u["sourcedId"]: u for u in read_csv(folder / "users.csv")[1]}
    classes = {c["sourcedId"]: c for c in read_csv(folder / "classes.csv")[1]}
    courses = {c["sourcedId"] for c in read_csv(folder / "courses.csv")[1]}
    sessions = {s["sourcedId"]: s for s in read_csv(folder / "academicSessions.csv")[1]}
    orgs = {o["sourcedId"]: o for o in read_csv(folder / "orgs.csv")[1]}
    enrollments = read_csv(folder / "enrollments.csv")[1]

    assert all(e["classSourcedId"] in classes and e["userSourcedId"] in users for e in enrollments)
    assert all(c["courseSourcedId"] in courses and c["schoolSourcedId"] in orgs for c in classes.values())
    assert all(t in sessions for c in classes.values() for t in c["termSourcedIds"].split(","))
    year = next(s["sourcedId"] for s in sessions.values() if s["type"] == "schoolYear")
    assert [s["parentSourcedId"] for s in sessions.values() if s["type"] == "semester"] == [year, year]

    teachers_per_class = Counter(e["classSourcedId"] for e in enrollments if e["role"] == "teacher")
    assert set(teachers_per_class) == set(classes) and set(teachers_per_class.values()) == {1}
    assert all(e["primary"] == "TRUE" for e in enrollments if e["role"] == "teacher")
    students = {sid: u for sid, u in users.items() if u["role"] == "student"}
    per_student = Counter(e["userSourcedId"] for e in enrollments if e["role"] == "student")
    assert set(per_student) == set(students) and set(per_student.values()) <= {3, 4, 5}
    assert all(
        classes[e["classSourcedId"]]["schoolSourcedId"] == users[e["userSourcedId"]]["orgSourcedIds"]
        for e in enrollments
    )

    identifiers = [u["identifier"] for u in users.values()]
    assert len(set(identifiers)) == len(identifiers) and all(re.fullmatch(r"\d{6}", i) for i in identifiers)
    assert all(u["email"].endswith("@demo.example.org") and u["phone"] == "" for u in users.values())
    grades = Counter(u["grades"] for u in students.values())
    assert set(grades) == {"PK", "KG", *(f"{g:02d}" for g in range(1, 13))}
    assert grades["PK"] < min(count for g, count in grades.items() if g != "PK")
    teacher_count = sum(u["role"] == "teacher" for u in users.values())
    assert teacher_count == pytest.approx(len(students) / 20, rel=0.2)
    demographics = read_csv(folder / "demographics.csv")[1]
    assert {d["sourcedId"] for d in demographics} == set(students)
    assert all(_iso(d["birthDate"]) and d["sex"] in {"male", "female"} for d in demographics)


def test_nwea_results_match_the_roster(clean: SyntheticFiles) -> None:
    users = read_csv(clean.oneroster_dir / "users.csv")[1]
    roster = {u["identifier"] for u in users if u["role"] == "student"}
    results = read_csv(clean.nwea_dir / "AssessmentResults.csv")[1]
    by_school = read_csv(clean.nwea_dir / "StudentsBySchool.csv")[1]

    unknown = {r["StudentID"] for r in results} - roster
    assert len(unknown) == UNMATCHED_NWEA_STUDENTS
    assert clean.bad["AssessmentResults.csv"] == sum(r["StudentID"] in unknown for r in results)
    assert set(Counter(r["StudentID"] for r in results).values()) <= {1, 2, 3}
    assert len({r["TestID"] for r in results}) == len(results)
    assert all(140 <= int(r["TestRITScore"]) <= 260 and 1 <= int(r["TestPercentile"]) <= 99 for r in results)
    assert {r["AchievementQuintile"] for r in results} == {"Low", "LoAvg", "Avg", "HiAvg", "High"}
    assert all(
        bool(re.fullmatch(r"(BR)?\d+L", r["LexileScore"])) == (r["Course"] == "Reading") for r in results
    )
    assert all(re.fullmatch(r"\d{2}:\d{2}:\d{2}", r["TestStartTime"]) for r in results)
    assert all(re.fullmatch(r"\d+-\d+", r["Goal1Range"]) for r in results)
    assert {s["Grade"] for s in by_school} == {"K", *(str(g) for g in range(1, 13))}
    assert {s["StudentID"] for s in by_school} == {r["StudentID"] for r in results}


def test_headers_equal_the_real_sample_files(clean: SyntheticFiles) -> None:
    fixtures = _shared_dir() / "fixtures"
    oneroster_sample = fixtures / "oneroster_csv" / "v1p1_edfi_lmstoolkit_grandbend"
    nwea_sample = fixtures / "assessment_vendor_exports" / "MAP_Growth" / "sample_anonymized_file.csv"
    if not oneroster_sample.is_dir() or not nwea_sample.is_file():
        pytest.skip(f"real sample files not found under {fixtures} (set EDASSETS_SHARED_DIR)")

    for sample in sorted(oneroster_sample.glob("*.csv")):
        ours = read_csv(clean.oneroster_dir / sample.name)[0]
        real = read_csv(sample)[0]
        if sample.name == "users.csv":
            assert ours == [*real, "metadata.ext_demo_flag"]  # plus the vendor extension column
        elif sample.name == "courses.csv":
            assert sorted(ours) == sorted(real) and ours != real  # same columns, shuffled on purpose
        else:
            assert ours == real, sample.name
    assert read_csv(clean.nwea_dir / "AssessmentResults.csv")[0] == read_csv(nwea_sample)[0]
    assert list(NWEA_ASSESSMENT_RESULTS_HEADER) == read_csv(nwea_sample)[0]


def test_files_carry_the_real_world_hygiene(clean: SyntheticFiles) -> None:
    folder = clean.oneroster_dir
    users = (folder / "users.csv").read_bytes()
    enrollments = (folder / "enrollments.csv").read_bytes()
    classes = (folder / "classes.csv").read_bytes()

    assert users.startswith(b"\xef\xbb\xbfsourcedId,")
    assert enrollments.count(b"\r\n") == enrollments.count(b"\n") == clean.expected["enrollments.csv"] + 1
    assert not classes.endswith(b"\n") and b"\r" not in classes
    assert b',"as-2026-fall,as-2026-spring",' in classes  # quoted multi-value cell
    assert (
        b",TRUE," in enrollments
        and b",true," in users
        and b",true," in (folder / "demographics.csv").read_bytes()
    )
    assert (folder / "demographics.csv").read_bytes().endswith(b"\n")
    manifest = dict(csv.reader((folder / "manifest.csv").read_text(encoding="utf-8").splitlines()))
    assert manifest["propertyName"] == "value"
    assert (manifest["manifest.version"], manifest["oneroster.version"]) == ("1.0", "1.1")
    assert {k for k, v in manifest.items() if v == "bulk"} == {f"file.{n}" for n in ONEROSTER_FILES}
    assert manifest["file.results"] == "absent" and "file.roles" not in manifest
    assert (
        (clean.nwea_dir / "AssessmentResults.csv")
        .read_bytes()
        .split(b"\n")[1]
        .startswith(b'"Fall 2025-2026","')
    )


def test_oneroster_12_layout(v12: SyntheticFiles) -> None:
    folder = v12.oneroster_dir
    header, users = read_csv(folder / "users.csv")
    roles_header, roles = read_csv(folder / "roles.csv")
    sessions = read_csv(folder / "academicSessions.csv")[1]
    manifest = dict(csv.reader((folder / "manifest.csv").read_text(encoding="utf-8").splitlines()))

    assert "role" not in header and "orgSourcedIds" not in header
    assert {"userMasterIdentifier", "preferredGivenName", "primaryOrgSourcedId", "pronouns"} <= set(header)
    assert roles_header == [
        "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
        "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
    ]  # fmt: skip
    assert {r["roleType"] for r in roles} == {"primary"} and {r["role"] for r in roles} == {
        "student",
        "teacher",
    }
    valid_users = {u["sourcedId"] for u in users if u["sourcedId"] and u["grades"] != "Grade 14"}
    assert Counter(r["userSourcedId"] for r in roles) == Counter(valid_users)
    assert all(re.fullmatch(r"\d{1,2}/\d{2}/\d{4}", s[k]) for s in sessions for k in ("startDate", "endDate"))
    assert (manifest["oneroster.version"], manifest["file.roles"], manifest["file.userProfiles"]) == (
        "1.2",
        "bulk",
        "absent",
    )


def test_legacy_nwea_columns_and_optional_students_by_school(v12: SyntheticFiles) -> None:
    header = read_csv(v12.nwea_dir / "AssessmentResults.csv")[0]

    assert header == [NWEA_LEGACY_RENAMES.get(c, c) for c in NWEA_ASSESSMENT_RESULTS_HEADER]
    assert {
        "MeasurementScale",
        "Discipline",
        "RITtoReadingScore",
        "RITtoReadingMin",
        "RITtoReadingMax",
    } <= set(header)
    assert not {"Course", "Subject", "LexileScore"} & set(header)
    assert not (v12.nwea_dir / "StudentsBySchool.csv").exists()
    assert "StudentsBySchool.csv" not in v12.expected and "StudentsBySchool.csv" not in v12.bad


def test_rewriting_a_folder_removes_files_of_the_previous_layout(tmp_path: Path) -> None:
    write_synthetic_district(tmp_path, SyntheticOptions(students=50, oneroster_version="1.2"))
    files = write_synthetic_district(
        tmp_path, SyntheticOptions(students=50, include_students_by_school=False)
    )

    assert not (files.oneroster_dir / "roles.csv").exists()
    assert not (files.nwea_dir / "StudentsBySchool.csv").exists()


def test_zip_bundle_is_flat_and_deterministic(clean: SyntheticFiles, tmp_path: Path) -> None:
    (clean.oneroster_dir / "ignored_subfolder").mkdir(exist_ok=True)
    first = zip_bundle(clean.oneroster_dir, tmp_path / "out" / "a.zip")
    time.sleep(0.01)
    second = zip_bundle(clean.oneroster_dir, tmp_path / "b.zip")

    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert zf.read("users.csv") == (clean.oneroster_dir / "users.csv").read_bytes()
    assert names == sorted(p.name for p in clean.oneroster_dir.iterdir() if p.is_file())
    assert "manifest.csv" in names and all("/" not in n for n in names)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize(
    "options",
    [
        SyntheticOptions(students=0),
        SyntheticOptions(schools=0),
        SyntheticOptions(oneroster_version="1.0"),
        SyntheticOptions(bad_record_rate=1.0),
        SyntheticOptions(bad_record_rate=-0.1),
    ],
)
def test_rejects_out_of_range_options(options: SyntheticOptions, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_synthetic_district(tmp_path, options)


@pytest.mark.parametrize("schools", [1, 2, 5])
def test_any_school_count_serves_every_grade(schools: int, tmp_path: Path) -> None:
    files = write_synthetic_district(tmp_path, SyntheticOptions(students=150, schools=schools))

    good, bad = validate(files)
    orgs = read_csv(files.oneroster_dir / "orgs.csv")[1]
    assert (good, bad) == (files.expected, files.bad)
    assert sum(o["type"] == "school" for o in orgs) == schools


def test_default_world_is_written_in_under_half_a_second(clean: SyntheticFiles, tmp_path: Path) -> None:
    # ``clean`` already paid the one-off import costs; this measures the generator itself.
    started = time.perf_counter()
    write_synthetic_district(tmp_path)
    assert time.perf_counter() - started < 0.5
