"""A deterministic synthetic district, written as OneRoster CSV and NWEA MAP Growth exports.

The sandbox and the demo need a known ground truth: one generated world whose record
counts are known exactly, written in two real vendor file formats with the quirks real
files have (K12_FORMATS.md §1.1 OneRoster CSV, §1.8 NWEA MAP Growth; headers copied from
the real samples in ``shared/fixtures``).

The world: one district; ``schools`` schools (elementary PK-05, middle 06-08, high 09-12;
one school serves every grade, two split at grade 6); a school year with two semesters;
Mathematics, English Language Arts and Science courses per grade; sections of about 25;
one teacher per about 20 students; each student in 3-5 classes; student demographics; a
fall MAP Growth window with 1-3 tests per tested student (KG and up). Names come from
small built-in lists and e-mails use ``example.org``: no real person is described.

Invalid rows (``bad_record_rate``) are *decoys* placed among the valid rows: a copy of a
valid row with one defect and fresh identifiers, drawn from a random stream of their own.
Two consequences the tests rely on:

* the valid rows are identical whatever the rate, so runs with and without faults can be
  compared record for record;
* nothing points at a decoy (a bad class gets no enrollments; a bad user no enrollments,
  demographics, roles or test results), so each defect is counted once, in its own file,
  and no valid row is quarantined by a cascade.
"""

from __future__ import annotations

import csv
import os
import zipfile
from dataclasses import dataclass, fields
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from edassets.sandbox.world import GRADES

__all__ = [
    "GRADES",
    "NWEA_ASSESSMENT_RESULTS_HEADER",
    "NWEA_LEGACY_RENAMES",
    "NWEA_STUDENTS_BY_SCHOOL_HEADER",
    "UNMATCHED_NWEA_STUDENTS",
    "SyntheticFiles",
    "SyntheticOptions",
    "write_synthetic_district",
    "zip_bundle",
]

Table = dict[str, np.ndarray]
"""Column name -> object array of str, one element per row. A column the file has but the
table lacks is written empty, so the many always-empty vendor columns cost nothing."""

# --- names (no real people: every person is a random first/last pair) ------------------

_FEMALE_NAMES = (
    "Olivia", "Emma", "Ava", "Sophia", "Isabella", "Mia", "Amelia", "Harper", "Evelyn",
    "Abigail", "Emily", "Ella", "Elizabeth", "Camila", "Luna", "Sofia", "Avery", "Mila",
    "Aria", "Scarlett", "Penelope", "Layla", "Chloe", "Victoria", "Madison", "Eleanor",
    "Grace", "Nora", "Riley", "Zoey",
)  # fmt: skip
_MALE_NAMES = (
    "Liam", "Noah", "Oliver", "Elijah", "James", "William", "Benjamin", "Lucas", "Henry",
    "Theodore", "Jack", "Levi", "Alexander", "Jackson", "Mateo", "Daniel", "Michael",
    "Mason", "Sebastian", "Ethan", "Logan", "Owen", "Samuel", "Jacob", "Asher", "Aiden",
    "John", "Joseph", "Wyatt", "David",
)  # fmt: skip
_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White",
    "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young",
    "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green",
    "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter",
    "Roberts", "Gomez", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards",
    "Collins", "Reyes",
)  # fmt: skip
_SCHOOL_STEMS = (
    "Maple", "Cedar", "Summit", "Willow", "Ridgeview", "Lakeside", "Oak Grove", "Pine Hill",
    "Riverside", "Highland",
)  # fmt: skip
_EMAIL_DOMAIN = "demo.example.org"

# --- district shape ----------------------------------------------------------------------

_GRADE_LABELS = ("Pre-Kindergarten", "Kindergarten", *(f"Grade {g}" for g in range(1, 13)))
_NWEA_GRADES = ("PK", "K", *(str(g) for g in range(1, 13)))  # NWEA writes "K" and "5"
# PK is a small cohort in most districts (partial-day, not universal), hence the low weight.
_GRADE_WEIGHTS = np.array([0.25] + [1.0] * 13)
_KG = 1
_BANDS = {
    "Elementary School": range(0, 7),
    "Middle School": range(7, 10),
    "High School": range(10, 14),
}
_CLASS_SIZE = 25
_STUDENTS_PER_TEACHER = 20
_DISTRICT_ID = "d-demo"
_DISTRICT_NAME = "Demo Unified School District"
# A "999" state prefix no real state uses, so a synthetic id cannot be mistaken for one.
_DISTRICT_STATE_ID = "999001"
UNMATCHED_NWEA_STUDENTS = 10
"""Students tested by NWEA who are missing from the roster (must end up quarantined)."""
_MAX_STUDENTS = 500_000  # 6-digit SIS ids: 900,000 values shared by students, staff, decoys
_MAX_SCHOOLS = 999

_SUBJECTS = {  # key -> (title, code, class period)
    "math": ("Mathematics", "MATH", 1),
    "ela": ("English Language Arts", "ELA", 2),
    "sci": ("Science", "SCI", 3),
}
_YEAR, _FALL, _SPRING = 0, 1, 2  # indices into the academic sessions
# A student's schedule slots. Math runs all year, so its classes carry both semesters in
# termSourcedIds: the quoted multi-value cell real files have.
_SLOTS = (("math", _YEAR), ("ela", _FALL), ("ela", _SPRING), ("sci", _FALL), ("sci", _SPRING))
_TERM_TAG = ("yr", "fa", "sp")

# --- OneRoster headers (K12_FORMATS.md §1.1; 1.1 sets equal the LMS-Toolkit sample files) --

