"""Renaissance Star (K12_FORMATS §1.8, §3 #15): ``SR_v2.csv``, ``SM_v2.csv`` and ``SEL_v2.csv``.

The world holds no Star results: this emulator draws them, from the district's students
and a seed derived from the district id, so every sync of a district shows the same tests.
Star Reading and Star Math are taken from grade 1 up, Star Early Literacy from kindergarten
to grade 3 (Renaissance's grade_level_mapping.csv spells no pre-kindergarten grade, so
none is invented); one to three tests per student in the fall screening window, a few of
them deactivated by a teacher.

The files have the real export's 126 columns in its order (the anonymised SR sample), with
its quirks: ``CompletedDate`` in UTC with ``Z``, ``CompletedDateLocal`` the school's wall
clock with a ``Z`` as well, kindergarten written ``0`` or ``K``, ``GradePlacement`` with two
decimals and Lexiles such as ``BR400L``.

Truth: every active test, keyed by its ``AssessmentID`` with ``source_platform=
"renaissance_star"``, pointing at the canonical person of its ``StudentIdentifier`` (the
SIS id); deactivated tests are not results.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import ClassVar

import numpy as np
import pandas as pd

from edassets.sandbox import wire
from edassets.sandbox.emulators.base import FileEmulator, sis_ghost_id
from edassets.sandbox.world import WorldState
from edassets.sandbox.world.columns import local_to_utc, pick, school_days
from edassets.sandbox.world.spec import GRADES, KG

HEADER: tuple[str, ...] = (
    "RenaissanceClientID", "SchoolYear", "SchoolYearStartDate", "SchoolYearEndDate", "StudentRenaissanceID",
    "StudentSourcedID", "StudentIdentifier", "StudentUserID", "StudentStateID", "StudentEmail", "StudentFirstName",
    "StudentMiddleName", "StudentLastName", "Gender", "BirthDate", "MultiRace", "HispanicOrLatino",
    "AmericanIndianOrAlaskaNative", "Asian", "BlackOrAfricanAmerican", "NativeHawaiianOrOtherPacificIslander", "White",
    "CurrentGrade", "EnrollmentStatus", "DistrictRenaissanceID", "DistrictSourcedID", "DistrictIdentifier",
    "DistrictStateID", "DistrictName", "SchoolRenaissanceID", "SchoolSourcedID", "SchoolIdentifier", "SchoolStateID",
    "SchoolName", "CourseRenaissanceID", "CourseSourcedID", "CourseCode", "CourseName", "ClassRenaissanceID",
    "ClassSourcedID", "ClassCode", "GroupID", "GroupOrClassName", "TeacherRenaissanceID", "TeacherSourcedID",
    "TeacherIdentifier", "TeacherUserID", "TeacherStateID", "TeacherEmail", "TeacherFirstName", "TeacherMiddleName",
    "TeacherLastName", "AssessmentID", "LaunchDate", "CompletedDate", "CompletedDateLocal", "AssessmentNumber",
    "AssessmentType", "AssessmentStatus", "DeactivationReason", "GradePlacement", "Grade", "ExtraTime", "ScaledScore",
    "StandardErrorOfMeasurement", "RaschScore", "UnifiedScore", "PartnershipForAssessmentOfReadinessForCollegeAndCareers",
    "SmarterBalancedAssessmentConsortium", "OpenGrowthScore", "GradeEquivalent", "PercentileRank",
    "NormalCurveEquivalent", "InstructionalReadingLevel", "EstimatedOralReadingFluency",
    "LowerZoneOfProximalDevelopment", "UpperZoneOfProximalDevelopment", "Lexile", "LowerLexileZoneOfProximalDevelopment",
    "UpperLexileZoneOfProximalDevelopment", "TotalTimeInSeconds", "TotalCorrect", "TotalPossible",
    "Grade3_AssessmentAttempts", "Grade3_PassingStatus", "Grade3_PassingScore", "StudentGrowthPercentileFallFall",
    "StudentGrowthPercentileFallSpring", "StudentGrowthPercentileFallWinter", "StudentGrowthPercentileSpringFall",
    "StudentGrowthPercentileSpringSpring", "StudentGrowthPercentileWinterSpring", "ScreeningPeriodWindowName",
    "ScreeningWindowStartDate", "ScreeningWindowEndDate", "RenaissanceBenchmarkCategoryName",
    "RenaissanceBenchmarkCategoryLevel", "RenaissanceBenchmarkCategoryNumberOfLevels",
    "RenaissanceBenchmarkCategoryMinPercentileRank", "RenaissanceBenchmarkCategoryMaxPercentileRank",
    "StateBenchmarkAssessmentName", "StateBenchmarkCategoryName", "StateBenchmarkProficient",
    "StateBenchmarkCategoryLevel", "StateBenchmarkNumberOfCategoryLevels", "StateBenchmarkMinScaledScore",
    "StateBenchmarkMaxScaledScore", "DistrictBenchmarkCategoryName", "DistrictBenchmarkProficient",
    "DistrictBenchmarkCategoryLevel", "DistrictBenchmarkNumberOfCategoryLevels", "DistrictBenchmarkMinPercentileRank",
    "DistrictBenchmarkMaxPercentileRank", "SchoolBenchmarkCategoryName", "SchoolBenchmarkProficient",
    "SchoolBenchmarkCategoryLevel", "SchoolBenchmarkNumberOfCategoryLevels", "SchoolBenchmarkMinPercentileRank",
    "SchoolBenchmarkMaxPercentileRank", "CurrentSGP", "TakenAt", "TakenAtByIPAddress", "StudentDisplayID",
    "TeacherDisplayID", "SATBenchmarkCategory", "ACTBenchmarkCategory",
)  # fmt: skip
"""The columns of every Star results export, in Renaissance's order (the real SR sample)."""

