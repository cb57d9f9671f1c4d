"""map_feed: executing a declarative FeedSpec over CSV tables into unified-schema rows plus parse errors."""

from collections.abc import Mapping
from dataclasses import replace
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.codes import code_map
from edassets.adapters.csv_files import CsvTable, read_csv_text
from edassets.adapters.mapping import map_feed
from edassets.adapters.sources import Files
from edassets.adapters.spec import Const, Derived, FeedSpec, FieldSource, Join, ParseContext, SyncMode, col
from edassets.adapters.transforms import integer, iso_or_us_date, lower_text, text
from edassets.handoffs import FAILURE_COLUMNS, ParsedBatch
from edassets.schema import entities as e
from edassets.schema.model import Entity

CONTEXT = ParseContext(district_id="d1", timezone=ZoneInfo("America/Chicago"), platform="test_platform")
ARCHIVE_KEY = "archive/test_platform/d1/courses.csv"
RUN_ID = "run-1"


def _tables(files: Mapping[str, str]) -> dict[str, CsvTable]:
    return {name.lower(): read_csv_text(text.encode()) for name, text in files.items()}


def _map(feed: FeedSpec, files: Mapping[str, str], sync_mode: SyncMode = "snapshot") -> ParsedBatch:
    return map_feed(feed, _tables(files), context=CONTEXT, archive_key=ARCHIVE_KEY, run_id=RUN_ID, sync_mode=sync_mode)


def _feed(
    *fields: Mapping[str, FieldSource],
    entity: Entity = e.COURSE,
    file: str = "Courses.csv",
    joins: tuple[Join, ...] = (),
    where: tuple[str, frozenset[str]] | None = None,
    required_values: tuple[str, ...] = (),
) -> FeedSpec:
    return FeedSpec(name="test_feed", entity=entity, description="test feed", source=Files(file), fields=fields,
                    joins=joins, where=where, required_values=required_values)


def _values(series: pd.Series) -> list[object]:
    return [None if pd.isna(v) else v for v in series]


def _errors(batch: ParsedBatch) -> list[tuple[object, ...]]:
    # The per-error archive key only matters for batches spanning several objects (API pages).
    columns = [c for c in FAILURE_COLUMNS if c != "lineage_archive_key"]
    return [tuple(None if pd.isna(v) else v for v in row) for row in batch.errors[columns].itertuples(index=False)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("id,Course\nc1,Science K-12\n", "Science K-12", id="current-name"),
        pytest.param("id,MeasurementScale\nc1,Science K-12\n", "Science K-12", id="legacy-name"),
        pytest.param("id,MeasurementScale,Course\nc1,legacy,current\n", "current", id="first-name-wins"),
        pytest.param("ID,  course \nc1,  Science K-12 \n", "Science K-12", id="case-insensitive-and-trimmed"),
    ],
)
def test_header_alternates_and_case(text: str, expected: str) -> None:
    feed = _feed({"course_id": col("id"), "title": col("Course", "MeasurementScale")})

    batch = _map(feed, {"courses.csv": text})

    assert _values(batch.frame["title"]) == [expected]
    assert _values(batch.frame["course_id"]) == ["c1"]
    assert batch.missing_columns == ()
    assert batch.errors.empty


def test_missing_mapped_columns_are_listed_and_null() -> None:
    feed = _feed({
        "course_id": col("id"), "title": col("title"), "course_code": col("Course", "MeasurementScale"),
        "subjects": col("subjects"),
    })

    batch = _map(feed, {"courses.csv": "id,title\nc1,Algebra\nc2,Biology\n"})

    assert batch.missing_columns == ("Course", "subjects")
    assert _values(batch.frame["course_code"]) == [None, None]
    assert _values(batch.frame["subjects"]) == [None, None]
    assert _values(batch.frame["title"]) == ["Algebra", "Biology"]
    assert batch.errors.empty


SESSIONS = _feed(
    {
        "session_id": col("id"), "title": col("title"),
        "start_date": col("start", parse=iso_or_us_date, rule="date"),
        "school_year": col("year", parse=integer, rule="year"),
    },
    entity=e.ACADEMIC_SESSION,
    file="sessions.csv",
)


def test_parse_failures_become_na_and_error_rows() -> None:
    text = "id,title,start,year\ns1,A,2020-08-17,2021\nbroken,B,x,y,z\ns2,C,2020-02-30, twenty \ns3,D,  ,\n"

    batch = _map(SESSIONS, {"sessions.csv": text})

    assert _values(batch.frame["session_id"]) == ["s1", "s2", "s3"]
    assert _values(batch.frame["start_date"]) == [pd.Timestamp("2020-08-17"), None, None]
    assert _values(batch.frame["school_year"]) == [2021, None, None]
    assert _errors(batch) == [
        (1, 2, "start_date", "date", "2020-02-30"),
        (1, 2, "school_year", "year", " twenty "),
        (-1, 1, "(record)", "malformed CSV row: expected 4 fields, got 5", None),
    ]
    # Blank cells (s3) are missing values, not parse failures; the broken line still counts as received.
    assert batch.received == 4
    assert batch.errors["row"].dtype == "int64"