_EXT_COLUMN = "metadata.ext_demo_flag"  # vendor extension column, as ext_imagineLearning_*
_MANIFEST_HEADER = ("propertyName", "value")
_ORGS_HEADER = (
    "sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId",
    "metadata.address1", "metadata.address2", "metadata.city", "metadata.postCode",
    "metadata.state",
)  # fmt: skip
_SESSIONS_HEADER = (
    "sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
    "parentSourcedId", "schoolYear",
)  # fmt: skip
# The standard order is sourcedId,status,dateLastModified,schoolYearSourcedId,title,
# courseCode,grades,orgSourcedId,subjects,subjectCodes; readers must map by name.
_COURSES_HEADER = (
    "title", "sourcedId", "courseCode", "orgSourcedId", "grades", "schoolYearSourcedId",
    "subjects", "subjectCodes", "status", "dateLastModified",
)  # fmt: skip
_CLASSES_HEADER = (
    "sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId",
    "classCode", "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects",
    "subjectCodes", "periods",
)  # fmt: skip
_USERS_11_HEADER = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
    "username", "userIds", "givenName", "familyName", "middleName", "identifier", "email",
    "sms", "phone", "agentSourcedIds", "grades", "password", _EXT_COLUMN,
)  # fmt: skip
_USERS_12_HEADER = (
    "sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
    "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
    "agentSourcedIds", "grades", "password", "userMasterIdentifier", "preferredGivenName",
    "preferredMiddleName", "preferredFamilyName", "primaryOrgSourcedId", "pronouns",
    _EXT_COLUMN,
)  # fmt: skip
_ROLES_HEADER = (
    "sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
    "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId",
)  # fmt: skip
_ENROLLMENTS_HEADER = (
    "sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
    "userSourcedId", "role", "primary", "beginDate", "endDate",
)  # fmt: skip
_DEMOGRAPHICS_HEADER = (
    "sourcedId", "status", "dateLastModified", "birthDate", "sex",
    "americanIndianOrAlaskaNative", "asian", "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander", "white", "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity", "countryOfBirthCode", "stateOfBirthAbbreviation",
    "cityOfBirth", "publicSchoolResidenceStatus",
)  # fmt: skip
_RACES = (  # (demographics column, NWEA StudentEthnicGroup, share of non-Hispanic students)
    ("americanIndianOrAlaskaNative", "American Indian or Alaska Native", 0.02),
    ("asian", "Asian", 0.08),
    ("blackOrAfricanAmerican", "Black or African American", 0.16),
    ("nativeHawaiianOrOtherPacificIslander", "Native Hawaiian or Other Pacific Islander", 0.01),
    ("white", "White", 0.58),
    ("demographicRaceTwoOrMoreRaces", "Multi-ethnic", 0.15),
)
_HISPANIC_SHARE = 0.27
_MANIFEST_FILES = {
    "1.1": (
        "academicSessions", "categories", "classes", "classResources", "courses",
        "courseResources", "demographics", "enrollments", "lineItems", "orgs", "resources",
        "results", "users",
    ),
    "1.2": (
        "academicSessions", "categories", "classes", "classResources", "courses",
        "courseResources", "demographics", "enrollments", "lineItemLearningObjectiveIds",
        "lineItems", "lineItemScoreScales", "orgs", "resources", "resultLearningObjectiveIds",
        "results", "resultScoreScales", "roles", "scoreScales", "userProfiles",
        "userResources", "users",
    ),
}  # fmt: skip

# --- NWEA MAP Growth (header = the real sample's header line, composed, not typed out) ----

_NWEA_WINDOWS = (
    "FallToFall", "FallToWinter", "FallToSpring", "WinterToWinter", "WinterToSpring",
    "SpringToSpring",
)  # fmt: skip
_NWEA_GROWTH_METRICS = (
    "ProjectedGrowth", "ObservedGrowth", "ObservedGrowthSE", "MetProjectedGrowth",
    "ConditionalGrowthIndex", "ConditionalGrowthPercentile", "GrowthQuintile",
)  # fmt: skip
_NWEA_GOAL_FIELDS = ("Name", "RitScore", "StdErr", "Range", "Adjective")
NWEA_ASSESSMENT_RESULTS_HEADER: tuple[str, ...] = (
    "TermName", "DistrictName", "District_StateID", "SchoolName", "School_StateID",
    "StudentID", "Student_StateID", "Subject", "Course", "GrowthMeasureYN",
    "NormsReferenceData", "WISelectedAYFall", "WISelectedAYWinter", "WISelectedAYSpring",
    "WIPreviousAYFall", "WIPreviousAYWinter", "WIPreviousAYSpring", "TestType", "TestName",
    "TestID", "TestStartDate", "TestStartTime", "TestDurationMinutes", "TestRITScore",
    "TestStandardError", "TestPercentile", "AchievementQuintile", "PercentCorrect",
    "RapidGuessingPercentage",
    *(f"{w}{m}" for w in _NWEA_WINDOWS for m in _NWEA_GROWTH_METRICS),
    "LexileScore", "LexileMin", "LexileMax", "QuantileScore", "QuantileMin", "QuantileMax",
    *(f"Goal{i}{f}" for i in range(1, 9) for f in _NWEA_GOAL_FIELDS),
    *(f"Typical{w}Growth" for w in _NWEA_WINDOWS),
    *(f"ProjectedProficiency{kind}{i}" for i in range(1, 11) for kind in ("Study", "Level")),
)  # fmt: skip
"""Current (post-2015) AssessmentResults.csv columns, in the order NWEA writes them."""
NWEA_LEGACY_RENAMES = {
    "Course": "MeasurementScale",
    "Subject": "Discipline",
    "LexileScore": "RITtoReadingScore",
    "LexileMin": "RITtoReadingMin",
    "LexileMax": "RITtoReadingMax",
}
"""Current column -> pre-2015 name (K12_FORMATS.md §1.8)."""
NWEA_STUDENTS_BY_SCHOOL_HEADER = (
    "TermName", "DistrictName", "SchoolName", "StudentLastName", "StudentFirstName",
    "StudentMI", "StudentID", "StudentDateOfBirth", "StudentEthnicGroup", "StudentGender",
    "Grade",
)  # fmt: skip
# (Subject, Course, TestName stem, goal names). Reading and Language Usage are courses of
# the "Language Arts" subject, as in the real sample ("Language Arts","Reading K-2").
_NWEA_TESTS = (
    ("Mathematics", "Math K-12", "Math", (
        "Operations and Algebraic Thinking", "Number and Operations",
        "Measurement and Data", "Geometry",
    )),
    ("Language Arts", "Reading", "Reading", (
        "Literature and Informational Text: Key Ideas and Details",
        "Literature and Informational Text: Language, Craft, and Structure",
        "Vocabulary: Acquisition and Use",
    )),
    ("Language Arts", "Language Usage", "Language", (
        "Writing: Write, Revise Texts for Purpose and Audience",
        "Language: Understand, Edit for Grammar, Usage",
        "Language: Understand, Edit for Mechanics",
    )),
)  # fmt: skip
_READING = 1
# Rough fall RIT mean and spread per grade index, shaped like NWEA norms but not copied
# from the published tables (PK is never tested).
_RIT_MEAN = np.array([0, 146, 161, 175, 188, 198, 206, 211, 215, 219, 221, 223, 225, 226.0])
_RIT_SD = np.array([1, 11, 13, 14, 15, 15, 15, 15, 16, 16, 17, 17, 18, 18.0])
_RIT_RANGE = (140, 260)
_QUINTILES = np.array(["Low", "LoAvg", "Avg", "HiAvg", "High"], dtype=object)