@dataclass(frozen=True)
class _Kind:
    """One Star assessment: its export, names, scaled-score bounds and the world's score curve."""

    file: str
    assessment: str
    subject: str
    low: float
    high: float
    mean_at_kindergarten: float
    mean_step_per_grade: float
    spread: float


_KINDS = (
    _Kind("SR_v2.csv", "Star Reading", "Reading", 0, 1400, 150, 85, 120),
    _Kind("SM_v2.csv", "Star Math", "Mathematics", 0, 1400, 300, 65, 90),
    _Kind("SEL_v2.csv", "Star Early Literacy", "Early Literacy", 300, 900, 520, 75, 70),
)
_FILES = tuple(k.file for k in _KINDS)
_SR, _SM, _SEL = range(3)
_FIRST, _THIRD = GRADES.index("01"), GRADES.index("03")
# Renaissance benchmark categories by percentile rank (the sample: Urgent Intervention 1-9).
_BENCHMARKS = ("Urgent Intervention", "Intervention", "On Watch", "At/Above Benchmark")
_BENCHMARK_EDGES = (10, 25, 40)
_DEACTIVATED = 0.03
_DEACTIVATION_REASONS = ("Testing irregularity", "Student was interrupted", "Student needed to retest")
_TOTAL_POSSIBLE = 34


def _seed(district_id: str) -> int:
    """A stable seed from the district id (Python's `hash()` changes between processes)."""
    return int.from_bytes(hashlib.sha256(f"renaissance_star:{district_id}".encode()).digest()[:8])


def _per_kind(attribute: str, kind: np.ndarray) -> np.ndarray:
    """A numeric attribute of each row's assessment."""
    return np.array([getattr(k, attribute) for k in _KINDS], dtype=float)[kind]


def _school_year(as_of: date) -> tuple[int, str]:
    """The fall year of the school year `as_of` falls in, and its name (``2025-2026``)."""
    fall = as_of.year if as_of.month >= 8 else as_of.year - 1
    return fall, f"{fall}-{fall + 1}"


def _guids(rng: np.random.Generator, n: int) -> list[str]:
    h = rng.bytes(16 * n).hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-{h[i + 20:i + 32]}"
            for i in range(0, 32 * n, 32)]


def _lexile(score: np.ndarray) -> list[str]:
    """A Lexile from the Reading score, as Star writes it: ``BR`` + distance below zero for beginning readers."""
    lexile = (np.rint((score * 1.45 - 450) / 5) * 5).astype(np.int64)
    return [f"BR{-v}L" if v < 0 else f"{v}L" for v in lexile.tolist()]


