"""Renaissance Star: the real anonymised SR export, synthetic rows for each quirk, and a sandbox district end to end."""

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.file_drop import collect_files, select_drop
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import FeedSpec, ParseContext
from edassets.checks.validation import validate_batch
from edassets.demo.sandbox_demo import SANDBOX_SEED, run_sandbox_syncs
from edassets.handoffs import ParsedBatch, ReceivedFile, ValidatedBatch
from edassets.platforms.renaissance_star import SPEC, STAR_EARLY_LITERACY, STAR_MATH, STAR_READING
from edassets.resources.archive import open_archive
from edassets.resources.warehouse import WarehouseResource
from edassets.sandbox.accuracy import accuracy_table, quarantined_ids
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.emulators.renaissance_star import taken_tests
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.schema.grades import to_ceds_grade
from tests.assets.conftest import make_settings
from tests.shared_fixtures import shared_fixture

CONTEXT = ParseContext(district_id="grand_bend", timezone=ZoneInfo("America/New_York"), platform=SPEC.name)
STAR = "assessment_vendor_exports/STAR"
SAMPLE = f"{STAR}/SR_sample_anonymized_file.csv"
ARCHIVE_KEY = "archive/renaissance_star/SR_v2.csv"
UNMATCHED = "S-UNKNOWN"


def _crosswalk(ids: pd.Series, id_types: tuple[str, ...]) -> pd.Series:
    """Canonical ids "P-<sis id>" for every student except UNMATCHED."""
    assert id_types == ("sis_id",)
    return ("P-" + ids).where(ids != UNMATCHED).astype(pd.StringDtype("pyarrow"))


def _everything_exists(_: str, __: str | None, ids: pd.Series) -> pd.Series:
    return pd.Series(True, index=ids.index)


def _parse(feed: FeedSpec, data: bytes) -> ParsedBatch:
    return map_feed(feed, {feed.file.lower(): read_csv_text(data)}, context=CONTEXT, archive_key=ARCHIVE_KEY,
                    run_id="run-star", sync_mode="events")


def _validate(feed: FeedSpec, batch: ParsedBatch) -> ValidatedBatch:
    return validate_batch(feed, batch, reference_exists=_everything_exists, person_lookup=_crosswalk)


def _values(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series]


# --- the real anonymised Star Reading export ---------------------------------------------


@pytest.fixture(scope="module")
def sample() -> tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]:
    data = shared_fixture(SAMPLE).read_bytes()
    # Handed over under its export name: a renamed Star file cannot say which assessment it is.
    drop = select_drop([ReceivedFile("SR_v2.csv", data)], [], SPEC, STAR_READING)
    assert dict(drop.roles) == {"sr_v2.csv": ("SR_v2.csv",)}
    batch = _parse(STAR_READING, drop.by_role()["sr_v2.csv"][0].data)
    raw = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    return raw, batch, _validate(STAR_READING, batch)


def test_real_sample_parses_and_validates_with_nothing_rejected(
        sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]) -> None:
    raw, batch, validated = sample

    assert len(raw[0]) == 126
    assert batch.errors.empty and batch.missing_columns == ()
    assert (batch.received, validated.quarantined, len(validated.rows)) == (5, 0, 5)
    assert validated.gate.passed and validated.ledger().imbalance() is None
    assert dict(batch.frame.dtypes) == {
        f.name: f.kind.pandas_dtype for f in STAR_READING.entity.all_fields if f.name != "lineage_loaded_at"}


