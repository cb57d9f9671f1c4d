"""NWEA MAP Growth (K12_FORMATS §1.8): ``AssessmentResults.csv`` and ``StudentsBySchool.csv``.

Every value is quoted as NWEA writes them; ``StudentID`` is the SIS id; the grade lives only
in StudentsBySchool. Results keep the school a student was tested in, and withdrawn
students stay in the export: NWEA has no deletions, each export is the whole testing term.

Truth: a result is keyed ``f"{StudentID}:{TestID}"`` with ``source_platform="nwea_map"`` and
points at the canonical person found through the SIS id.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import pandas as pd

from edassets.sandbox import wire
from edassets.sandbox.emulators.base import FileEmulator, sis_ghost_id
from edassets.sandbox.world import WorldState

_WINDOWS = ("FallToFall", "FallToWinter", "FallToSpring", "WinterToWinter", "WinterToSpring", "SpringToSpring")
_GROWTH_METRICS = ("ProjectedGrowth", "ObservedGrowth", "ObservedGrowthSE", "MetProjectedGrowth",
                   "ConditionalGrowthIndex", "ConditionalGrowthPercentile", "GrowthQuintile")
_GOAL_FIELDS = ("Name", "RitScore", "StdErr", "Range", "Adjective")
ASSESSMENT_RESULTS_HEADER: tuple[str, ...] = (
    "TermName", "DistrictName", "District_StateID", "SchoolName", "School_StateID",
    "StudentID", "Student_StateID", "Subject", "Course", "GrowthMeasureYN",
    "NormsReferenceData", "WISelectedAYFall", "WISelectedAYWinter", "WISelectedAYSpring",
    "WIPreviousAYFall", "WIPreviousAYWinter", "WIPreviousAYSpring", "TestType", "TestName",
    "TestID", "TestStartDate", "TestStartTime", "TestDurationMinutes", "TestRITScore",
    "TestStandardError", "TestPercentile", "AchievementQuintile", "PercentCorrect",
    "RapidGuessingPercentage",
    *(f"{w}{m}" for w in _WINDOWS for m in _GROWTH_METRICS),
    "LexileScore", "LexileMin", "LexileMax", "QuantileScore", "QuantileMin", "QuantileMax",
    *(f"Goal{i}{f}" for i in range(1, 9) for f in _GOAL_FIELDS),
    *(f"Typical{w}Growth" for w in _WINDOWS),
    *(f"ProjectedProficiency{kind}{i}" for i in range(1, 11) for kind in ("Study", "Level")),
)  # fmt: skip
"""Current (post-2015) AssessmentResults.csv columns, in the order NWEA writes them."""
STUDENTS_BY_SCHOOL_HEADER = (
    "TermName", "DistrictName", "SchoolName", "StudentLastName", "StudentFirstName",
    "StudentMI", "StudentID", "StudentDateOfBirth", "StudentEthnicGroup", "StudentGender",
    "Grade",
)  # fmt: skip
_GRADES = {"PK": "PK", "KG": "K", **{f"{g:02d}": str(g) for g in range(1, 13)}}  # NWEA writes "K", "5"


class NweaMapEmulator(FileEmulator):
    """A district's MAP Growth data export for the fall testing term."""

    platform = "nwea_map"
    title = "NWEA MAP Growth"
    id_scheme = "sis_id"
    quote_all = True
    collection_entities: ClassVar[Mapping[str, str]] = {"AssessmentResults.csv": "assessment_result"}
    record_keys: ClassVar[Mapping[str, tuple[str, ...]]] = {"AssessmentResults.csv": ("StudentID", "TestID")}
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        # Not TestID: without it a result is still named by student, term and test name.
        "missing_id": {"AssessmentResults.csv": ("StudentID",)},
        "out_of_range_score": {"AssessmentResults.csv": ("TestRITScore",)},
        "future_date": {"AssessmentResults.csv": ("TestStartDate",)},
        # A student id no roster knows: the result is unmatched.
        "dangling_reference": {"AssessmentResults.csv": ("StudentID",)},
    }

    ghost_id = classmethod(sis_ghost_id)

    @classmethod
    def render(cls, state: WorldState) -> dict[str, bytes]:
        """The export: results sorted by TestID, students by StudentID."""
        return export(state)

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """Every fall result, pointing at the canonical person of its SIS id."""
        results = state.assessment_results
        sis = results["person_key"].map(wire.lookup(state.persons, "person_key", "sis_id"))
        return {"assessment_result": pd.DataFrame({
            "district_id": state.spec.district_id,
            "source_platform": cls.platform,
            "result_id": sis + ":" + results["test_id"],
            "person_id": results["person_key"].map(wire.lookup(state.persons, "person_key", roster_scheme)),
            "source_person_id": sis,
            "assessment_name": results["test_name"],
            "subject": results["subject"],
            "vendor": "NWEA",
            "assessment_window": results["term_name"],
            "administered_at": results["administered_at"],
            "grade_at_test": results["grade_at_test"],
            "scale_score": results["rit_score"],
            "scale_name": results["course"],
            "standard_error": results["standard_error"],
            "percentile": results["percentile"],
            "performance_level": results["quintile"],
            "duration_minutes": results["duration_minutes"],
            "counts_for_growth": True,
        })}


