"""validate_batch: the gate that splits a parsed batch into loadable rows, a quarantine and a per-record report."""

from dataclasses import replace
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.mapping import ParsedBatch, map_feed
from edassets.adapters.spec import Crosswalk, FeedSpec, ParseContext, Thresholds
from edassets.checks.validation import ReferenceCheck, validate_batch
from edassets.handoffs import REPORT_COLUMNS, ValidatedBatch
from edassets.platforms import nwea_map, oneroster_csv

CONTEXT = ParseContext(district_id="d1", timezone=ZoneInfo("America/Chicago"), platform="oneroster_csv")
ARCHIVE_KEY = "archive/oneroster_csv/d1/2024-01-02/academicSessions.csv"
SESSIONS = oneroster_csv.SPEC.feed("academic_sessions")
ENROLLMENTS = oneroster_csv.SPEC.feed("enrollments")
SESSIONS_HEADER = "sourcedId,title,type,startDate,endDate\n"


def _everything_exists(_: str, __: str | None, ids: pd.Series) -> pd.Series:
    return pd.Series(True, index=ids.index)


def _parse(feed: FeedSpec, text: str) -> ParsedBatch:
    return map_feed(feed, {feed.file.lower(): read_csv_text(text.encode())}, context=CONTEXT, archive_key=ARCHIVE_KEY,
                    run_id="run-1", sync_mode="snapshot")


def _validate(feed: FeedSpec, text: str, reference_exists: ReferenceCheck = _everything_exists) -> ValidatedBatch:
    return validate_batch(feed, _parse(feed, text), reference_exists=reference_exists)


def _report(result: ValidatedBatch, outcome: str = "quarantined") -> list[tuple[object, ...]]:
    """Report rows of one outcome, without the outcome column."""
    rows = result.report[result.report["outcome"] == outcome].drop(columns="outcome")
    return [tuple(None if pd.isna(v) else v for v in row) for row in rows.itertuples(index=False)]


def test_clean_batch() -> None:
    result = _validate(SESSIONS, SESSIONS_HEADER + "s1,Fall,term,2020-08-17,2020-12-18\n")

    assert list(result.rows["session_id"]) == ["s1"]
    assert result.quarantine.empty
    assert list(result.report.columns) == list(REPORT_COLUMNS)
    assert result.report.empty
    assert (result.received, result.quarantined, result.quarantine_rate) == (1, 0, 0.0)
    assert result.summary_by_rule() == "none"
    assert result.sync_mode == "snapshot"


def test_parse_error_on_a_required_column_is_reported_once() -> None:
    text = SESSIONS_HEADER + "s1,Fall,term,2020-02-30,2020-12-18\ns2,Spring,term,2021-01-04,2021-05-28\ns3,,term,,2021-05-28\n"

    result = _validate(SESSIONS, text)

    # s1's start date failed to parse: "date", and no extra "required" for the NA it left behind.
    assert _report(result) == [
        (ARCHIVE_KEY, 0, "start_date", "date", "2020-02-30"),
        (ARCHIVE_KEY, 2, "title", "required", None),
        (ARCHIVE_KEY, 2, "start_date", "required", None),
    ]
    assert list(result.rows["session_id"]) == ["s2"]
    assert dict(zip(result.quarantine["session_id"], result.quarantine["quarantine_reasons"], strict=True)) == {
        "s1": "start_date: date", "s3": "title: required; start_date: required"}
    assert result.quarantined == 2


def test_dangling_reference_is_reported_with_the_reference_field() -> None:
    calls: list[tuple[str, list[str]]] = []

    def reference_exists(entity_name: str, _: str | None, ids: pd.Series) -> pd.Series:
        calls.append((entity_name, list(ids)))
        return ids.isin({"class": {"c1"}, "person": {"p1", "p2"}}[entity_name])

    text = "sourcedId,classSourcedId,userSourcedId,role\ne1,c1,p1,student\ne2,c-gone,p2,student\ne3,c1,,student\n"

    result = _validate(ENROLLMENTS, text, reference_exists)

    assert _report(result) == [
        (ARCHIVE_KEY, 1, "class_id", "dangling reference: no such class in this batch or the warehouse", "c-gone"),
        (ARCHIVE_KEY, 2, "person_id", "required", None),
    ]
    # Only present ids are looked up.
    assert calls == [("class", ["c1", "c-gone", "c1"]), ("person", ["p1", "p2"])]
    assert list(result.rows["enrollment_id"]) == ["e1"]