def test_real_sample_values(sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]) -> None:
    raw, batch, validated = sample
    frame = batch.frame

    assert _values(frame["result_id"]) == [f"00000000-0000-0000-0000-00000000000{i}" for i in range(1, 6)]
    assert _values(frame["source_person_id"]) == ["605000", "605001", "605002", "605003", "605004"]
    assert _values(validated.rows["person_id"]) == ["P-605000", "P-605001", "P-605002", "P-605003", "P-605004"]
    # CompletedDate 2023-08-21T17:28:05.852Z, not CompletedDateLocal's 13:28:05.852 "Z".
    assert frame.loc[0, "administered_at"] == pd.Timestamp("2023-08-21 17:28:05.852", tz="UTC")
    assert raw[0]["CompletedDateLocal"] == "2023-08-21T13:28:05.852Z"
    assert _values(frame["grade_placement"]) == [4.05, 6.05, 8.05, 7.05, 6.07]
    assert _values(frame["grade_at_test"]) == ["04", "06", "08", "07", "06"]
    assert _values(frame["lexile"]) == ["BR400L", "BR390L", "415L", "1100L", "1360L"]
    assert _values(frame["scale_score"]) == [8.0, 72.0, 348.0, 723.0, 967.0]
    assert _values(frame["percentile"]) == [1.0, 1.0, 2.0, 40.0, 81.0]
    assert _values(frame["raw_score"]) == [10.0, 13.0, 18.0, 23.0, 27.0]
    assert frame.loc[0, "standard_error"] == pytest.approx(0.395783771043066)
    assert frame.loc[0, "duration_minutes"] == pytest.approx(677 / 60)
    assert _values(frame["performance_level"]) == ["Urgent Intervention"] * 3 + ["At/Above Benchmark"] * 2
    assert _values(frame["assessment_window"]) == ["Fall 2023-2024"] * 5
    first = frame.iloc[0]
    assert (first["assessment_name"], first["subject"], first["vendor"], first["scale_name"]) == (
        "Star Reading", "Reading", "Renaissance", "Star Reading Scaled Score")
    assert (first["scale_min"], first["scale_max"]) == (0.0, 1400.0)


def test_real_sample_without_a_roster_is_unmatched_not_malformed(
        sample: tuple[list[dict[str, str]], ParsedBatch, ValidatedBatch]) -> None:
    _, batch, _ = sample

    def nobody(ids: pd.Series, _: tuple[str, ...]) -> pd.Series:
        return pd.Series(pd.NA, index=ids.index, dtype=pd.StringDtype("pyarrow"))

    validated = validate_batch(STAR_READING, batch, reference_exists=_everything_exists, person_lookup=nobody)

    assert set(validated.report["rule"]) == {"unmatched person: no roster person with this sis_id"}
    assert validated.quarantined == 5


def test_renamed_sample_is_set_aside_because_its_header_fits_all_three_exports() -> None:
    files, containers = collect_files([shared_fixture(SAMPLE)])

    drop = select_drop([*files, ReceivedFile("SM_v2.csv", _csv([_row()]))], containers, SPEC)

    assert dict(drop.roles) == {"sm_v2.csv": ("SM_v2.csv",)}
    assert {f.name: f.reason for f in drop.inventory if f.ignored} == {"SR_sample_anonymized_file.csv": (
        "renamed, and its header fits sel_v2.csv, sm_v2.csv, sr_v2.csv alike; hand it over under its export name")}


def test_renaissance_grade_mapping_reads_0_and_k_as_kindergarten() -> None:
    rows = list(csv.DictReader(io.StringIO(shared_fixture(f"{STAR}/grade_level_mapping.csv").read_text())))
    # The header's second name carries a trailing space ("to ").
    spellings = pd.Series([row["from"] for row in rows], dtype="string[pyarrow]")
    names = pd.Series([row["to "] for row in rows], dtype="string[pyarrow]")

    codes = _values(to_ceds_grade(spellings))

    assert codes == _values(to_ceds_grade(names))
    assert codes[:2] == ["KG", "KG"] and None not in codes


# --- synthetic rows, one per quirk ---------------------------------------------------------

HEADER = ("SchoolYear", "StudentSourcedID", "StudentIdentifier", "StudentStateID", "AssessmentID", "CompletedDate",
          "CompletedDateLocal", "AssessmentStatus", "DeactivationReason", "GradePlacement", "Grade", "ScaledScore",
          "StandardErrorOfMeasurement", "PercentileRank", "Lexile", "TotalTimeInSeconds", "TotalCorrect",
          "ScreeningPeriodWindowName", "RenaissanceBenchmarkCategoryName")


def _row(**values: str) -> dict[str, str]:
    defaults = {
        "SchoolYear": "2025-2026", "StudentSourcedID": "rost-1", "StudentIdentifier": "S-1", "StudentStateID": "ST-1",
        "AssessmentID": "A-1", "CompletedDate": "2025-09-10T14:00:00.000Z",
        "CompletedDateLocal": "2025-09-10T10:00:00.000Z", "AssessmentStatus": "Active", "GradePlacement": "4.05",
        "Grade": "4", "ScaledScore": "500", "PercentileRank": "50", "ScreeningPeriodWindowName": "Fall",
    }
    return {**defaults, **values}