def taken_tests(state: WorldState) -> pd.DataFrame:
    """Every Star test of the district's students this school year, as of the state's day.

    One row per test, with the values as the export writes them (text) plus `kind`
    (index into the file kinds), `person_key` and `active`.
    """
    rng = np.random.default_rng(_seed(state.spec.district_id))
    students = state.persons[state.persons["role"] == "student"].sort_values("person_key", kind="stable")
    grade = np.array([GRADES.index(g) for g in students["grade"]], dtype=np.int64)
    # Eligible kinds per grade index: SEL from KG to 3, SR and SM from 1 up.
    eligible = np.full((len(GRADES), 3), -1, dtype=np.int64)
    eligible[KG] = (_SEL, -1, -1)
    eligible[_FIRST:_THIRD + 1] = (_SR, _SM, _SEL)
    eligible[_THIRD + 1:] = (_SR, _SM, -1)
    choices = (eligible >= 0).sum(axis=1)
    tested = np.flatnonzero(choices[grade] > 0)
    per_student = rng.integers(1, 4, tested.size)
    student = np.repeat(tested, per_student)
    m = student.size
    g = grade[student]
    kind = eligible[g, (rng.random(m) * choices[g]).astype(np.int64)]
    level = g - KG  # 0 in kindergarten
    mean = _per_kind("mean_at_kindergarten", kind) + _per_kind("mean_step_per_grade", kind) * level
    sd = _per_kind("spread", kind)
    ability = rng.standard_normal(len(grade))[student]
    score = np.clip(np.rint(mean + sd * (0.8 * ability + 0.6 * rng.standard_normal(m))), _per_kind("low", kind),
                    _per_kind("high", kind)).astype(np.int64)
    # Logistic approximation of the normal CDF, as the MAP world does; Star ranks run 1-99.
    percentile = np.clip(np.rint(100.0 / (1.0 + np.exp(-1.702 * (score - mean) / sd))), 1, 99).astype(np.int64)

    fall, _ = _school_year(state.as_of)
    window = school_days(date(fall, 8, 25), date(fall, 9, 26))
    day = rng.choice(window, size=m)
    completed = local_to_utc(day, rng.integers(8 * 3600, 15 * 3600, m), state.spec.timezone)
    duration = rng.integers(180, 1800, m)
    # Grade placement: the grade plus hundredths of the year gone by (Aug 25 is .05).
    hundredths = 5 + (day - window[0]).astype(np.int64) // 4
    active = rng.random(m) >= _DEACTIVATED
    keep = (day <= np.datetime64(state.as_of, "D"))
    persons = students.iloc[student].reset_index(drop=True)
    kindergarten = rng.random(m) < 0.5
    written_grade = np.where(level == 0, np.where(kindergarten, "K", "0"), level.astype(str))
    local_clock = completed.dt.tz_convert(state.spec.timezone).dt.tz_localize(None).dt.tz_localize("UTC")
    frame = pd.DataFrame({
        "kind": kind,
        "person_key": persons["person_key"].to_numpy(),
        "active": active,
        "AssessmentID": _guids(rng, m),
        "StudentIdentifier": persons["sis_id"].to_numpy(),
        "StudentSourcedID": persons["sourced_id"].to_numpy(),
        "StudentStateID": persons["state_id"].fillna("").to_numpy(),
        "StudentFirstName": persons["given_name"].to_numpy(),
        "StudentLastName": persons["family_name"].to_numpy(),
        "school_key": persons["school_key"].to_numpy(),
        "Grade": written_grade,
        "CurrentGrade": written_grade,
        "LaunchDate": wire.instants(completed - pd.to_timedelta(duration, unit="s")),
        "CompletedDate": wire.instants(completed),
        "CompletedDateLocal": wire.instants(local_clock),
        "administered_at": completed,
        "AssessmentStatus": np.where(active, "Active", "Deactivated"),
        "DeactivationReason": np.where(active, "", pick(_DEACTIVATION_REASONS, rng.integers(0, 3, m)).to_numpy()),
        "GradePlacement": [f"{lv}.{h:02d}" for lv, h in zip(level.tolist(), hundredths.tolist(), strict=True)],
        "ScaledScore": score.astype(str),
        "StandardErrorOfMeasurement": [f"0.{v:06d}" for v in rng.integers(300_000, 500_000, m).tolist()],
        "PercentileRank": percentile.astype(str),
        "RenaissanceBenchmarkCategoryName": pick(_BENCHMARKS, np.searchsorted(_BENCHMARK_EDGES, percentile,
                                                                             side="right")).to_numpy(),
        "Lexile": np.where(kind == _SR, _lexile(score), ""),
        "TotalTimeInSeconds": duration.astype(str),
        "TotalCorrect": rng.integers(5, _TOTAL_POSSIBLE + 1, m).astype(str),
    })
    return frame[keep].reset_index(drop=True)