def test_quarantine_rate_counts_malformed_records_and_report_locates_every_failure() -> None:
    text = (SESSIONS_HEADER + "s1,A,term,2020-08-17,2020-12-18\nbroken,B,term,2020-08-17,2020-12-18,extra\n"
            "s3,C,term,2020-08-17,12/40/2020\ns4,D,term,2020-08-17,2020-12-18\ns5,E,term,2020-08-17,tomorrow\n")

    result = _validate(SESSIONS, text)

    assert (result.received, result.quarantined, len(result.rows)) == (5, 3, 2)
    assert result.quarantine_rate == pytest.approx(3 / 5)
    assert _report(result) == [
        (ARCHIVE_KEY, 1, "(record)", "malformed CSV row: expected 5 fields, got 6", None),
        (ARCHIVE_KEY, 2, "end_date", "date", "12/40/2020"),
        (ARCHIVE_KEY, 4, "end_date", "date", "tomorrow"),
    ]
    assert result.report["lineage_record_index"].dtype == "Int64"
    assert result.summary_by_rule() == "end_date: date (2); (record): malformed CSV row: expected 5 fields, got 6 (1)"
    assert result.summary_by_rule(limit=1) == "end_date: date (2)"


def test_report_points_at_each_rows_own_archive_object() -> None:
    batch = _parse(SESSIONS, SESSIONS_HEADER + "s1,,term,2020-08-17,2020-12-18\n")
    moved = replace(batch, frame=batch.frame.assign(lineage_archive_key="archive/other.csv", lineage_record_index=41))

    result = validate_batch(SESSIONS, moved, reference_exists=_everything_exists)

    assert _report(result) == [("archive/other.csv", 41, "title", "required", None)]


def test_exact_repeats_are_dropped_before_anything_is_counted() -> None:
    row = "s1,Fall,term,2020-02-30,2020-12-18\n"

    result = _validate(SESSIONS, SESSIONS_HEADER + row + row + "s1,Other,term,2020-08-17,2020-12-18\n")

    assert result.duplicates == 1
    assert _report(result) == [
        (ARCHIVE_KEY, 0, "start_date", "date", "2020-02-30"),
        (ARCHIVE_KEY, 2, "(district_id, session_id)", "duplicate natural key", "d1|s1"),
    ]
    # The repeat is not silently gone: the report names the record it repeats.
    assert _report(result, "duplicate") == [(ARCHIVE_KEY, 1, "(record)", "exact repeat of record 0", None)]
    assert (result.received, result.quarantined, result.duplicates) == (3, 2, 1)
    assert result.ledger().imbalance() is None


def test_crosswalk_feed_needs_a_person_lookup() -> None:
    feed = nwea_map.ASSESSMENT_RESULTS
    batch = map_feed(feed, {}, context=CONTEXT, archive_key="", run_id="run-1", sync_mode="absent")

    with pytest.raises(ValueError, match="needs a person lookup"):
        validate_batch(feed, batch, reference_exists=_everything_exists)


