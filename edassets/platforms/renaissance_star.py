"""Renaissance Star Reading, Star Math and Star Early Literacy data exports (K12_FORMATS §1.8, §3 #15).

Delivery: CSV files exported from Renaissance (or its data-sharing feed) and handed over,
one per assessment: `SR_v2.csv` (Star Reading), `SM_v2.csv` (Star Math) and `SEL_v2.csv`
(Star Early Literacy), with the `_v1` suffix or none in older exports. Each export holds
every test of the school year so far, so results are upserted as events.

Why one feed per assessment: the three files share one 126-column layout, and not one
column of a row says which assessment it is; only the file's name does. A feed reads one
file (plus joins), so each assessment is a feed with its own name, subject and scale. A
renamed Star file cannot be told apart by its header: the drop sets it aside as renamed
with a header fitting all three, rather than loading Math scores as Reading ones.
The `_Dashboard_Standards_v2` and `_SkillArea_v1` files are per-standard detail, not
results: the drop records them as files Star does not read.

Quirks this spec relies on (K12_FORMATS §0 and §1.8):
- `CompletedDate` is UTC (`Z`) and is when the test was taken. `CompletedDateLocal` is the
  same instant in the school's wall-clock time but also suffixed `Z` (a lie): never read.
- `Grade` is the grade when tested; `0` and `K` both mean kindergarten (Renaissance's
  grade_level_mapping.csv); the shared CEDS crosswalk knows both.
- `GradePlacement` (`4.05`: fourth grade, its first month or so) is the student's point in
  the year: kept as grade_placement, never folded into the grade.
- `Lexile` is kept as written (`BR400L`, beginning reader; `1100L`).
- `ScaledScore` is the assessment's "Enterprise" scaled score (the `UnifiedScore` column
  holds the newer unified scale); see `_SCALES` for the bounds and their sources.
- `AssessmentStatus` is `Active` for a test that counts; a teacher's deactivated test
  keeps its row with the status changed and a `DeactivationReason`. It is not a result:
  it is set aside as not applicable, with the status, in the record's ledger outcome.
- Students are named by several ids. `StudentIdentifier` is the district's SIS student
  number (the anonymised sample's 605000, as in MAP's StudentID); `StudentSourcedID` is
  whatever Star was rostered from (a OneRoster sourcedId, or the SIS number again), and
  `StudentStateID` is in no roster's crosswalk (OneRoster and Clever write `sis_id`,
  OneRoster also `sourced_id`, Clever `platform_id`). So persons are matched by
  `StudentIdentifier` as `sis_id`, the one id type every roster platform writes.
- `AssessmentID` (a GUID) names one test: the result id.
- `ScreeningPeriodWindowName` (Fall/Winter/Spring) is blank for a test outside the
  district's screening windows; the window is then unknown, not an error.
"""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.sources import Files
from edassets.adapters.spec import Const, Crosswalk, Derived, FeedSpec, FieldSource, ParseContext, PlatformSpec, col
from edassets.adapters.transforms import number, text, utc_timestamp
from edassets.schema import entities as e
from edassets.schema.grades import to_ceds_grade

PLATFORM = "renaissance_star"

# Columns every results export has and the standards/skill-area exports lack (they have
# AssessmentID and CompletedDate but no score): they recognise a renamed results file.
SIGNATURE = ("AssessmentID", "CompletedDate", "ScaledScore", "GradePlacement")

# Assessment -> (file stem, subject, scaled-score bounds). Sources of the bounds:
# - Star Reading and Star Math, 0-1400: the Star scaled score Renaissance publishes through
#   Caliper has maxScore 1400 (K12_FORMATS §1.5, hmh-renlearn caliperEventStarScoreGraded.json,
#   and §3 #12 "Star 0-1400"); that example names no subject, so Math's 1400 rests on
#   Renaissance's documentation as recalled. The real SR sample's scores (8 to 967) fall inside.
# - Star Early Literacy, 300-900: Renaissance's Star Early Literacy technical manual (its
#   scaled score runs 300-900); not in K12_FORMATS, from the vendor's documentation as
#   recalled, not from a read file. A score outside is a corrupted export.
_SCALES: Mapping[str, tuple[str, str, tuple[float, float]]] = {
    "Star Reading": ("SR", "Reading", (0, 1400)),
    "Star Math": ("SM", "Mathematics", (0, 1400)),
    "Star Early Literacy": ("SEL", "Early Literacy", (300, 900)),
}


def _window(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    """`Fall 2023-2024`, as other vendors name a window; NA outside the screening windows."""
    name, year = text(source["ScreeningPeriodWindowName"]), text(source["SchoolYear"])
    return name.str.cat(year, sep=" ")


def _minutes(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    """Testing time: Star counts seconds."""
    return number(source["TotalTimeInSeconds"]) / 60


def _fields(assessment: str, subject: str, bounds: tuple[float, float]) -> dict[str, FieldSource]:
    return {
        "result_id": col("AssessmentID"),
        "person_id": col("StudentIdentifier"),
        "source_person_id": col("StudentIdentifier"),
        "assessment_name": Const(assessment),
        "subject": Const(subject),
        "vendor": Const("Renaissance"),
        "assessment_window": Derived(sources=(("ScreeningPeriodWindowName",), ("SchoolYear",)), fn=_window,
                                     rule="screening window", may_be_empty=True),
        "administered_at": col("CompletedDate", parse=utc_timestamp, rule="UTC timestamp"),
        "grade_at_test": col("Grade", parse=to_ceds_grade, rule="CEDS grade level"),
        "scale_score": col("ScaledScore", parse=number, rule="number"),
        "scale_name": Const(f"{assessment} Scaled Score"),
        "scale_min": Const(float(bounds[0])),
        "scale_max": Const(float(bounds[1])),
        "raw_score": col("TotalCorrect", parse=number, rule="number"),
        "standard_error": col("StandardErrorOfMeasurement", parse=number, rule="number"),
        "percentile": col("PercentileRank", parse=number, rule="number"),
        "performance_level": col("RenaissanceBenchmarkCategoryName"),
        "grade_placement": col("GradePlacement", parse=number, rule="number"),
        "lexile": col("Lexile"),
        "duration_minutes": Derived(sources=(("TotalTimeInSeconds",),), fn=_minutes, rule="number"),
    }


def _results(assessment: str) -> FeedSpec:
    stem, subject, bounds = _SCALES[assessment]
    return FeedSpec(
        name=assessment.lower().replace(" ", "_"),
        entity=e.ASSESSMENT_RESULT,
        description=f"{assessment} test results ({stem}_v2.csv).",
        source=Files(f"{stem}_v2.csv", signature=SIGNATURE, aliases=(f"{stem}_v1.csv", f"{stem}.csv")),
        sync_mode="events",
        where=("AssessmentStatus", frozenset({"Active"})),
        where_reason="a deactivated test (DeactivationReason says why), not a result",
        crosswalk=Crosswalk(column="person_id", id_types=("sis_id",)),
        # Star percentile ranks run 1-99, as MAP's do.
        bounds={"scale_score": bounds, "percentile": (1, 99)},
        fields=(_fields(assessment, subject, bounds),),
    )


STAR_READING, STAR_MATH, STAR_EARLY_LITERACY = (_results(assessment) for assessment in _SCALES)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="Renaissance Star",
    description="Star Reading, Math and Early Literacy exports (SR/SM/SEL_v2.csv) handed over by the district.",
    feeds=(STAR_READING, STAR_MATH, STAR_EARLY_LITERACY),
)
