"""The column layout of NWEA MAP Growth data exports, as NWEA writes them (K12_FORMATS §1.8).

The header is composed from its repeating groups rather than typed out; the sandbox
test suite proves it equals the real anonymised sample's header line column for column.
"""

__all__ = ["NWEA_ASSESSMENT_RESULTS_HEADER", "NWEA_STUDENTS_BY_SCHOOL_HEADER"]

_WINDOWS = ("FallToFall", "FallToWinter", "FallToSpring", "WinterToWinter", "WinterToSpring", "SpringToSpring")
_GROWTH_METRICS = ("ProjectedGrowth", "ObservedGrowth", "ObservedGrowthSE", "MetProjectedGrowth",
                   "ConditionalGrowthIndex", "ConditionalGrowthPercentile", "GrowthQuintile")
_GOAL_FIELDS = ("Name", "RitScore", "StdErr", "Range", "Adjective")

NWEA_ASSESSMENT_RESULTS_HEADER: tuple[str, ...] = (
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

NWEA_STUDENTS_BY_SCHOOL_HEADER: tuple[str, ...] = (
    "TermName", "DistrictName", "SchoolName", "StudentLastName", "StudentFirstName",
    "StudentMI", "StudentID", "StudentDateOfBirth", "StudentEthnicGroup", "StudentGender",
    "Grade",
)  # fmt: skip
"""StudentsBySchool.csv columns: the only file of the export that holds the grade."""