# --- options and result ---------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticOptions:
    """What to generate.

    Attributes:
        students: Number of valid roster students.
        schools: Number of schools; bands cycle elementary, middle, high.
        seed: Seed of every random draw; same seed and options give identical bytes.
        oneroster_version: ``"1.1"`` (role/orgSourcedIds in users.csv) or ``"1.2"``
            (roles.csv, 1.2 user columns, M/D/YYYY session dates).
        school_year: The spring year; 2026 means 2025-2026.
        bad_record_rate: Share of the rows of users.csv, classes.csv, enrollments.csv and
            AssessmentResults.csv that are invalid decoys. The NWEA-only students are
            invalid at any rate.
        nwea_legacy_columns: Write pre-2015 NWEA column names.
        include_students_by_school: Write NWEA StudentsBySchool.csv.
    """

    students: int = 600
    schools: int = 3
    seed: int = 7
    oneroster_version: str = "1.1"
    school_year: int = 2026
    bad_record_rate: float = 0.0
    nwea_legacy_columns: bool = False
    include_students_by_school: bool = True


@dataclass(frozen=True)
class SyntheticFiles:
    """Where the files went and what a correct reader must find in them.

    Attributes:
        oneroster_dir: Folder with manifest.csv and the OneRoster CSVs.
        nwea_dir: Folder with AssessmentResults.csv (and StudentsBySchool.csv).
        expected: Valid data rows per written file name (manifest.csv excluded).
        bad: Invalid data rows per written file name; ``expected[f] + bad[f]`` is the
            file's data row count.
    """

    oneroster_dir: Path
    nwea_dir: Path
    expected: dict[str, int]
    bad: dict[str, int]


# --- small helpers --------------------------------------------------------------------------


def _const(value: str, n: int) -> np.ndarray:
    return np.full(n, value, dtype=object)


def _where(condition: np.ndarray, yes: np.ndarray | str, no: np.ndarray | str) -> np.ndarray:
    """``np.where`` that always returns an object array of str."""
    return np.where(condition, yes, no).astype(object)


