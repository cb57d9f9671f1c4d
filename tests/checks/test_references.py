"""referenced_batch_ids and ReferenceResolver: references resolve in the batch first, then the warehouse.

Self-references (a session's parent, an org's parent) resolve against the feed's own
batch: every record of it counts, a quarantined one included; a child is dangling only
when its parent is in neither the batch nor the warehouse.
"""

from zoneinfo import ZoneInfo

import pandas as pd

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.mapping import ParsedBatch, map_feed
from edassets.adapters.spec import FeedSpec, ParseContext
from edassets.checks.references import ReferenceResolver, referenced_batch_ids
from edassets.checks.validation import ValidatedBatch, validate_batch
from edassets.platforms import oneroster_csv

CONTEXT = ParseContext(district_id="d1", timezone=ZoneInfo("America/Chicago"), platform="oneroster_csv")
SESSIONS = oneroster_csv.SPEC.feed("academic_sessions")
SCHOOLS = oneroster_csv.SPEC.feed("schools")
CLASSES = oneroster_csv.SPEC.feed("classes")
SESSIONS_HEADER = "sourcedId,title,type,startDate,endDate,parentSourcedId\n"


class FakeWarehouse:
    """`existing_ids` over a fixed set of (entity, column, id), remembering what it was asked."""

    def __init__(self, rows: set[tuple[str, str, str]] = frozenset()) -> None:
        self.rows = rows
        self.asked: list[tuple[str, str, list[str]]] = []

    def existing_ids(self, entity_name: str, district_id: str, ids: object, *, column: str | None = None) -> set[str]:
        assert district_id == "d1"
        wanted = sorted(ids)
        self.asked.append((entity_name, column or "", wanted))
        return {i for i in wanted if (entity_name, column or "", i) in self.rows}


def _parse(feed: FeedSpec, text: str) -> ParsedBatch:
    return map_feed(feed, {feed.file.lower(): read_csv_text(text.encode())}, context=CONTEXT,
                    archive_key="archive/x.csv", run_id="run-1", sync_mode="snapshot")


def _validate_sessions(text: str, warehouse: FakeWarehouse | None = None) -> ValidatedBatch:
    batch = _parse(SESSIONS, text)
    resolver = ReferenceResolver(referenced_batch_ids(SESSIONS, {}, batch), warehouse or FakeWarehouse(), "d1")
    return validate_batch(SESSIONS, batch, reference_exists=resolver.exists)


def _failures(result: ValidatedBatch) -> list[tuple[str, str]]:
    report = result.report
    if "outcome" in report.columns:  # reports that also list duplicates and not-applicable records
        report = report[report["outcome"] == "quarantined"]
    return [(field, value) for field, value in zip(report["field"], report["value"], strict=True)]


def test_a_parent_in_the_same_batch_resolves_without_asking_the_warehouse() -> None:
    warehouse = FakeWarehouse()
    text = SESSIONS_HEADER + "fall,Fall,semester,2023-08-21,2023-12-20,year\nyear,Year,schoolYear,2023-08-21,2024-05-31,\n"

    result = _validate_sessions(text, warehouse)

    assert sorted(result.rows["session_id"]) == ["fall", "year"]
    assert _failures(result) == []
    assert warehouse.asked == []


def test_a_parent_in_neither_the_batch_nor_the_warehouse_is_dangling() -> None:
    text = SESSIONS_HEADER + "fall,Fall,semester,2023-08-21,2023-12-20,gone\n"

    result = _validate_sessions(text)

    assert list(result.quarantine["session_id"]) == ["fall"]
    assert _failures(result) == [("parent_id", "gone")]


def test_a_parent_loaded_earlier_resolves_in_the_warehouse() -> None:
    warehouse = FakeWarehouse({("academic_session", "session_id", "year")})
    text = SESSIONS_HEADER + "fall,Fall,semester,2023-08-21,2023-12-20,year\n"

    result = _validate_sessions(text, warehouse)

    assert list(result.rows["session_id"]) == ["fall"]
    assert warehouse.asked == [("academic_session", "session_id", ["year"])]


def test_a_parent_quarantined_for_its_own_reason_does_not_take_its_children_along() -> None:
    # The school year's end date is impossible: it is quarantined, but it is in the file.
    text = SESSIONS_HEADER + "fall,Fall,semester,2023-08-21,2023-12-20,year\nyear,Year,schoolYear,2023-08-21,2024-02-30,\n"

    result = _validate_sessions(text)

    assert list(result.rows["session_id"]) == ["fall"]
    assert list(result.quarantine["session_id"]) == ["year"]
    assert _failures(result) == [("end_date", "2024-02-30")]


def test_an_org_parent_is_another_org_of_the_batch_or_the_district_org() -> None:
    orgs = ("sourcedId,name,type,parentSourcedId\n"
            "dept,Science,department,sch\nsch,High,school,D-1\nlost,Lost,school,nowhere\n")
    batch = _parse(SCHOOLS, orgs)
    district_rows = pd.DataFrame({"source_id": pd.Series(["D-1"], dtype="string[pyarrow]")})

    class Districts:
        rows = district_rows

    ids = referenced_batch_ids(SCHOOLS, {"district": Districts()}, batch)
    resolver = ReferenceResolver(ids, FakeWarehouse(), "d1")
    result = validate_batch(SCHOOLS, batch, reference_exists=resolver.exists)

    assert sorted(result.rows["school_id"]) == ["dept", "sch"]
    assert _failures(result) == [("parent_id", "nowhere")]


def test_a_validated_batch_as_its_own_parents_counts_passed_and_quarantined_rows() -> None:
    validated = _validate_sessions(
        SESSIONS_HEADER + "fall,Fall,semester,2023-08-21,2023-12-20,year\nyear,Year,schoolYear,2023-08-21,2024-02-30,\n")

    ids = referenced_batch_ids(SESSIONS, {}, validated)

    assert sorted(ids[("academic_session", "session_id")]) == ["fall", "year"]


def test_without_its_own_batch_a_self_reference_is_not_checked() -> None:
    # Callers that do not pass the feed's own rows keep today's behaviour instead of calling
    # every term dangling because its school year arrives in the same file.
    warehouse = FakeWarehouse()
    ids = referenced_batch_ids(SESSIONS, {})
    resolver = ReferenceResolver(ids, warehouse, "d1")

    assert ids == {("academic_session", "session_id"): None}
    assert resolver.exists("academic_session", None, pd.Series(["x", "y"])).tolist() == [True, True]
    assert warehouse.asked == []


def test_cross_feed_references_see_the_other_feeds_passed_rows_then_the_warehouse() -> None:
    class Courses:
        rows = pd.DataFrame({"course_id": pd.Series(["c1"], dtype="string[pyarrow]")})

    warehouse = FakeWarehouse({("course", "course_id", "c2"), ("district", "source_id", "D-1")})
    ids = referenced_batch_ids(CLASSES, {"course": Courses()})
    resolver = ReferenceResolver(ids, warehouse, "d1")

    assert set(ids) == {("course", "course_id")}
    assert resolver.exists("course", None, pd.Series(["c1", "c2", "c3"])).tolist() == [True, True, False]
    # A class's org may be the district org itself.
    assert resolver.exists("district", "source_id", pd.Series(["D-1", "D-2"])).tolist() == [True, False]
    assert warehouse.asked == [("course", "course_id", ["c2", "c3"]), ("district", "source_id", ["D-1", "D-2"])]