def export(state: WorldState) -> dict[str, bytes]:
    """A MAP Growth data export: ``AssessmentResults.csv`` and ``StudentsBySchool.csv``.

    Results keep the school a student was tested in, and withdrawn students stay in the
    export: NWEA has no deletions, each export is the whole testing term (K12_FORMATS §1.8).

    Args:
        state: The district on a day.

    Returns:
        File name -> bytes; results sorted by TestID, students by StudentID.
    """
    results = wire.sorted_by(state.assessment_results, "test_id")
    persons = state.persons.set_index("person_key")
    schools = state.schools.set_index("school_key")
    district = state.district.iloc[0]
    student = persons.loc[results["person_key"]]
    school = schools.loc[results["school_key"]]
    m = len(results)
    files = {"AssessmentResults.csv": wire.quoted_csv({
        "TermName": results["term_name"], "DistrictName": [district["name"]] * m,
        "District_StateID": [district["nces_id"]] * m, "SchoolName": school["name"].tolist(),
        "School_StateID": (district["nces_id"] + school["school_number"]).tolist(),
        "StudentID": student["sis_id"].tolist(), "Student_StateID": student["state_id"].fillna("").tolist(),
        "Subject": results["subject"], "Course": results["course"], "GrowthMeasureYN": ["TRUE"] * m,
        "NormsReferenceData": ["2020"] * m, "WISelectedAYFall": ["1"] * m, "TestType": ["Survey With Goals"] * m,
        "TestName": results["test_name"], "TestID": results["test_id"], "TestStartDate": results["local_date"],
        "TestStartTime": results["local_time"], "TestDurationMinutes": results["duration_minutes"],
        "TestRITScore": results["rit_score"], "TestStandardError": results["standard_error"].map("{:.2f}".format),
        "TestPercentile": results["percentile"], "AchievementQuintile": results["quintile"],
    }, ASSESSMENT_RESULTS_HEADER, m)}

    tested = results.drop_duplicates(["term_name", "person_key"])
    tested = tested.assign(sis_id=tested["person_key"].map(persons["sis_id"])).sort_values("sis_id", kind="stable")
    who = persons.loc[tested["person_key"]]
    n = len(tested)
    files["StudentsBySchool.csv"] = wire.quoted_csv({
        "TermName": tested["term_name"], "DistrictName": [district["name"]] * n,
        "SchoolName": schools.loc[tested["school_key"], "name"].tolist(),
        "StudentLastName": who["family_name"].tolist(), "StudentFirstName": who["given_name"].tolist(),
        "StudentMI": who["middle_name"].str.slice(0, 1).fillna("").tolist(), "StudentID": who["sis_id"].tolist(),
        "StudentDateOfBirth": wire.days(who["birth_date"].reset_index(drop=True), lambda d: d.strftime("%m/%d/%Y")),
        "StudentGender": who["gender"].tolist(), "Grade": tested["grade_at_test"].map(_GRADES).tolist(),
    }, STUDENTS_BY_SCHOOL_HEADER, n)
    return files