def _strs(values: np.ndarray) -> np.ndarray:
    """Integers to an object array of decimal strings (Arrow's cast is the fastest route)."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string()).to_numpy(zero_copy_only=False)


def _fmt(spec: str, values: np.ndarray) -> np.ndarray:
    """Numbers to an object array of strings formatted with ``spec`` (e.g. ``".2f"``)."""
    return np.array([format(v, spec) for v in values.tolist()], dtype=object)


def _rows(table: Table) -> int:
    return len(next(iter(table.values())))


def _concat(first: Table, second: Table) -> Table:
    return {c: np.concatenate([first[c], second[c]]) for c in first}


def _uuids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Version-4-shaped UUID strings drawn from ``rng`` (so stable for a seed)."""
    raw = np.frombuffer(rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    # Version and variant bits set, so validators that check the UUID shape accept them.
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.frombuffer(raw.tobytes().hex().encode("ascii"), dtype=np.uint8).reshape(n, 32)
    # Lay out "8-4-4-4-12\n" per row in one buffer and split it: no per-row formatting.
    text = np.full((n, 37), ord("-"), dtype=np.uint8)
    for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
        text[:, dst : dst + width] = digits[:, src : src + width]
    text[:, 36] = ord("\n")
    return np.array(text.tobytes().decode("ascii").split("\n")[:-1], dtype=object)


def _fresh_ids(rng: np.random.Generator, n: int, low: int, high: int, used: np.ndarray) -> np.ndarray:
    """``n`` distinct integers in ``[low, high)`` that are not in ``used``.

    Raises:
        ValueError: If the range has fewer than ``n`` unused values.
    """
    if high - low - np.unique(used).size < n:
        raise ValueError(f"cannot draw {n} more distinct ids from [{low}, {high}): too many people")
    found = np.empty(0, dtype=np.int64)
    while found.size < n:
        draw = rng.integers(low, high, size=2 * n + 16)
        found = np.concatenate([found, draw[~np.isin(draw, used)]])
        found = found[np.sort(np.unique(found, return_index=True)[1])]  # dedupe, keep draw order
    return found[:n]


def _bad_count(valid_rows: int, rate: float) -> int:
    """Decoys needed for them to make up ``rate`` of the file's rows."""
    return int(valid_rows * rate / (1.0 - rate) + 0.5)


def _percentile(score: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    z = (score - mean) / sd
    # Logistic approximation of the normal CDF (off by under one point); avoids scipy.
    return np.clip(np.rint(100.0 / (1.0 + np.exp(-1.702 * z))), 1, 99).astype(np.int64)


def _quintile(percentile: np.ndarray) -> np.ndarray:
    # NWEA bands: Low < 21, LoAvg 21-40, Avg 41-60, HiAvg 61-80, High > 80.
    return _QUINTILES[np.searchsorted([21, 41, 61, 81], percentile, side="right")]


def _us_dates(iso: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DD`` strings to NWEA's ``MM/DD/YYYY``."""
    return np.array([f"{s[5:7]}/{s[8:10]}/{s[:4]}" for s in iso.tolist()], dtype=object)


def _lexile(values: np.ndarray) -> np.ndarray:
    """Lexile measures as vendors write them: ``820L``, and ``BR120L`` below zero."""
    return np.array([f"BR{-v}L" if v < 0 else f"{v}L" for v in values.tolist()], dtype=object)


def _interleave(valid: Table, decoys: Table, rng: np.random.Generator) -> Table:
    """Scatter decoy rows among the valid rows: readers must not rely on row position."""
    n, m = _rows(valid), _rows(decoys)
    if m == 0:
        return valid
    order = np.argsort(np.concatenate([np.arange(n, dtype=float), rng.uniform(0, n, m)]), kind="stable")
    return {c: v[order] for c, v in _concat(valid, decoys).items()}


def _copy_rows(table: Table, rng: np.random.Generator, m: int) -> Table:
    picks = rng.integers(0, _rows(table), size=m)
    return {c: v[picks] for c, v in table.items()}


def _append(columns: dict[str, list[str]], **values: str) -> None:
    for name, value in values.items():
        columns.setdefault(name, []).append(value)


# --- the world --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Sessions:
    ids: tuple[str, str, str]  # indexed by _YEAR, _FALL, _SPRING
    titles: tuple[str, str, str]
    starts: tuple[date, date, date]
    ends: tuple[date, date, date]


def _sessions(year: int) -> _Sessions:
    fall = year - 1
    return _Sessions(
        ids=(f"as-{year}", f"as-{year}-fall", f"as-{year}-spring"),
        titles=(f"{fall}-{year} School Year", f"Fall {fall} Semester", f"Spring {year} Semester"),
        starts=(date(fall, 8, 18), date(fall, 8, 18), date(year, 1, 5)),
        ends=(date(year, 5, 29), date(fall, 12, 19), date(year, 5, 29)),
    )


@dataclass(frozen=True)
class _Schools:
    ids: np.ndarray
    names: np.ndarray
    state_ids: np.ndarray
    grades: tuple[range, ...]  # grade indices each school serves


def _schools(count: int) -> _Schools:
    if count == 1:
        bands = [("K-12 School", range(len(GRADES)))]
    elif count == 2:
        bands = [("Elementary School", range(0, 7)), ("Secondary School", range(7, len(GRADES)))]
    else:
        cycle = list(_BANDS.items())
        bands = [cycle[i % len(cycle)] for i in range(count)]
    stems = len(_SCHOOL_STEMS)
    names = [
        f"{_SCHOOL_STEMS[s % stems]} {label}" + (f" {s // stems + 1}" if s >= stems else "")
        for s, (label, _) in enumerate(bands)
    ]
    return _Schools(
        ids=np.array([f"s-demo-{s + 1:03d}" for s in range(count)], dtype=object),
        names=np.array(names, dtype=object),
        state_ids=np.array([f"{_DISTRICT_STATE_ID}{s + 1:03d}" for s in range(count)], dtype=object),
        grades=tuple(grades for _, grades in bands),
    )


@dataclass(frozen=True)
class _Persons:
    sex: np.ndarray  # "female" / "male"
    given: np.ndarray
    family: np.ndarray
    middle: np.ndarray  # "" for most

    def take(self, index: slice | np.ndarray) -> _Persons:
        return _Persons(self.sex[index], self.given[index], self.family[index], self.middle[index])

    def concat(self, other: _Persons) -> _Persons:
        return _Persons(
            *(np.concatenate([getattr(self, f.name), getattr(other, f.name)]) for f in fields(self))
        )


def _persons(rng: np.random.Generator, n: int) -> _Persons:
    female = rng.random(n) < 0.5
    given = np.where(
        female,
        np.array(_FEMALE_NAMES, dtype=object)[rng.integers(0, len(_FEMALE_NAMES), n)],
        np.array(_MALE_NAMES, dtype=object)[rng.integers(0, len(_MALE_NAMES), n)],
    )
    family = np.array(_LAST_NAMES, dtype=object)[rng.integers(0, len(_LAST_NAMES), n)]
    pool = np.array(_FEMALE_NAMES + _MALE_NAMES, dtype=object)
    middle = _where(rng.random(n) < 0.3, pool[rng.integers(0, len(pool), n)], "")
    return _Persons(_where(female, "female", "male"), given, family, middle)


@dataclass(frozen=True)
class _Students:
    """Every student the world knows: the ``roster`` roster students, then the NWEA-only ones."""

    roster: int
    grade: np.ndarray  # grade index
    school: np.ndarray  # school index
    persons: _Persons
    sis: np.ndarray  # int SIS id (OneRoster identifier, NWEA StudentID)
    state_id: np.ndarray  # int state id (NWEA Student_StateID, 1.2 userMasterIdentifier)
    birth_iso: np.ndarray
    hispanic: np.ndarray
    race: np.ndarray  # index into _RACES


def _draw_students(rng: np.random.Generator, schools: _Schools, roster: int, fall_year: int) -> _Students:
    total = roster + UNMATCHED_NWEA_STUDENTS
    n_grades = len(GRADES)
    grade = rng.choice(n_grades, size=total, p=_GRADE_WEIGHTS / _GRADE_WEIGHTS.sum())
    grade[roster:] = np.maximum(grade[roster:], _KG)  # NWEA does not test PK
    # Each student attends one of the schools serving their grade, picked uniformly.
    serving = [[s for s, grades in enumerate(schools.grades) if gi in grades] for gi in range(n_grades)]
    width = max(len(x) for x in serving)
    serving_table = np.array([x + [x[0]] * (width - len(x)) for x in serving])
    serving_count = np.array([len(x) for x in serving])
    school = serving_table[grade, (rng.random(total) * serving_count[grade]).astype(np.int64)]
    # A student in grade g (KG = 0) turns 5 + g between Sep 2 and Sep 1 of the fall year.
    first_birth = np.array([np.datetime64(f"{fall_year - 5 - gi}-09-02") for gi in range(n_grades)])
    birth = first_birth[grade] + rng.integers(0, 365, total).astype("timedelta64[D]")
    shares = np.array([r[2] for r in _RACES])
    return _Students(
        roster=roster,
        grade=grade,
        school=school,
        persons=_persons(rng, total),
        sis=rng.choice(900_000, size=total, replace=False) + 100_000,
        state_id=rng.choice(900_000_000, size=total, replace=False) + 100_000_000,
        birth_iso=np.datetime_as_string(birth, unit="D").astype(object),
        hispanic=rng.random(total) < _HISPANIC_SHARE,
        race=rng.choice(len(_RACES), size=total, p=shares / shares.sum()),
    )


@dataclass(frozen=True)
class _Sections:
    """Courses and classes, with the lookups that place students in classes."""

    courses: Table
    classes: Table
    school: np.ndarray  # school index per class (non-decreasing)
    slot: np.ndarray  # _SLOTS index per class
    first: np.ndarray  # [school, grade, slot] -> index of the slot's first section
    count: np.ndarray  # [school, grade] -> sections per slot


def _sections(schools: _Schools, students: _Students, sess: _Sessions) -> _Sections:
    n_schools, n_grades, r = schools.ids.size, len(GRADES), students.roster
    enrolled = np.bincount(
        students.school[:r] * n_grades + students.grade[:r], minlength=n_schools * n_grades
    )
    count = np.maximum(1, -(-enrolled.reshape(n_schools, n_grades) // _CLASS_SIZE))
    first = np.full((n_schools, n_grades, len(_SLOTS)), -1, dtype=np.int64)
    courses: dict[str, list[str]] = {}
    classes: dict[str, list[str]] = {}
    school_of: list[int] = []
    slot_of: list[int] = []
    for s, served in enumerate(schools.grades):
        school_start = len(slot_of)
        for gi in served:
            grade, label = GRADES[gi], _GRADE_LABELS[gi]
            for subject, (title, code, _) in _SUBJECTS.items():
                _append(
                    courses, title=f"{title} {label}", sourcedId=f"crs-{s + 1:03d}-{subject}-{grade}",
                    courseCode=f"{code}-{grade}", orgSourcedId=schools.ids[s], grades=grade,
                    schoolYearSourcedId=sess.ids[_YEAR], subjects=title,
                )  # fmt: skip
            for k, (subject, term) in enumerate(_SLOTS):
                title, code, period = _SUBJECTS[subject]
                first[s, gi, k] = len(slot_of)
                terms = f"{sess.ids[_FALL]},{sess.ids[_SPRING]}" if term == _YEAR else sess.ids[term]
                tag = _TERM_TAG[term]
                for sec in range(1, count[s, gi] + 1):
                    _append(
                        classes, sourcedId=f"cls-{s + 1:03d}-{subject}-{grade}-{tag}-{sec:02d}",
                        title=f"{title} {label} ({sess.titles[term]}) Section {sec}", grades=grade,
                        courseSourcedId=f"crs-{s + 1:03d}-{subject}-{grade}",
                        classCode=f"{code}-{grade}-{tag.upper()}-{sec:02d}", classType="scheduled",
                        location=f"Room {101 + len(slot_of) - school_start}", schoolSourcedId=schools.ids[s],
                        termSourcedIds=terms, subjects=title, periods=str(period),
                    )  # fmt: skip
                    school_of.append(s)
                    slot_of.append(k)
    return _Sections(
        courses={c: np.array(v, dtype=object) for c, v in courses.items()},
        classes={c: np.array(v, dtype=object) for c, v in classes.items()},
        school=np.array(school_of),
        slot=np.array(slot_of),
        first=first,
        count=count,
    )


def _user_table(
    *,
    sourced_id: np.ndarray,
    role: np.ndarray,
    org: np.ndarray,
    grade: np.ndarray,
    persons: _Persons,
    identifier: np.ndarray,
    state_id: np.ndarray,
    email_seq: np.ndarray,
    ext_flag: np.ndarray,
) -> Table:
    """users.csv rows with the columns of both OneRoster versions (the writer picks)."""
    n = len(sourced_id)
    username = np.array(
        [
            f"{g}.{f}{k}".lower()
            for g, f, k in zip(
                persons.given.tolist(), persons.family.tolist(), email_seq.tolist(), strict=True
            )
        ],
        dtype=object,
    )
    # Students carry their state id beside the SIS id: the quoted "{A},{B}" userIds form.
    local = "{Local:" + identifier + "}"
    user_ids = _where(state_id == "", local, local + ",{State:" + state_id + "}")
    return {
        "sourcedId": sourced_id,
        "enabledUser": _const("true", n),
        "orgSourcedIds": org,
        "role": role,
        "username": username,
        "userIds": user_ids,
        "givenName": persons.given,
        "familyName": persons.family,
        "middleName": persons.middle,
        "identifier": identifier,
        "email": username + f"@{_EMAIL_DOMAIN}",
        "grades": grade,
        "userMasterIdentifier": state_id,
        "primaryOrgSourcedId": org,
        _EXT_COLUMN: ext_flag,
    }


def _roster(
    rng: np.random.Generator, opts: SyntheticOptions, schools: _Schools, students: _Students, sess: _Sessions
) -> tuple[dict[str, Table], np.ndarray]:
    """Build the valid OneRoster rows per file; also return the SIS ids given to staff."""
    r, n_schools = students.roster, schools.ids.size
    sections = _sections(schools, students, sess)
    per_school = np.bincount(students.school[:r], minlength=n_schools)
    teachers_per_school = np.maximum(1, np.rint(per_school / _STUDENTS_PER_TEACHER).astype(np.int64))
    n_teachers = int(teachers_per_school.sum())
    n_users = r + n_teachers
    teacher_school = np.repeat(np.arange(n_schools), teachers_per_school)
    teacher_sis = _fresh_ids(rng, n_teachers, 100_000, 1_000_000, students.sis)
    user_sid = _uuids(rng, n_users)
    student_sid, teacher_sid = user_sid[:r], user_sid[r:]

    # One teacher per class, round-robin within the school so loads stay even.
    n_classes = sections.slot.size
    first_teacher = np.concatenate([[0], np.cumsum(teachers_per_school)[:-1]])
    rank = np.arange(n_classes) - np.searchsorted(sections.school, np.arange(n_schools))[sections.school]
    class_teacher = first_teacher[sections.school] + rank % teachers_per_school[sections.school]

    # Student schedules: 3-5 distinct slots each, a random section within each slot.
    k = rng.integers(3, 6, size=r)
    slot_rank = np.argsort(np.argsort(rng.random((r, len(_SLOTS))), axis=1), axis=1)
    stu, slot = np.nonzero(slot_rank < k[:, None])
    g, s = students.grade[stu], students.school[stu]
    stu_class = sections.first[s, g, slot] + (rng.random(stu.size) * sections.count[s, g]).astype(np.int64)
    term_of_slot = np.array([term for _, term in _SLOTS])
    term = np.concatenate([term_of_slot[slot], term_of_slot[sections.slot]])
    begin = np.array([d.isoformat() for d in sess.starts], dtype=object)
    end = np.array([d.isoformat() for d in sess.ends], dtype=object)
    class_sid = sections.classes["sourcedId"]
    enrollments: Table = {
        "sourcedId": _uuids(rng, stu.size + n_classes),
        "classSourcedId": np.concatenate([class_sid[stu_class], class_sid]),
        "schoolSourcedId": schools.ids[np.concatenate([s, sections.school])],
        "userSourcedId": np.concatenate([student_sid[stu], teacher_sid[class_teacher]]),
        "role": np.concatenate([_const("student", stu.size), _const("teacher", n_classes)]),
        # Upper-case booleans here, lower-case elsewhere: both occur in real OneRoster files.
        "primary": np.concatenate([_const("FALSE", stu.size), _const("TRUE", n_classes)]),
        "beginDate": begin[term],
        "endDate": end[term],
    }

    users = _user_table(
        sourced_id=user_sid,
        role=np.concatenate([_const("student", r), _const("teacher", n_teachers)]),
        org=schools.ids[np.concatenate([students.school[:r], teacher_school])],
        grade=np.concatenate([np.array(GRADES, dtype=object)[students.grade[:r]], _const("", n_teachers)]),
        persons=students.persons.take(slice(0, r)).concat(_persons(rng, n_teachers)),
        identifier=_strs(np.concatenate([students.sis[:r], teacher_sis])),
        state_id=np.concatenate([_strs(students.state_id[:r]), _const("", n_teachers)]),
        email_seq=np.arange(1, n_users + 1),
        # A vendor flag no standard reader knows about; it must pass through untouched.
        ext_flag=_where(rng.random(n_users) < 0.1, "Y", ""),
    )
    roles: Table = {
        "sourcedId": "r-" + user_sid,
        "userSourcedId": user_sid,
        "roleType": _const("primary", n_users),
        "role": users["role"],
        "beginDate": _const(begin[_YEAR], n_users),
        "endDate": _const(end[_YEAR], n_users),
        "orgSourcedId": users["orgSourcedIds"],
    }
    race = students.race[:r]
    demographics: Table = {
        "sourcedId": student_sid,
        "birthDate": students.birth_iso[:r],
        "sex": students.persons.sex[:r],
        **{col: _where(race == i, "true", "false") for i, (col, _, _) in enumerate(_RACES)},
        "hispanicOrLatinoEthnicity": _where(students.hispanic[:r], "true", "false"),
    }
    orgs: Table = {
        "sourcedId": np.array([_DISTRICT_ID, *schools.ids], dtype=object),
        "name": np.array([_DISTRICT_NAME, *schools.names], dtype=object),
        "type": np.array(["district"] + ["school"] * n_schools, dtype=object),
        "identifier": np.array([_DISTRICT_STATE_ID, *schools.state_ids], dtype=object),
        "parentSourcedId": np.array([""] + [_DISTRICT_ID] * n_schools, dtype=object),
    }
    if opts.oneroster_version == "1.2":
        # 1.2 files in the wild write dates like `1/05/2023` although the spec says ISO 8601.
        session_dates = [f"{d.month}/{d.day:02d}/{d.year}" for d in sess.starts + sess.ends]
    else:
        session_dates = [d.isoformat() for d in sess.starts + sess.ends]
    sessions: Table = {
        "sourcedId": np.array(sess.ids, dtype=object),
        "title": np.array(sess.titles, dtype=object),
        "type": np.array(["schoolYear", "semester", "semester"], dtype=object),
        "startDate": np.array(session_dates[:3], dtype=object),
        "endDate": np.array(session_dates[3:], dtype=object),
        "parentSourcedId": np.array(["", sess.ids[_YEAR], sess.ids[_YEAR]], dtype=object),
        "schoolYear": _const(str(opts.school_year), 3),
    }
    tables = {
        "orgs.csv": orgs,
        "academicSessions.csv": sessions,
        "courses.csv": sections.courses,
        "classes.csv": sections.classes,
        "users.csv": users,
        "enrollments.csv": enrollments,
        "demographics.csv": demographics,
        "roles.csv": roles,
    }
    return tables, teacher_sis


def _nwea(
    rng: np.random.Generator, opts: SyntheticOptions, schools: _Schools, students: _Students
) -> tuple[dict[str, Table], dict[str, Table]]:
    """MAP Growth rows per file: (roster students' rows, NWEA-only students' rows)."""
    r, fall_year = students.roster, opts.school_year - 1
    # Every student from KG up, shuffled so the NWEA-only ones are not all at the end.
    tested = np.flatnonzero(students.grade >= _KG)
    tested = tested[rng.permutation(tested.size)]
    term_name = f"Fall {fall_year}-{opts.school_year}"
    ethnic_groups = np.array([group for _, group, _ in _RACES], dtype=object)
    ethnic = _where(students.hispanic, "Hispanic or Latino", ethnic_groups[students.race])
    by_school: Table = {
        "TermName": _const(term_name, tested.size),
        "DistrictName": _const(_DISTRICT_NAME, tested.size),
        "SchoolName": schools.names[students.school[tested]],
        "StudentLastName": students.persons.family[tested],
        "StudentFirstName": students.persons.given[tested],
        "StudentMI": np.array([m[:1] for m in students.persons.middle[tested].tolist()], dtype=object),
        "StudentID": _strs(students.sis[tested]),
        "StudentDateOfBirth": _us_dates(students.birth_iso[tested]),
        "StudentEthnicGroup": ethnic[tested],
        "StudentGender": _where(students.persons.sex[tested] == "female", "F", "M"),
        "Grade": np.array(_NWEA_GRADES, dtype=object)[students.grade[tested]],
    }

    n_tests = rng.integers(1, len(_NWEA_TESTS) + 1, size=tested.size)
    test_rank = np.argsort(np.argsort(rng.random((tested.size, len(_NWEA_TESTS))), axis=1), axis=1)
    who, kind = np.nonzero(test_rank < n_tests[:, None])
    student = tested[who]
    g, m = students.grade[student], student.size
    mean, sd = _RIT_MEAN[g], _RIT_SD[g]
    rit = np.clip(np.rint(mean + sd * rng.standard_normal(m)), *_RIT_RANGE).astype(np.int64)
    pct = _percentile(rit, mean, sd)
    window = [date(fall_year, 9, 2) + timedelta(days) for days in range(40)]
    school_days = np.array([d.strftime("%m/%d/%Y") for d in window if d.weekday() < 5], dtype=object)
    clock = np.array(
        [f"{h:02d}:{mi:02d}:{sec:02d}" for h in range(8, 15) for mi in range(60) for sec in range(60)],
        dtype=object,
    )
    band = _where(g <= GRADES.index("02"), "K-2", np.where(g <= GRADES.index("05"), "2-5", "6+"))
    stems = np.array([t[2] for t in _NWEA_TESTS], dtype=object)
    reading = kind == _READING
    lexile = 5 * np.rint((10 * rit - 1400) / 5).astype(np.int64)  # RIT 220 -> 800L, roughly
    typical = np.maximum(3, 16 - g)  # typical fall-to-spring growth shrinks with grade
    results: Table = {
        "TermName": _const(term_name, m),
        "DistrictName": _const(_DISTRICT_NAME, m),
        "District_StateID": _const(_DISTRICT_STATE_ID, m),
        "SchoolName": schools.names[students.school[student]],
        "School_StateID": schools.state_ids[students.school[student]],
        "StudentID": _strs(students.sis[student]),
        "Student_StateID": _strs(students.state_id[student]),
        "Subject": np.array([t[0] for t in _NWEA_TESTS], dtype=object)[kind],
        "Course": np.array([t[1] for t in _NWEA_TESTS], dtype=object)[kind],
        "GrowthMeasureYN": _const("TRUE", m),
        "NormsReferenceData": _const("2020", m),
        "WISelectedAYFall": _const("1", m),
        "TestType": _const("Survey With Goals", m),
        "TestName": "Growth: " + stems[kind] + " " + band + " CCSS 2010",
        # Increasing with random gaps: unique without a lookup, yet not a plain counter.
        "TestID": _strs(710_000_000 + 7 * np.arange(m) + rng.integers(0, 7, m)),
        "TestStartDate": school_days[rng.integers(0, school_days.size, m)],
        "TestStartTime": clock[rng.integers(0, clock.size, m)],
        "TestDurationMinutes": _strs(rng.integers(20, 61, m)),
        "TestRITScore": _strs(rit),
        "TestStandardError": _fmt(".2f", 3.0 + 0.6 * rng.random(m)),
        "TestPercentile": _strs(pct),
        "AchievementQuintile": _quintile(pct),
        "PercentCorrect": _strs(rng.integers(35, 76, m)),
        "RapidGuessingPercentage": _fmt(".4f", np.where(rng.random(m) < 0.1, 2.5 * rng.integers(1, 9, m), 0)),
        "LexileScore": np.where(reading, _lexile(lexile), ""),
        "LexileMin": np.where(reading, _lexile(lexile - 100), ""),
        "LexileMax": np.where(reading, _lexile(lexile + 50), ""),
        "TypicalFallToFallGrowth": _strs(typical + 1),
        "TypicalFallToWinterGrowth": _strs(typical // 2),
        "TypicalFallToSpringGrowth": _strs(typical),
    }
    for i in range(max(len(t[3]) for t in _NWEA_TESTS)):
        names = np.array([t[3][i] if i < len(t[3]) else "" for t in _NWEA_TESTS], dtype=object)[kind]
        has = names != ""
        goal = np.clip(np.rint(rit + 6 * rng.standard_normal(m)), *_RIT_RANGE).astype(np.int64)
        std_err = np.rint(58 + 14 * rng.random(m)) / 10
        half = np.rint(std_err).astype(np.int64)
        results[f"Goal{i + 1}Name"] = names
        results[f"Goal{i + 1}RitScore"] = np.where(has, _strs(goal), "")
        results[f"Goal{i + 1}StdErr"] = np.where(has, _fmt(".1f", std_err), "")
        results[f"Goal{i + 1}Range"] = np.where(has, _strs(goal - half) + "-" + _strs(goal + half), "")
        results[f"Goal{i + 1}Adjective"] = np.where(has, _quintile(_percentile(goal, mean, sd)), "")

    in_roster, sbs_in_roster = student < r, tested < r
    valid = {
        "AssessmentResults.csv": {c: v[in_roster] for c, v in results.items()},
        "StudentsBySchool.csv": {c: v[sbs_in_roster] for c, v in by_school.items()},
    }
    unmatched = {
        "AssessmentResults.csv": {c: v[~in_roster] for c, v in results.items()},
        "StudentsBySchool.csv": {c: v[~sbs_in_roster] for c, v in by_school.items()},
    }
    return valid, unmatched


# --- decoys (invalid rows) ------------------------------------------------------------------


def _decoys(
    opts: SyntheticOptions,
    tables: dict[str, Table],
    school_ids: np.ndarray,
    used_sis: np.ndarray,
    used_state: np.ndarray,
) -> dict[str, Table]:
    """``bad_record_rate`` decoys for users, classes, enrollments and AssessmentResults.

    Defect kinds alternate so that every kind appears as soon as a file has two decoys.
    """
    # A stream of its own: adding decoys never shifts a single valid draw.
    rng = np.random.default_rng([opts.seed, 1])
    rate, fall_year = opts.bad_record_rate, opts.school_year - 1
    decoys: dict[str, Table] = {}

    users = tables["users.csv"]
    m = _bad_count(_rows(users), rate)
    kind = np.arange(m) % 2
    student_grades = users["grades"][users["role"] == "student"]
    decoys["users.csv"] = _user_table(
        sourced_id=_where(kind == 1, "", _uuids(rng, m)),
        role=_const("student", m),
        org=school_ids[rng.integers(0, school_ids.size, m)],
        grade=_where(kind == 0, "Grade 14", student_grades[rng.integers(0, student_grades.size, m)]),
        # Fresh identities: a decoy must not share a SIS or state id with a valid person.
        persons=_persons(rng, m),
        identifier=_strs(_fresh_ids(rng, m, 100_000, 1_000_000, used_sis)),
        state_id=_strs(_fresh_ids(rng, m, 100_000_000, 1_000_000_000, used_state)),
        email_seq=np.arange(_rows(users) + 1, _rows(users) + m + 1),
        ext_flag=_const("", m),
    )

    m = _bad_count(_rows(tables["classes.csv"]), rate)
    classes = _copy_rows(tables["classes.csv"], rng, m)
    classes["sourcedId"] = np.array([f"cls-x{j:05d}" for j in range(m)], dtype=object)
    classes["courseSourcedId"] = np.array([f"crs-missing-{j:05d}" for j in range(m)], dtype=object)
    decoys["classes.csv"] = classes

    enrollments = tables["enrollments.csv"]
    m = _bad_count(_rows(enrollments), rate)
    kind = np.arange(m) % 2
    students_only = {c: v[enrollments["role"] == "student"] for c, v in enrollments.items()}
    bad_enr = _copy_rows(students_only, rng, m)
    bad_enr["sourcedId"] = _uuids(rng, m)
    missing = np.array([f"cls-missing-{j:05d}" for j in range(m)], dtype=object)
    bad_enr["classSourcedId"] = _where(kind == 0, missing, bad_enr["classSourcedId"])
    bad_enr["beginDate"] = _where(kind == 1, f"{fall_year}-13-45", bad_enr["beginDate"])
    decoys["enrollments.csv"] = bad_enr

    m = _bad_count(_rows(tables["AssessmentResults.csv"]), rate)
    kind = np.arange(m) % 2
    results = _copy_rows(tables["AssessmentResults.csv"], rng, m)
    results["TestID"] = _strs(900_000_000 + np.arange(m))  # above every valid TestID: still unique
    results["TestRITScore"] = _where(kind == 0, "999", results["TestRITScore"])
    results["TestStartDate"] = _where(kind == 1, f"13/45/{fall_year}", results["TestStartDate"])
    decoys["AssessmentResults.csv"] = results
    return decoys


@dataclass(frozen=True)
class _World:
    valid: dict[str, Table]  # per file
    bad: dict[str, Table]  # per file, for files that have invalid rows


def _build_world(opts: SyntheticOptions) -> _World:
    rng = np.random.default_rng(opts.seed)
    sess = _sessions(opts.school_year)
    schools = _schools(opts.schools)
    students = _draw_students(rng, schools, opts.students, opts.school_year - 1)
    valid, staff_sis = _roster(rng, opts, schools, students, sess)
    nwea_valid, unmatched = _nwea(rng, opts, schools, students)
    valid |= nwea_valid
    bad = _decoys(opts, valid, schools.ids, np.concatenate([students.sis, staff_sis]), students.state_id)
    # NWEA-only students are invalid by construction: downstream quarantines them as unmatched.
    bad["AssessmentResults.csv"] = _concat(unmatched["AssessmentResults.csv"], bad["AssessmentResults.csv"])
    bad["StudentsBySchool.csv"] = unmatched["StudentsBySchool.csv"]
    return _World(valid, bad)


# --- writing --------------------------------------------------------------------------------


def _write_csv(
    path: Path,
    table: Table,
    header: tuple[str, ...],
    *,
    bom: bool = False,
    eol: str = "\n",
    final_newline: bool = True,
    quote_all: bool = False,
) -> None:
    """Write the ``header`` columns of ``table`` (absent ones empty), with the given quirks.

    NWEA files (``quote_all``) quote every value but not the header; Arrow's writer does
    that several times faster than the csv module. OneRoster files quote only the cells
    that need it (multi-value cells), which Arrow cannot do.
    """
    n = _rows(table)
    head = ("\ufeff" if bom else "") + ",".join(header) + eol
    if quote_all:
        blank = pa.array(_const("", n), type=pa.string())
        arrays = [pa.array(table[c], type=pa.string()) if c in table else blank for c in header]
        options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid", eol=eol)
        with path.open("wb") as fh:
            fh.write(head.encode("utf-8"))
            pa_csv.write_csv(pa.Table.from_arrays(arrays, names=list(header)), fh, options)
    else:
        blank_list = [""] * n
        columns = [table[c].tolist() if c in table else blank_list for c in header]
        with path.open("w", encoding="utf-8", newline="") as fh:
            fh.write(head)
            csv.writer(fh, lineterminator=eol).writerows(zip(*columns, strict=True))
    if not final_newline:
        os.truncate(path, path.stat().st_size - len(eol.encode("utf-8")))


def _write_manifest(path: Path, version: str, written: set[str]) -> None:
    rows = [
        ("manifest.version", "1.0"),
        ("oneroster.version", version),
        ("source.systemName", "edassets synthetic district"),
        ("source.systemCode", "edassets-demo"),
    ]
    rows += [(f"file.{name}", "bulk" if name in written else "absent") for name in _MANIFEST_FILES[version]]
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([_MANIFEST_HEADER, *rows])


def _validate(opts: SyntheticOptions) -> None:
    if not 1 <= opts.students <= _MAX_STUDENTS:
        raise ValueError(f"students must be in 1..{_MAX_STUDENTS}, got {opts.students}")
    if not 1 <= opts.schools <= _MAX_SCHOOLS:
        raise ValueError(f"schools must be in 1..{_MAX_SCHOOLS}, got {opts.schools}")
    if opts.oneroster_version not in _MANIFEST_FILES:
        raise ValueError(f"oneroster_version must be '1.1' or '1.2', got {opts.oneroster_version!r}")
    if not 0.0 <= opts.bad_record_rate < 1.0:
        raise ValueError(f"bad_record_rate must be in [0, 1), got {opts.bad_record_rate}")
    if not 1901 <= opts.school_year <= 9999:
        raise ValueError(f"school_year must be a four-digit spring year, got {opts.school_year}")


def write_synthetic_district(out_dir: Path, options: SyntheticOptions = SyntheticOptions()) -> SyntheticFiles:
    """Generate the district and write it as OneRoster CSV and NWEA MAP Growth files.

    Files go to ``out_dir/oneroster`` and ``out_dir/nwea``. Files an earlier run may have
    left there but this run does not write (``roles.csv`` after a 1.2 run, an excluded
    StudentsBySchool.csv) are removed, so a reused folder never mixes two worlds.

    Args:
        out_dir: Folder to write into (created if missing).
        options: What to generate.

    Returns:
        The two folders and the valid and invalid data-row counts per written file.

    Raises:
        ValueError: If an option is out of range.
    """
    _validate(options)
    world = _build_world(options)
    oneroster_dir, nwea_dir = Path(out_dir) / "oneroster", Path(out_dir) / "nwea"
    oneroster_dir.mkdir(parents=True, exist_ok=True)
    nwea_dir.mkdir(parents=True, exist_ok=True)

    is_12 = options.oneroster_version == "1.2"
    # file -> (folder, header, writer options); the options carry the deliberate hygiene.
    plan: dict[str, tuple[Path, tuple[str, ...], dict[str, Any]]] = {
        "orgs.csv": (oneroster_dir, _ORGS_HEADER, {}),
        "academicSessions.csv": (oneroster_dir, _SESSIONS_HEADER, {}),
        "courses.csv": (oneroster_dir, _COURSES_HEADER, {}),
        "classes.csv": (oneroster_dir, _CLASSES_HEADER, {"final_newline": False}),
        "users.csv": (oneroster_dir, _USERS_12_HEADER if is_12 else _USERS_11_HEADER, {"bom": True}),
        "enrollments.csv": (oneroster_dir, _ENROLLMENTS_HEADER, {"eol": "\r\n"}),
        "demographics.csv": (oneroster_dir, _DEMOGRAPHICS_HEADER, {}),
    }
    if is_12:
        plan["roles.csv"] = (oneroster_dir, _ROLES_HEADER, {})
    results_header = NWEA_ASSESSMENT_RESULTS_HEADER
    if options.nwea_legacy_columns:
        results_header = tuple(NWEA_LEGACY_RENAMES.get(c, c) for c in results_header)
    plan["AssessmentResults.csv"] = (nwea_dir, results_header, {"quote_all": True})
    if options.include_students_by_school:
        plan["StudentsBySchool.csv"] = (nwea_dir, NWEA_STUDENTS_BY_SCHOOL_HEADER, {"quote_all": True})

    placement = np.random.default_rng([options.seed, 2])  # where decoys land among valid rows
    expected: dict[str, int] = {}
    bad: dict[str, int] = {}
    for name, (folder, header, writer_options) in plan.items():
        valid, decoys = world.valid[name], world.bad.get(name)
        expected[name] = _rows(valid)
        bad[name] = _rows(decoys) if decoys is not None else 0
        table = _interleave(valid, decoys, placement) if decoys is not None else valid
        if name == "AssessmentResults.csv" and options.nwea_legacy_columns:
            table = {NWEA_LEGACY_RENAMES.get(c, c): v for c, v in table.items()}
        _write_csv(folder / name, table, header, **writer_options)

    for optional, folder in (("roles.csv", oneroster_dir), ("StudentsBySchool.csv", nwea_dir)):
        if optional not in plan:
            (folder / optional).unlink(missing_ok=True)
    written = {name.removesuffix(".csv") for name, (folder, _, _) in plan.items() if folder == oneroster_dir}
    _write_manifest(oneroster_dir / "manifest.csv", options.oneroster_version, written)
    return SyntheticFiles(oneroster_dir, nwea_dir, expected, bad)


def zip_bundle(folder: Path, zip_path: Path) -> Path:
    """Zip the files of a OneRoster folder flat (no sub-folders), as the CSV binding requires.

    Entries are sorted by name and carry a fixed timestamp, so equal folders give equal bytes.

    Args:
        folder: Folder whose regular files are zipped (sub-folders are ignored).
        zip_path: Where to write the zip (parent folders are created).

    Returns:
        ``zip_path``.
    """
    zip_path = Path(zip_path)
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in Path(folder).iterdir() if p.is_file()):
            info = zipfile.ZipInfo(file.name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, file.read_bytes())
    return zip_path
