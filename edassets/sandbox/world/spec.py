"""The world's public types (districts, options, a day's state) and its grade and subject vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

GRADES = ("PK", "KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12")
"""CEDS grade codes the world uses, in order; indices into this tuple are 'grade indices'."""

STRING = pd.StringDtype("pyarrow")

MIN_STUDENTS, MAX_STUDENTS = 500, 50_000
BENCHMARK_MAX_STUDENTS = 400_000
"""Students a `DistrictSpec` with ``benchmark_scale`` may have. Real districts stay within
`MAX_STUDENTS`; an import benchmark needs one district bigger than that. The bound is the
generator's: schools are named after distinct Faker surnames (1,000, one school per 500
students) and student SIS ids have six digits."""

# Indices into GRADES (PK=0, KG=1, "01"=2 … "12"=13) are "grade indices" everywhere in the world.
GRADE_LABELS = ("Pre-Kindergarten", "Kindergarten", *(f"Grade {g}" for g in range(1, 13)))
KG = 1
# (school type, first grade index, end grade index): elementary PK-05, middle 06-08, high 09-12.
BANDS = (("Elementary School", 0, 7), ("Middle School", 7, 10), ("High School", 10, 14))
BAND_OF_GRADE = np.array([b for b, (_, lo, hi) in enumerate(BANDS) for _ in range(lo, hi)])

# (code, title). The first four are core subjects every student takes all year.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("MATH", "Mathematics"),
    ("ELA", "English Language Arts"),
    ("SCI", "Science"),
    ("SS", "Social Studies"),
    ("ART", "Art"),
    ("MUS", "Music"),
    ("PE", "Physical Education"),
    ("SPAN", "Spanish"),
    ("CS", "Computer Science"),
)
"""Subjects as (course-code stem, title); titles are what `subject` columns hold."""
N_SUBJECTS = len(SUBJECTS)


@dataclass(frozen=True)
class DistrictSpec:
    """One district of the world.

    Attributes:
        district_id: Normalised registry id (``[a-z0-9_-]+``), e.g. ``"maple-usd"``.
        name: District name.
        students: Number of students, 500..50,000 (`MIN_STUDENTS`, `MAX_STUDENTS`).
        roster_source: The district's authoritative roster platform (an emulator with `roster`).
        timezone: IANA zone of the district's wall clocks (assessment start times).
        benchmark_scale: Benchmarks only: allow up to `BENCHMARK_MAX_STUDENTS` students,
            so that one import can be timed at a volume no real district has.
    """

    district_id: str
    name: str
    students: int
    roster_source: str
    timezone: str = "America/Chicago"
    benchmark_scale: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_-]+", self.district_id):
            raise ValueError(f"district_id must match [a-z0-9_-]+, got {self.district_id!r}")
        most = BENCHMARK_MAX_STUDENTS if self.benchmark_scale else MAX_STUDENTS
        if not MIN_STUDENTS <= self.students <= most:
            raise ValueError(f"students must be in {MIN_STUDENTS}..{most}, got {self.students}")
        from edassets.sandbox.emulators import roster_platforms  # the emulators render this world

        if self.roster_source not in roster_platforms():
            raise ValueError(f"roster_source must be one of {roster_platforms()}, got {self.roster_source!r}")
        ZoneInfo(self.timezone)  # raises on an unknown zone


@dataclass(frozen=True)
class WorldOptions:
    """What to generate.

    Attributes:
        districts: The districts; ids must be unique.
        seed: Seed of every random draw.
        school_year: The spring year; 2026 means 2025-2026.
        sync_dates: The two roster syncs; transfers and withdrawals take effect after the
            first and on or before the second.
        transfer_rate: Share of students moving to another school of the same band
            between the two syncs.
        withdrawal_rate: Share of students leaving the district between the two syncs.
    """

    districts: tuple[DistrictSpec, ...]
    seed: int = 11
    school_year: int = 2026
    sync_dates: tuple[date, date] = (date(2026, 1, 12), date(2026, 1, 19))
    transfer_rate: float = 0.01
    withdrawal_rate: float = 0.01

    def __post_init__(self) -> None:
        ids = [d.district_id for d in self.districts]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"districts must be non-empty with unique ids, got {ids}")
        if not self.sync_dates[0] < self.sync_dates[1]:
            raise ValueError(f"sync_dates must be increasing, got {self.sync_dates}")
        if not 2000 <= self.school_year <= 2100:
            raise ValueError(f"school_year must be a spring year in 2000..2100, got {self.school_year}")
        # Above a fifth the "few changes between two syncs" story stops being a roster sync.
        for name in ("transfer_rate", "withdrawal_rate"):
            if not 0.0 <= getattr(self, name) <= 0.2:
                raise ValueError(f"{name} must be in [0, 0.2], got {getattr(self, name)}")


@dataclass(frozen=True)
class WorldState:
    """One district's roster and data as the source systems show it on ``as_of``.

    Treat the frames as read-only: `World.state` caches and shares them.

    Attributes:
        spec: The district.
        as_of: The day the state describes.
        district: One row: district_key, sourced_id, clever_id, name, nces_id, timezone, last_modified.
        schools: school_key, sourced_id, clever_id, name, school_number, low_grade, high_grade,
            status, last_modified.
        terms: term_key, sourced_id, clever_id, title, session_type, start_date, end_date,
            parent_key, school_year, status, last_modified.
        courses: course_key, sourced_id, clever_id, school_key, title, course_code, subject,
            grade_levels, status, last_modified.
        classes: class_key, sourced_id, clever_id, course_key, school_key, term_keys, title,
            class_code, period, subject, grade, status, last_modified.
        persons: person_key, sourced_id, clever_id, role, given_name, middle_name, family_name,
            gender, email, username, sis_id, state_id, grade, birth_date, school_key,
            guardian_of, status, last_modified.
        enrollments: enrollment_key, sourced_id, class_key, person_key, role, is_primary,
            begin_date, end_date, status, last_modified.
        assessment_results: result_key, test_id, person_key, school_key (school when tested),
            subject, course, test_name, term_name, administered_at, local_date, local_time,
            duration_minutes, rit_score, standard_error, percentile, quintile, grade_at_test.
        learning_activity: event_key, person_key, class_key, verb, object_id, object_name,
            started_at, ended_at, duration_seconds, score_raw, score_min, score_max,
            score_scaled, completed.
    """

    spec: DistrictSpec
    as_of: date
    district: pd.DataFrame
    schools: pd.DataFrame
    terms: pd.DataFrame
    courses: pd.DataFrame
    classes: pd.DataFrame
    persons: pd.DataFrame
    enrollments: pd.DataFrame
    assessment_results: pd.DataFrame
    learning_activity: pd.DataFrame