def export(state: WorldState) -> dict[str, bytes]:
    """The three exports of the district, tests in completion order.

    Args:
        state: the district on a day.

    Returns:
        File name -> bytes (``SR_v2.csv``, ``SM_v2.csv``, ``SEL_v2.csv``).
    """
    taken = taken_tests(state).sort_values("CompletedDate", kind="stable")
    schools = state.schools.set_index("school_key")
    district = state.district.iloc[0]
    sy, school_year = _school_year(state.as_of)
    files = {}
    for index, star in enumerate(_KINDS):
        rows = taken[taken["kind"] == index]
        n = len(rows)
        school = schools.loc[rows["school_key"]]
        files[star.file] = wire.csv({
            **{column: rows[column] for column in rows.columns if column in HEADER},
            "RenaissanceClientID": district["nces_id"], "SchoolYear": school_year,
            "SchoolYearStartDate": f"{sy}-08-18T00:00:00Z", "SchoolYearEndDate": f"{sy + 1}-05-29T00:00:00Z",
            "StudentUserID": rows["StudentIdentifier"], "EnrollmentStatus": "Enrolled",
            "DistrictSourcedID": district["sourced_id"], "DistrictStateID": district["nces_id"],
            "DistrictName": district["name"], "SchoolSourcedID": school["sourced_id"].tolist(),
            "SchoolIdentifier": school["school_number"].tolist(), "SchoolName": school["name"].tolist(),
            "AssessmentNumber": "1", "AssessmentType": "Enterprise", "ExtraTime": "No",
            "TotalPossible": str(_TOTAL_POSSIBLE), "ScreeningPeriodWindowName": "Fall",
            "ScreeningWindowStartDate": f"{sy}-08-25T00:00:00Z", "ScreeningWindowEndDate": f"{sy}-09-26T00:00:00Z",
            "RenaissanceBenchmarkCategoryNumberOfLevels": str(len(_BENCHMARKS)), "TakenAt": "school",
            "CourseName": star.assessment,
        }, HEADER, n)
    return files


class RenaissanceStarEmulator(FileEmulator):
    """A district's Star Reading, Math and Early Literacy exports for the school year so far."""

    platform = "renaissance_star"
    title = "Renaissance Star"
    id_scheme = "sis_id"
    quote_all = False
    collection_entities: ClassVar[Mapping[str, str]] = dict.fromkeys(_FILES, "assessment_result")
    record_keys: ClassVar[Mapping[str, tuple[str, ...]]] = dict.fromkeys(_FILES, ("AssessmentID",))
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        # Not AssessmentID: without its student a result is still named, and quarantined by name.
        "missing_id": dict.fromkeys(_FILES, ("StudentIdentifier",)),
        # The fault writes 14: inside Reading's and Math's 0-1400 scale, so there it goes to
        # the grade placement (past grade 13); below Early Literacy's 300 it is the score.
        "out_of_range_score": {"SR_v2.csv": ("GradePlacement",), "SM_v2.csv": ("GradePlacement",),
                               "SEL_v2.csv": ("ScaledScore",)},
        "future_date": dict.fromkeys(_FILES, ("CompletedDate",)),
        # A student id no roster knows: the result is unmatched.
        "dangling_reference": dict.fromkeys(_FILES, ("StudentIdentifier",)),
    }

    ghost_id = classmethod(sis_ghost_id)

    @classmethod
    def render(cls, state: WorldState) -> dict[str, bytes]:
        """The three exports."""
        return export(state)

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """Every active test, pointing at the canonical person of its SIS id."""
        taken = taken_tests(state)
        taken = taken[taken["active"]].reset_index(drop=True)
        kind = taken["kind"].to_numpy()
        names = [k.assessment for k in _KINDS]
        level = pd.Series([GRADES[KG + int(p.split(".")[0])] for p in taken["GradePlacement"]])
        return {"assessment_result": pd.DataFrame({
            "district_id": state.spec.district_id,
            "source_platform": cls.platform,
            "result_id": taken["AssessmentID"],
            "person_id": taken["person_key"].map(wire.lookup(state.persons, "person_key", roster_scheme)),
            "source_person_id": taken["StudentIdentifier"],
            "assessment_name": pick(names, kind),
            "subject": pick([k.subject for k in _KINDS], kind),
            "vendor": "Renaissance",
            "assessment_window": f"Fall {_school_year(state.as_of)[1]}",
            "administered_at": taken["administered_at"],
            "grade_at_test": level,
            "scale_score": pd.to_numeric(taken["ScaledScore"]),
            "scale_name": pick([f"{n} Scaled Score" for n in names], kind),
            "scale_min": _per_kind("low", kind),
            "scale_max": _per_kind("high", kind),
            "raw_score": pd.to_numeric(taken["TotalCorrect"]),
            "standard_error": pd.to_numeric(taken["StandardErrorOfMeasurement"]),
            "percentile": pd.to_numeric(taken["PercentileRank"]),
            "performance_level": taken["RenaissanceBenchmarkCategoryName"],
            "grade_placement": pd.to_numeric(taken["GradePlacement"]),
            "lexile": taken["Lexile"].replace("", None),
            "duration_minutes": pd.to_numeric(taken["TotalTimeInSeconds"]) / 60,
            "counts_for_growth": pd.NA,
        })}