def test_const_overrides_defaults_and_defaults_fill_the_rest() -> None:
    feed = _feed({"course_id": col("id"), "title": Const("Catalogue"), "active": Const(False)})

    batch = _map(feed, {"courses.csv": "id\nc1\nc2\n"})

    frame = batch.frame
    assert _values(frame["title"]) == ["Catalogue", "Catalogue"]
    assert _values(frame["active"]) == [False, False]
    assert _values(frame["district_id"]) == ["d1", "d1"]
    assert _values(frame["source_platform"]) == ["test_platform", "test_platform"]
    assert _values(frame["deactivated_at"]) == [None, None]
    assert _values(frame["course_code"]) == [None, None]


def _district_code(source: pd.DataFrame, context: ParseContext) -> pd.Series:
    return context.district_id + ":" + text(source["left"]) + "-" + text(source["right"])


@pytest.mark.parametrize(("may_be_empty", "expected_errors"), [
    (False, [(1, 1, "course_code", "district code", "x")]),
    (True, []),
])
def test_derived_columns(may_be_empty: bool, expected_errors: list[tuple[object, ...]]) -> None:
    derived = Derived(sources=(("left", "L"), ("right",)), fn=_district_code, rule="district code",
                      may_be_empty=may_be_empty)
    feed = _feed({"course_id": col("id"), "course_code": derived})

    # The function sees the first name of each alternate ("left") although the file says "L".
    batch = _map(feed, {"courses.csv": "id,L,right\nc1,a,b\nc2, x ,\nc3,,\n"})

    assert _values(batch.frame["course_code"]) == ["d1:a-b", None, None]
    assert _errors(batch) == expected_errors


def test_where_keeps_matching_records_with_their_record_index() -> None:
    feed = _feed({"course_id": col("id")}, where=("type", frozenset({"School"})))

    batch = _map(feed, {"courses.csv": "id,type\nd,district\ns1,school\nblank,\ns2, SCHOOL \n"})

    assert _values(batch.frame["course_id"]) == ["s1", "s2"]
    assert _values(batch.frame["lineage_record_index"]) == [1, 3]
    # The other records are received too, and set aside with the rule that says so.
    assert batch.received == 4
    set_aside = batch.not_applicable
    assert set_aside["lineage_record_index"].tolist() == [0, 2]
    assert set(set_aside["rule"]) == {"type is not School: another feed's record"}
    assert set_aside["value"].tolist() == ["district", ""]


def test_empty_required_values_are_not_applicable_not_lost() -> None:
    feed = _feed({"course_id": col("id"), "title": col("title")}, required_values=("title",))

    batch = _map(feed, {"courses.csv": "id,title\nc1,Algebra\nc2,\n"})

    assert _values(batch.frame["course_id"]) == ["c1"]
    assert batch.received == 2
    assert batch.not_applicable[["lineage_record_index", "rule"]].values.tolist() == [[1, "no title: nothing to record"]]


JOINED = _feed(
    {"course_id": col("id"), "title": col("title"), "course_code": col("orgs.name"), "org_id": col("orgs.sourcedId")},
    joins=(Join("Orgs.csv", on=(("org", "sourcedId"),), keep=("name",), where=("kind", frozenset({"primary"}))),),
)
COURSES = "id,title,org\nc1,T1, o1 \nc2,T2,o2\nc3,T3,o3\nc4,T4,\n"


def test_join_keeps_first_match_filters_the_joined_file_and_keeps_unmatched_rows() -> None:
    orgs = "SOURCEDID,Name,KIND\no1,First,primary\no1,Second,primary\no2,Secondary only,secondary\n,Blank key,primary\n"

    batch = _map(JOINED, {"courses.csv": COURSES, "orgs.csv": orgs})

    assert _values(batch.frame["course_id"]) == ["c1", "c2", "c3", "c4"]
    assert _values(batch.frame["course_code"]) == ["First", None, None, None]
    assert _values(batch.frame["lineage_record_index"]) == [0, 1, 2, 3]
    # Only kept columns are brought in: the join key is not readable as orgs.sourcedId.
    assert batch.missing_columns == ("orgs.sourcedId",)
    assert batch.errors.empty


def test_join_with_absent_file_keeps_every_row() -> None:
    batch = _map(JOINED, {"courses.csv": COURSES})

    assert _values(batch.frame["course_id"]) == ["c1", "c2", "c3", "c4"]
    assert _values(batch.frame["course_code"]) == [None, None, None, None]