def test_person_lookup_replaces_platform_ids() -> None:
    feed = replace(ENROLLMENTS, crosswalk=Crosswalk(column="person_id", id_types=("sis_id", "email")))
    text = "sourcedId,classSourcedId,userSourcedId,role\ne1,c1,S1,student\ne2,c1,S2,student\n"

    def lookup(ids: pd.Series, id_types: tuple[str, ...]) -> pd.Series:
        assert id_types == ("sis_id", "email")
        return ids.map({"S1": "P1"}).astype("string[pyarrow]")

    result = validate_batch(feed, _parse(feed, text), reference_exists=_everything_exists, person_lookup=lookup)

    assert list(result.rows["person_id"]) == ["P1"]
    # The unmatched record is quarantined, not dropped, and reported once (no extra "required").
    assert list(result.quarantine["enrollment_id"]) == ["e2"]
    assert [(row[1], row[2], row[4]) for row in _report(result)] == [(1, "person_id", "S2")]
    assert result.summary_by_rule() == "person_id: unmatched person: no roster person with this sis_id or email (1)"


def test_a_mapping_bug_is_not_blamed_on_the_data() -> None:
    batch = _parse(SESSIONS, SESSIONS_HEADER + "s1,Fall,term,2020-08-17,2020-12-18\n")
    broken = replace(batch, frame=batch.frame.drop(columns="title"))

    with pytest.raises(ValueError, match="batch-level schema failure"):
        validate_batch(SESSIONS, broken, reference_exists=_everything_exists)


def test_a_delta_tombstone_needs_only_its_key() -> None:
    text = ("sourcedId,status,classSourcedId,userSourcedId,role\n"
            "e1,tobedeleted,,,\n"          # key only: deactivated by key
            "e2,tobedeleted,c9,u9,wizard\n"  # a bad role and dangling references do not matter either
            ",tobedeleted,,,\n"            # but a tombstone without its key cannot deactivate anything
            "e3,active,c1,u1,student\n")
    batch = map_feed(ENROLLMENTS, {"enrollments.csv": read_csv_text(text.encode())}, context=CONTEXT,
                     archive_key=ARCHIVE_KEY, run_id="run-1", sync_mode="incremental")

    def only_c1_u1(_: str, __: str | None, ids: pd.Series) -> pd.Series:
        return ids.isin({"c1", "u1"})

    result = validate_batch(ENROLLMENTS, batch, reference_exists=only_c1_u1)

    assert list(result.tombstones["enrollment_id"]) == ["e1", "e2"]
    assert list(result.tombstones.columns) == ["district_id", "enrollment_id", "lineage_archive_key",
                                               "lineage_record_index", "lineage_run_id"]
    assert list(result.rows["enrollment_id"]) == ["e3"]
    assert result.quarantined == 1 and _report(result)[0][:3] == (ARCHIVE_KEY, 2, "enrollment_id")
    assert result.ledger().imbalance() is None and result.ledger().passed == 3


def test_the_same_row_in_a_snapshot_is_validated_in_full() -> None:
    text = "sourcedId,status,classSourcedId,userSourcedId,role\ne1,tobedeleted,,,\n"
    batch = map_feed(ENROLLMENTS, {"enrollments.csv": read_csv_text(text.encode())}, context=CONTEXT,
                     archive_key=ARCHIVE_KEY, run_id="run-1", sync_mode="snapshot")

    result = validate_batch(ENROLLMENTS, batch, reference_exists=_everything_exists)

    assert result.tombstones is None and result.quarantined == 1


def test_the_gate_is_decided_once_by_validation() -> None:
    good = SESSIONS_HEADER + "".join(f"s{n},T,term,2020-08-17,2020-12-18\n" for n in range(4))

    passing = validate_batch(SESSIONS, _parse(SESSIONS, good + "s9,,term,2020-08-17,2020-12-18\n"),
                             reference_exists=_everything_exists, thresholds=Thresholds(block=0.2))
    blocked = validate_batch(SESSIONS, _parse(SESSIONS, good + "s8,,term,x,y\ns9,,term,,\n"),
                             reference_exists=_everything_exists, thresholds=Thresholds(block=0.2))

    # 1 of 5 is exactly the threshold (bad / total, not 1 - good / total), 2 of 6 is above it.
    assert passing.gate.passed
    assert not blocked.gate.passed and blocked.gate.reasons == ("33.3% quarantined > 20% block threshold",)
