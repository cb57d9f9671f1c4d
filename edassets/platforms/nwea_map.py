"""NWEA MAP Growth data exports (CDF): RIT scores, percentiles, growth and goal scores.

Delivery: a zip or folder exported from the MAP admin site (Data Export Scheduler):
`AssessmentResults.csv`, with `StudentsBySchool.csv` when the district ticked it. There is
no deletion: each export is the full snapshot of a testing term, so results are upserted
and never deactivated.

Quirks this spec relies on (K12_FORMATS.md §1.8):
- The grade is NOT in AssessmentResults; it comes from StudentsBySchool (TermName,
  StudentID). Without that file grade_at_test stays empty: guessing it would be wrong.
- Pre-2015 exports name columns differently: `MeasurementScale` (now `Course`),
  `Discipline` (now `Subject`), `RITtoReadingScore/Min/Max` (now `Lexile*`).
- Dates are `MM/DD/YYYY` and start times local wall-clock `HH:MM:SS` (or `9:00:00 AM`
  after an Excel re-save), in the district's time zone.
- `TestID` identifies a test event, not a student's result (the anonymised sample reuses
  one TestID for several students), and it is empty in combined files: a result is keyed
  by StudentID + TestID, or StudentID + term + test name + start date/time.
- `Course` is the RIT measurement scale the score is on ("Science K-12").
- StudentID is the district's SIS id: persons are matched through the crosswalk.
- StudentsBySchool `Grade` is `K`, `1`…`12`, and `13` means kindergarten (`map_grade`).
  Evidence: NWEA's client-based MAP wrote kindergarten as 13, and the CDF toolkit the
  StudentsBySchool layout was read from (almartin82/mapvizieR, `standardize_kinder`, used by
  `prep_roster` on StudentsBySchool) turns both `K` and `13` into grade 0; the MAP bundle's
  own seed (earthmover MAP_Growth `seeds/gradeLevelDescriptors.csv`) lists the grades each
  MAP Growth/Screening test serves as Kindergarten through Twelfth grade, with no Grade 13
  or postsecondary level, so a real thirteenth-grader has no MAP test to take; and the
  rows reported with grade 13 belong to students born five or six years before their
  term, kindergarten age. (The anonymised sample has no StudentsBySchool to check birth dates
  against.) The reading stays MAP's: in OneRoster and Clever `13` is the CEDS grade 13.
"""

import pandas as pd

from edassets.adapters.derive import first_present_key, json_object, local_datetime
from edassets.adapters.sources import Files
from edassets.adapters.spec import Const, Crosswalk, FeedSpec, Join, PlatformSpec, col
from edassets.adapters.transforms import boolean, number
from edassets.schema import entities as e
from edassets.schema.grades import to_ceds_grade

PLATFORM = "nwea_map"

_SEASON_PAIRS = ("FallToFall", "FallToWinter", "FallToSpring", "WinterToWinter", "WinterToSpring", "SpringToSpring")
_GROWTH_MEASURES = ("ProjectedGrowth", "ObservedGrowth", "ObservedGrowthSE", "MetProjectedGrowth",
                    "ConditionalGrowthIndex", "ConditionalGrowthPercentile", "GrowthQuintile")
GROWTH_COLUMNS = tuple(f"{pair}{measure}" for pair in _SEASON_PAIRS for measure in _GROWTH_MEASURES) + tuple(
    f"Typical{pair}Growth" for pair in _SEASON_PAIRS
)
GOAL_COLUMNS = tuple(
    f"Goal{n}{part}" for n in range(1, 9) for part in ("Name", "RitScore", "StdErr", "Range", "Adjective")
)


def map_grade(values: pd.Series) -> pd.Series:
    """StudentsBySchool grades to CEDS codes, with NWEA's kindergarten code 13 read as KG.

    Args:
        values: raw `Grade` cells ("K", "5", "13").

    Returns:
        ``string[pyarrow]`` CEDS codes, same index; NA for blanks and unknown spellings.
    """
    codes = to_ceds_grade(values)
    # A blank or unknown grade stays NA: NA == "13" is NA, which `mask` would take as true.
    return codes.mask((codes == "13").fillna(False), "KG")


ASSESSMENT_RESULTS = FeedSpec(
    name="assessment_results",
    entity=e.ASSESSMENT_RESULT,
    description="MAP Growth test results (AssessmentResults.csv, grade from StudentsBySchool.csv).",
    # Districts rename exports before handing them over; the header still says what they are.
    source=Files("AssessmentResults.csv", signature=("StudentID", "TestRITScore", "TermName")),
    sync_mode="events",
    joins=(Join("StudentsBySchool.csv", on=(("TermName", "TermName"), ("StudentID", "StudentID")), keep=("Grade",),
                signature=("StudentID", "Grade", "StudentDateOfBirth")),),
    crosswalk=Crosswalk(column="person_id", id_types=("sis_id",)),
    # RIT scales run from about 100 to 350; anything outside is a corrupted export.
    bounds={"scale_score": (100, 350), "percentile": (1, 99)},
    fields=({
        "result_id": first_present_key(
            ("StudentID", "TestID"),
            ("StudentID", "TermName", "TestName", "TestStartDate", "TestStartTime"),
        ),
        "person_id": col("StudentID"),
        "source_person_id": col("StudentID"),
        "assessment_name": col("TestName"),
        "subject": col("Subject", "Discipline"),
        "vendor": Const("NWEA"),
        "assessment_window": col("TermName"),
        "administered_at": local_datetime("TestStartDate", "TestStartTime"),
        "grade_at_test": col("StudentsBySchool.Grade", parse=map_grade, rule="CEDS grade level"),
        "scale_score": col("TestRITScore", parse=number, rule="number"),
        "scale_name": col("Course", "MeasurementScale"),
        "standard_error": col("TestStandardError", parse=number, rule="number"),
        "percentile": col("TestPercentile", parse=number, rule="number"),
        "performance_level": col("AchievementQuintile"),
        "lexile": col("LexileScore", "RITtoReadingScore", "RitToReading"),
        "quantile": col("QuantileScore"),
        "duration_minutes": col("TestDurationMinutes", parse=number, rule="number"),
        "counts_for_growth": col("GrowthMeasureYN", parse=boolean, rule="boolean"),
        "growth_json": json_object(GROWTH_COLUMNS, "growth fields"),
        "goals_json": json_object(GOAL_COLUMNS, "goal fields"),
    },),
)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="NWEA MAP Growth",
    description="MAP Growth data exports (AssessmentResults + StudentsBySchool) uploaded per testing term.",
    feeds=(ASSESSMENT_RESULTS,),
)