def _csv(rows: Sequence[Mapping[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(HEADER), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


QUIRKS = [
    _row(AssessmentID="A-0", Grade="0", GradePlacement="0.05"),  # 0: kindergarten as 0
    _row(AssessmentID="A-1", Grade="K", GradePlacement="0.09"),  # 1: kindergarten as K
    _row(AssessmentID="A-2", AssessmentStatus="Deactivated", DeactivationReason="Testing irregularity"),  # 2
    _row(AssessmentID="A-3", ScreeningPeriodWindowName=""),  # 3: outside the screening windows
    _row(AssessmentID="A-4", StudentIdentifier=UNMATCHED),  # 4: no roster person
    _row(AssessmentID="A-5", ScaledScore="1401"),  # 5: past the top of the 0-1400 scale
    _row(AssessmentID="A-6", CompletedDate="2025-09-31T14:00:00.000Z"),  # 6: no such day
    _row(AssessmentID="A-7", GradePlacement="4.05", Grade="4", Lexile="BR400L"),  # 7: placement is not the grade
]


@pytest.fixture(scope="module")
def quirks() -> tuple[ParsedBatch, ValidatedBatch]:
    batch = _parse(STAR_READING, _csv(QUIRKS))
    return batch, _validate(STAR_READING, batch)


def test_kindergarten_is_0_or_k_and_the_placement_stays_apart_from_the_grade(
        quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    batch, _ = quirks
    by_id = batch.frame.set_index("result_id")

    assert _values(by_id.loc[["A-0", "A-1", "A-7"], "grade_at_test"]) == ["KG", "KG", "04"]
    assert _values(by_id.loc[["A-0", "A-1", "A-7"], "grade_placement"]) == [0.05, 0.09, 4.05]
    assert by_id.loc["A-7", "lexile"] == "BR400L"


def test_completed_date_is_the_instant_and_the_local_one_is_never_read(
        quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    batch, _ = quirks

    # 14:00Z, not the "10:00Z" CompletedDateLocal claims (10:00 in New York is 14:00 UTC).
    assert batch.frame.set_index("result_id").loc["A-0", "administered_at"] == pd.Timestamp("2025-09-10 14:00", tz="UTC")


def test_a_test_outside_the_screening_windows_has_no_window_and_no_error(
        quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    batch, _ = quirks
    windows = batch.frame.set_index("result_id")["assessment_window"]

    assert _values(windows.loc[["A-0", "A-3"]]) == ["Fall 2025-2026", None]
    assert "assessment_window" not in set(batch.errors["field"])


def test_a_deactivated_test_is_not_a_result_and_its_outcome_says_why(
        quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    batch, validated = quirks

    assert "A-2" not in set(batch.frame["result_id"])
    outcome = validated.report[validated.report["lineage_record_index"] == 2]
    assert outcome[["outcome", "field", "rule", "value"]].values.tolist() == [[
        "not applicable", "AssessmentStatus",
        "AssessmentStatus is not Active: a deactivated test (DeactivationReason says why), not a result", "Deactivated"]]
    assert validated.ledger().imbalance() is None


@pytest.mark.parametrize(
    ("record_index", "field", "rule", "value"),
    [
        pytest.param(4, "person_id", "unmatched person: no roster person with this sis_id", UNMATCHED, id="unmatched"),
        pytest.param(5, "scale_score", "less_than_or_equal_to(1400)", "1401.0", id="score-past-1400"),
        pytest.param(6, "administered_at", "UTC timestamp", "2025-09-31T14:00:00.000Z", id="no-such-day"),
    ],
)
def test_each_bad_record_is_quarantined_with_its_reason(
        quirks: tuple[ParsedBatch, ValidatedBatch], record_index: int, field: str, rule: str, value: str) -> None:
    _, validated = quirks
    report = validated.report

    assert report.loc[report["lineage_record_index"] == record_index, ["field", "rule", "value"]].values.tolist() == [
        [field, rule, value]]


def test_every_record_has_one_outcome(quirks: tuple[ParsedBatch, ValidatedBatch]) -> None:
    _, validated = quirks

    assert (validated.received, len(validated.rows), validated.quarantined, validated.not_applicable) == (8, 4, 3, 1)


def test_each_assessment_keeps_its_own_scale() -> None:
    rows = [_row(AssessmentID="E-1", ScaledScore="300"), _row(AssessmentID="E-2", ScaledScore="299"),
            _row(AssessmentID="E-3", ScaledScore="901")]

    early = _validate(STAR_EARLY_LITERACY, _parse(STAR_EARLY_LITERACY, _csv(rows)))
    math = _parse(STAR_MATH, _csv(rows[:1]))

    assert _values(early.rows["result_id"]) == ["E-1"]
    assert sorted(early.report["rule"]) == ["greater_than_or_equal_to(300)", "less_than_or_equal_to(900)"]
    assert _values(early.rows[["scale_name", "scale_min", "scale_max"]].iloc[0]) == [
        "Star Early Literacy Scaled Score", 300.0, 900.0]
    assert _values(math.frame[["assessment_name", "subject", "scale_max"]].iloc[0]) == ["Star Math", "Mathematics", 1400.0]


def test_each_export_is_found_under_its_current_old_or_bare_name() -> None:
    export = _csv([_row()])
    files = [ReceivedFile("SR_v1.csv", export), ReceivedFile("sm.csv", export + b"x\r\n"),
             ReceivedFile("SEL_v2.csv", export + b"y\r\n"),
             ReceivedFile("SR_SkillArea_v1.csv", b"AssessmentID,CompletedDate,SkillAreaName\r\n")]

    drop = select_drop(files, [], SPEC)

    assert dict(drop.roles) == {"sr_v2.csv": ("SR_v1.csv",), "sm_v2.csv": ("sm.csv",), "sel_v2.csv": ("SEL_v2.csv",)}
    assert [f.name for f in drop.inventory if f.ignored] == ["SR_SkillArea_v1.csv"]


# --- a sandbox district: its roster, then Star, with bad records injected --------------------

STAR_FILES = list(EMULATORS[SPEC.name].record_keys)
BAD_RECORDS = Fault("bad_records", "*", params={
    "rate": 0.04, "kinds": ["missing_id", "out_of_range_score", "future_date", "dangling_reference"],
    "collections": STAR_FILES,
})


# Two full syncs of a district; the default suite's faulty sync of every platform
# (tests/sandbox/test_bad_records_end_to_end.py) covers the same ground once.
@pytest.mark.slow
def test_a_sandbox_district_loads_every_valid_star_test_and_quarantines_every_bad_one(tmp_path: Path) -> None:
    world = World.generate(WorldOptions(
        districts=(DistrictSpec("star-e2e", "Star Unified", 500, "oneroster_csv", "America/Chicago"),),
        seed=SANDBOX_SEED))
    settings = make_settings(tmp_path)
    district = world.options.districts[0].district_id

    with dg.DagsterInstance.ephemeral() as instance, SandboxServer(
            world, seed=SANDBOX_SEED, faults=FaultPlan(faults=(BAD_RECORDS,))) as server:
        outcomes = run_sandbox_syncs(world, server, settings, instance, echo=False)
        assert [o.failure for o in outcomes if o.failure] == []
        warehouse = WarehouseResource(url=settings.warehouse_url)
        store = open_archive(settings.archive_url)
        injected = server.injected_bad_records()
        table = accuracy_table(world, district, world.options.sync_dates, warehouse=warehouse, instance=instance,
                               store=store, injected=injected)
        quarantined = quarantined_ids(instance, store, SPEC.name, district, world.options.sync_dates)
        loaded = warehouse.district_rows("assessment_result", district)
        warehouse.engine().dispose()

    # MAP's results share the entity and are scored on their own row.
    assert {"nwea_map", SPEC.name} <= set(table.loc[table["entity"] == "assessment_result", "platform"])
    results = table[(table["entity"] == "assessment_result") & (table["platform"] == SPEC.name)].iloc[0]
    assert results["loaded_correctly"] == results["records_expected"]
    assert (results["loaded_wrong"], results["missing"], results["unexpected"]) == (0, 0, 0)
    star_bad = injected[injected["platform"] == SPEC.name]
    assert set(star_bad["collection"]) == set(STAR_FILES)
    # A defect landing in a deactivated test is never validated: the test is set aside as
    # not applicable first (the seed puts one there). Every other one is quarantined.
    taken = taken_tests(world.state(district, world.options.sync_dates[-1]))
    deactivated = set(taken.loc[~taken["active"], "AssessmentID"])
    bad = star_bad[~star_bad["record_id"].isin(deactivated)]
    assert len(bad) >= 30 and len(star_bad) - len(bad) == 1
    assert (results["quarantined_correctly"], results["quarantined_wrongly"]) == (len(bad), 0)
    assert set(bad["record_id"]) <= set(quarantined["assessment_result"].dropna())
    star_rows = loaded[loaded["source_platform"] == SPEC.name]
    assert set(star_rows["result_id"]) == set(taken.loc[taken["active"], "AssessmentID"]) - set(bad["record_id"])
