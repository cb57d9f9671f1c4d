"""The NWEA MAP Growth platform: the real anonymised export, then synthetic files for what it lacks."""

import csv
import io
import json
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.file_drop import collect_files, select_drop
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import ParseContext
from edassets.checks.validation import validate_batch
from edassets.handoffs import ParsedBatch, ValidatedBatch
from edassets.platforms.nwea_map import ASSESSMENT_RESULTS, GOAL_COLUMNS, GROWTH_COLUMNS, SPEC
from edassets.schema.grades import to_ceds_grade
from tests.shared_fixtures import shared_fixture

CONTEXT = ParseContext(district_id="grand_bend", timezone=ZoneInfo("America/Chicago"), platform=SPEC.name)
SAMPLE = "assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv"
ARCHIVE_KEY = "archive/nwea_map/AssessmentResults.csv"
UNMATCHED = "S-UNKNOWN"


def _everything_exists(_: str, __: str | None, ids: pd.Series) -> pd.Series:
    return pd.Series(True, index=ids.index)


def _crosswalk(ids: pd.Series, id_types: tuple[str, ...]) -> pd.Series:
    """Canonical ids "P-<sis id>" for every student except UNMATCHED."""
    assert id_types == ("sis_id",)
    return ("P-" + ids).where(ids != UNMATCHED).astype(pd.StringDtype("pyarrow"))


def _parse(files: Mapping[str, bytes]) -> ParsedBatch:
    tables = {name.lower(): read_csv_text(data) for name, data in files.items()}
    return map_feed(ASSESSMENT_RESULTS, tables, context=CONTEXT, archive_key=ARCHIVE_KEY, run_id="run-nwea",
                    sync_mode="events")


def _validate(batch: ParsedBatch) -> ValidatedBatch:
    return validate_batch(ASSESSMENT_RESULTS, batch, reference_exists=_everything_exists, person_lookup=_crosswalk)


def _values(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series]


# --- the real anonymised MAP Growth export ----------------------------------------------


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]:
    path = shared_fixture(SAMPLE)
    files, containers = collect_files([path])
    received = {role: found[0] for role, found in select_drop(files, containers, SPEC, ASSESSMENT_RESULTS).by_role().items()}
    assert resolve_sync_mode(SPEC, ASSESSMENT_RESULTS, received) == "events"
    batch = _parse({name: f.data for name, f in received.items()})
    # The raw rows, read independently of the code under test.
    raw = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    return raw, batch, _validate(batch)


def test_real_sample_parses_and_validates_cleanly(sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]) -> None:
    _, batch, validated = sample

    # The last record lacks its final (empty) cell: a short row is malformed, reported, not padded.
    assert batch.errors[["lineage_record_index", "rule"]].values.tolist() == [
        [6, "malformed CSV row: expected 143 fields, got 142"]]
    assert batch.missing_columns == ()
    assert batch.received == 7
    assert validated.quarantined == 1, validated.summary_by_rule()
    assert validated.duplicates == 0
    assert len(validated.rows) == 6
    assert validated.gate.passed and validated.ledger().imbalance() is None
    assert dict(batch.frame.dtypes) == {
        f.name: f.kind.pandas_dtype for f in ASSESSMENT_RESULTS.entity.all_fields if f.name != "lineage_loaded_at"}


def test_real_sample_keys_and_values(sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]) -> None:
    raw, batch, validated = sample
    frame = batch.frame

    raw = raw[:6]  # the short last record is quarantined (see above)
    assert frame.loc[0, "result_id"] == "605000:711521234"
    # 09/16/2021 08:54:50 in Chicago (CDT, UTC-5).
    assert frame.loc[0, "administered_at"] == pd.Timestamp("2021-09-16 13:54:50", tz="UTC")
    assert _values(frame["scale_name"]) == [row["Course"] for row in raw]
    assert _values(frame["subject"]) == [row["Subject"] for row in raw]
    assert _values(frame["source_person_id"]) == [row["StudentID"] for row in raw]
    assert _values(frame["scale_score"]) == [float(row["TestRITScore"]) for row in raw]
    assert _values(frame["counts_for_growth"]) == [True] * 6
    assert _values(frame["vendor"]) == ["NWEA"] * 6
    # No StudentsBySchool.csv: the grade is unknown, not guessed.
    assert _values(frame["grade_at_test"]) == [None] * 6
    assert _values(validated.rows["person_id"]) == ["P-" + row["StudentID"] for row in raw]


@pytest.mark.parametrize(("target", "columns"), [("growth_json", GROWTH_COLUMNS), ("goals_json", GOAL_COLUMNS)])
def test_real_sample_json_holds_only_non_empty_fields(
    sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch], target: str, columns: Sequence[str]
) -> None:
    raw, batch, _ = sample

    parsed = [None if pd.isna(text) else json.loads(text) for text in batch.frame[target]]

    expected = [{c: row[c] for c in columns if row[c]} or None for row in raw[:6]]
    assert parsed == expected
    assert parsed[0] is not None