KNOWN_ID_TYPES = code_map({"sis": "sis_id", "state": "state_id"}, "known id type")
IDENTIFIERS = _feed(
    *(
        {"person_id": col("id"), "id_type": id_type, "external_id": external}
        for id_type, external in (
            (Const("sourced_id"), col("id")),
            (Const("sis_id"), col("sis", parse=integer, rule="whole number")),
            (col("kind", parse=KNOWN_ID_TYPES), col("email", parse=lower_text)),
        )
    ),
    entity=e.PERSON_IDENTIFIER,
    file="users.csv",
    required_values=("external_id",),
)


def test_multiple_mappings_unpivot_and_skip_empty_required_values() -> None:
    text = "id,sis,kind,email\nu1,12,sis,U1@X.org\nu2,,,\nu3,abc,badge,u3@x.org\n"

    batch = _map(IDENTIFIERS, {"users.csv": text})

    frame = batch.frame
    assert list(zip(_values(frame["person_id"]), _values(frame["id_type"]), _values(frame["external_id"]), strict=True)) == [
        ("u1", "sourced_id", "u1"), ("u2", "sourced_id", "u2"), ("u3", "sourced_id", "u3"),
        ("u1", "sis_id", "12"),
        # An unparsable required value is not "nothing to record": the row stays, with its error.
        ("u3", "sis_id", None),
        ("u1", "sis_id", "u1@x.org"), ("u3", None, "u3@x.org"),
    ]
    assert _values(frame["lineage_record_index"]) == [0, 1, 2, 0, 2, 0, 2]
    # Error rows point at the output row of the mapping that failed, not at the source row.
    assert _errors(batch) == [(4, 2, "external_id", "whole number", "abc"), (6, 2, "id_type", "known id type", "badge")]


def test_lineage_columns() -> None:
    feed = _feed({"course_id": col("id"), "title": col("title")})

    batch = _map(feed, {"courses.csv": "id,title\nc1,A\nc2,B,extra\nc3,C\n"}, sync_mode="incremental")

    assert _values(batch.frame["lineage_record_index"]) == [0, 2]
    assert _values(batch.frame["lineage_archive_key"]) == [ARCHIVE_KEY, ARCHIVE_KEY]
    assert _values(batch.frame["lineage_run_id"]) == [RUN_ID, RUN_ID]
    assert (batch.archive_key, batch.sync_mode, batch.received) == (ARCHIVE_KEY, "incremental", 3)


def _expected_columns(entity: Entity) -> dict[str, object]:
    return {f.name: f.kind.pandas_dtype for f in entity.all_fields if f.name != "lineage_loaded_at"}


@pytest.mark.parametrize("entity", e.ENTITIES, ids=lambda entity: entity.name)
def test_columns_and_dtypes_are_the_entity_declaration(entity: Entity) -> None:
    feed = _feed({}, entity=entity)

    mapped = _map(feed, {"courses.csv": "id\n1\n2\n"})
    absent = _map(feed, {}, sync_mode="absent")

    for batch, rows in ((mapped, 2), (absent, 0)):
        assert dict(batch.frame.dtypes) == _expected_columns(entity)
        assert len(batch.frame) == rows


def test_typed_values_keep_declared_dtypes() -> None:
    batch = _map(SESSIONS, {"sessions.csv": "id,title,start,year\ns1,A,8/17/2020,2021.0\n"})

    assert dict(batch.frame.dtypes) == _expected_columns(e.ACADEMIC_SESSION)
    assert batch.frame.loc[0, "start_date"] == pd.Timestamp("2020-08-17")
    assert batch.frame.loc[0, "school_year"] == 2021


def test_absent_file_gives_an_empty_batch() -> None:
    batch = _map(SESSIONS, {"other.csv": "id\n1\n"}, sync_mode="absent")

    assert batch.frame.empty
    assert batch.errors.empty
    assert list(batch.errors.columns) == list(FAILURE_COLUMNS)
    assert (batch.sync_mode, batch.received, batch.archive_key) == ("absent", 0, "")


def test_where_names_the_feeds_own_reason_when_it_gives_one() -> None:
    feed = replace(_feed({"course_id": col("id")}, where=("status", frozenset({"Active"}))),
                   where_reason="withdrawn by the vendor, not a result")

    batch = _map(feed, {"courses.csv": "id,status\nc1,Active\nc2,Deactivated\n"})

    assert _values(batch.frame["course_id"]) == ["c1"]
    assert batch.not_applicable[["rule", "value"]].values.tolist() == [
        ["status is not Active: withdrawn by the vendor, not a result", "Deactivated"]]