# --- synthetic files --------------------------------------------------------------------

HEADER = ("TermName", "StudentID", "Subject", "Course", "TestName", "TestID", "TestStartDate", "TestStartTime",
          "TestRITScore", "TestStandardError", "TestPercentile", "AchievementQuintile", "LexileScore", "QuantileScore",
          "TestDurationMinutes", "GrowthMeasureYN", "FallToWinterProjectedGrowth", "Goal1Name", "Goal1RitScore")


def _row(**values: str) -> dict[str, str]:
    defaults = {
        "TermName": "Fall 2023-2024", "StudentID": "S-1", "Subject": "Mathematics", "Course": "Math 6+",
        "TestName": "Growth: Math 6+", "TestID": "T-1", "TestStartDate": "09/12/2023", "TestStartTime": "10:00:00",
        "TestRITScore": "220", "GrowthMeasureYN": "TRUE",
    }
    return {**defaults, **values}


def _csv(rows: Sequence[Mapping[str, str]], header: Sequence[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(header), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def test_every_target_column_gets_its_own_source_column() -> None:
    row = _row(
        TermName="Winter 2023-2024", StudentID="S-7", Subject="Subj-X", Course="Course-X", TestName="Name-X",
        TestID="TID-7", TestStartDate="1/16/2024", TestStartTime="2:05:00 PM", TestRITScore="231",
        TestStandardError="3.1", TestPercentile="64", AchievementQuintile="HiAvg", LexileScore="BR400L",
        QuantileScore="275Q", TestDurationMinutes="41", GrowthMeasureYN="FALSE", FallToWinterProjectedGrowth="7",
        Goal1Name='Geometry "Shapes"\tand\nSpace', Goal1RitScore="229",
    )

    batch = _parse({"AssessmentResults.csv": _csv([row])})

    result = {c: None if pd.isna(v) else v for c, v in batch.frame.iloc[0].items()}
    assert result == {
        "district_id": "grand_bend", "source_platform": "nwea_map", "result_id": "S-7:TID-7", "person_id": "S-7",
        "source_person_id": "S-7", "assessment_name": "Name-X", "subject": "Subj-X", "vendor": "NWEA",
        "assessment_window": "Winter 2023-2024",
        # 2:05 PM on 16 January in Chicago (CST, UTC-6).
        "administered_at": pd.Timestamp("2024-01-16 20:05:00", tz="UTC"), "grade_at_test": None, "scale_score": 231.0,
        "scale_name": "Course-X", "standard_error": 3.1, "percentile": 64.0, "performance_level": "HiAvg",
        # RIT has no fixed bounds, MAP no raw score, and its grade comes from StudentsBySchool.
        "scale_min": None, "scale_max": None, "raw_score": None, "grade_placement": None,
        "lexile": "BR400L", "quantile": "275Q", "duration_minutes": 41.0, "counts_for_growth": False,
        "growth_json": '{"FallToWinterProjectedGrowth":"7"}',
        "goals_json": '{"Goal1Name":"Geometry \\"Shapes\\"\\tand\\nSpace","Goal1RitScore":"229"}',
        "lineage_archive_key": ARCHIVE_KEY, "lineage_record_index": 0,
        "lineage_run_id": "run-nwea",
    }
    # Quotes, a tab and a line break inside a goal name still make valid JSON.
    assert json.loads(result["goals_json"]) == {"Goal1Name": 'Geometry "Shapes"\tand\nSpace', "Goal1RitScore": "229"}
    assert batch.errors.empty


@pytest.mark.parametrize(
    "renames",
    [
        pytest.param({}, id="current"),
        pytest.param({"Course": "MeasurementScale", "Subject": "Discipline", "LexileScore": "RITtoReadingScore"},
                     id="legacy-pre-2015"),
    ],
)
def test_legacy_headers_map_to_the_same_columns(renames: Mapping[str, str]) -> None:
    row = _row(Course="Reading 2-5", Subject="Reading", LexileScore="640L")
    header = [renames.get(name, name) for name in HEADER]

    batch = _parse({"AssessmentResults.csv": _csv([{renames.get(k, k): v for k, v in row.items()}], header)})

    assert batch.frame.loc[0, ["scale_name", "subject", "lexile"]].tolist() == ["Reading 2-5", "Reading", "640L"]
    assert not {"Course", "Subject", "LexileScore"} & set(batch.missing_columns)


# One synthetic export with a row per quirk; record index -> what it exercises.
QUIRKS = [
    _row(StudentID="S-1"),  # 0: grade K in StudentsBySchool
    _row(StudentID="S-2"),  # 1: grade 5, StudentsBySchool id padded with spaces
    _row(StudentID="S-3"),  # 2: StudentsBySchool has the student in another term only
    _row(StudentID="S-4"),  # 3: StudentsBySchool grade "Grade 14"
    _row(StudentID="S-5", TestRITScore="999"),  # 4: outside the RIT bounds
    _row(StudentID=UNMATCHED),  # 5: not in the roster crosswalk
    _row(StudentID="S-6"), _row(StudentID="S-6"),  # 6, 7: exact repeat
    _row(StudentID="S-7", TestRITScore="211"), _row(StudentID="S-7", TestRITScore="212"),  # 8, 9: conflicting key
]
STUDENTS_BY_SCHOOL = [
    {"TermName": "Fall 2023-2024", "StudentID": "S-1", "Grade": "K"},
    {"TermName": "Fall 2023-2024", "StudentID": " S-2 ", "Grade": "5"},
    {"TermName": "Spring 2023-2024", "StudentID": "S-3", "Grade": "7"},
    {"TermName": "Fall 2023-2024", "StudentID": "S-4", "Grade": "Grade 14"},
]


@pytest.fixture(scope="module")
def quirks() -> tuple[ParsedBatch, ValidatedBatch]:
    students = _csv(STUDENTS_BY_SCHOOL, header=("TermName", "StudentID", "StudentLastName", "StudentDateOfBirth", "Grade"))
    batch = _parse({"AssessmentResults.csv": _csv(QUIRKS), "StudentsBySchool.csv": students})
    return batch, _validate(batch)


def test_grade_comes_from_students_by_school(quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    batch, _ = quirks

    assert _values(batch.frame["grade_at_test"].iloc[:4]) == ["KG", "05", None, None]
    assert _values(batch.frame["grade_at_test"].iloc[4:]) == [None] * 6


@pytest.mark.parametrize(
    ("record_index", "field", "rule", "value"),
    [
        pytest.param(3, "grade_at_test", "CEDS grade level", "Grade 14", id="unknown-grade"),
        pytest.param(4, "scale_score", "less_than_or_equal_to(350)", "999.0", id="rit-out-of-bounds"),
        pytest.param(5, "person_id", "unmatched person: no roster person with this sis_id", UNMATCHED,
                     id="unmatched-student"),
        pytest.param(9, "(district_id, source_platform, result_id)", "duplicate natural key",
                     "grand_bend|nwea_map|S-7:T-1", id="conflicting-duplicate-key"),
    ],
)
def test_each_bad_record_is_quarantined_with_its_reason(
    quirks: tuple[ParsedBatch, ValidatedBatch], record_index: int, field: str, rule: str, value: str
) -> None:
    _, validated = quirks
    report = validated.report

    assert report.loc[report["lineage_record_index"] == record_index, ["field", "rule", "value"]].values.tolist() == [
        [field, rule, value]]
    assert record_index in set(validated.quarantine["lineage_record_index"])


def test_quarantine_keeps_bad_records_and_drops_only_exact_repeats(quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    _, validated = quirks

    assert validated.duplicates == 1
    assert (validated.received, validated.quarantined) == (10, 4)
    assert validated.report["outcome"].value_counts().to_dict() == {"quarantined": 4, "duplicate": 1}
    assert _values(validated.rows["source_person_id"]) == ["S-1", "S-2", "S-3", "S-6", "S-7"]
    assert _values(validated.rows["scale_score"].iloc[-1:]) == [211.0]
    # An unmatched student stays visible in the quarantine under the vendor's id, with no canonical id.
    unmatched = validated.quarantine[validated.quarantine["source_person_id"] == UNMATCHED]
    assert _values(unmatched["person_id"]) == [None]
    assert unmatched["quarantine_reasons"].iloc[0].startswith("person_id: unmatched person")


# --- kindergarten is 13 in StudentsBySchool ----------------------------------------------


def test_grade_13_is_kindergarten_in_map_and_grade_13_elsewhere() -> None:
    students = _csv(
        [{"TermName": "Fall 2023-2024", "StudentID": sid, "Grade": grade}
         for sid, grade in (("S-1", "13"), ("S-2", "K"), ("S-3", "12"), ("S-4", " 13 "), ("S-5", ""))],
        header=("TermName", "StudentID", "StudentDateOfBirth", "Grade"),
    )
    # S-6 is not in StudentsBySchool: no grade, not kindergarten.
    results = _csv([_row(StudentID=sid, TestID=f"T-{sid}") for sid in ("S-1", "S-2", "S-3", "S-4", "S-5", "S-6")])

    batch = _parse({"AssessmentResults.csv": results, "StudentsBySchool.csv": students})

    assert _values(batch.frame["grade_at_test"]) == ["KG", "KG", "12", "KG", None, None]
    assert batch.errors.empty
    # Only MAP reads 13 so: in OneRoster and Clever it is the CEDS grade 13.
    assert _values(to_ceds_grade(pd.Series(["13"], dtype="string[pyarrow]"))) == ["13"]
