"""A feed's source is one tagged value; delivery, kinds, signatures and readers are derived from it."""

from zoneinfo import ZoneInfo

import dagster as dg
import pandas as pd
import pytest

from edassets.adapters.fetch import plan_fetch
from edassets.adapters.file_drop import select_drop
from edassets.adapters.http import RateLimit, RetryPolicy, SinglePagePaginator
from edassets.adapters.parse import parse_drop
from edassets.adapters.readers import READERS, format_of, reader_for
from edassets.adapters.sources import PAGES_FORMAT, Api, Custom, Endpoint, Files, Inbox, ParseContext
from edassets.adapters.spec import ApiSpec, FeedSpec, Join, PlatformSpec, col
from edassets.assets.factory import build_platform_assets
from edassets.handoffs import ReceivedFile
from edassets.platforms import PLATFORMS
from edassets.schema import entities as e

CONTEXT = ParseContext(district_id="d1", timezone=ZoneInfo("UTC"), platform="test")
FIELDS = ({"course_id": col("id"), "title": col("title")},)
API = ApiSpec(auth=lambda _credentials, _base: None, paginator=SinglePagePaginator,  # type: ignore[arg-type, return-value]
              rate_limit=RateLimit(None), retry=RetryPolicy())


def _read_nothing(data: bytes, context: ParseContext) -> pd.DataFrame:
    return pd.DataFrame()


def _fetch_nothing(client: object, context: object) -> list[bytes]:
    return []


def _feed(source: object, name: str = "courses") -> FeedSpec:
    return FeedSpec(name=name, entity=e.COURSE, description="test", fields=FIELDS, source=source)  # type: ignore[arg-type]


def _platform(*feeds: FeedSpec, api: ApiSpec | None = None) -> PlatformSpec:
    return PlatformSpec(name="test", title="Test", description="test", feeds=feeds, api=api)


@pytest.mark.parametrize(("source", "delivery", "kinds", "fmt"), [
    (Files("courses.csv"), "file_drop", {"csv"}, "csv"),
    (Api(Endpoint("/courses", "courses")), "api", {"api"}, PAGES_FORMAT),
    (Custom(name="courses.dat", read=_read_nothing), "file_drop", {"python"}, ""),
    (Custom(fetch=_fetch_nothing, records_path="data"), "api", {"api", "python"}, PAGES_FORMAT),
    (Custom(fetch=_fetch_nothing, read=_read_nothing), "api", {"api", "python"}, ""),
    (Inbox("events"), "push", {"webhook"}, "json"),
])
def test_each_source_kind_derives_its_delivery_kinds_and_reader(source, delivery, kinds, fmt) -> None:
    assert (source.delivery, set(source.kinds), format_of(source)) == (delivery, kinds, fmt)
    if isinstance(source, Inbox):
        return
    feed = _feed(source)
    platform = _platform(feed, api=API if delivery == "api" else None)
    assert (platform.delivery, set(platform.kinds)) == (delivery, kinds)
    assert reader_for(source) is (READERS[fmt] if fmt else reader_for(Custom(name="x", read=_read_nothing)))


def test_the_four_platforms_derive_what_they_used_to_declare() -> None:
    # These four only: a platform added later brings its own tests, not an edit here.
    derived = {name: (PLATFORMS[name].delivery, set(PLATFORMS[name].kinds))
               for name in ("oneroster_csv", "nwea_map", "oneroster_rest", "clever")}
    assert derived == {"oneroster_csv": ("file_drop", {"csv"}), "nwea_map": ("file_drop", {"csv"}),
                       "oneroster_rest": ("api", {"api"}), "clever": ("api", {"api"})}
    assert PLATFORMS["nwea_map"].file_signatures == {
        "AssessmentResults.csv": ("StudentID", "TestRITScore", "TermName"),
        "StudentsBySchool.csv": ("StudentID", "Grade", "StudentDateOfBirth"),
    }
    assert all(not PLATFORMS[name].file_signatures for name in ("oneroster_csv", "oneroster_rest", "clever"))


@pytest.mark.parametrize("source", [None, "courses.csv", (Files("a.csv"), Api(Endpoint("/a", "a")))])
def test_a_feed_without_exactly_one_source_is_refused_when_it_is_declared(source) -> None:
    with pytest.raises(ValueError, match="feed courses needs one source"):
        _feed(source)


def test_an_unknown_format_is_refused_when_the_feed_is_declared() -> None:
    with pytest.raises(ValueError, match=r"feed courses: no reader for format 'xml' \(known: csv, json_pages\)"):
        _feed(Files("courses.xml", format="xml"))


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Files(""), "Files needs the file's name"),
    (lambda: Custom(), "Custom needs a read or a fetch function"),
    (lambda: Custom(read=_read_nothing), "needs the name of the file it reads"),
    (lambda: Custom(name="x.dat", fetch=_fetch_nothing), "fetches its pages"),
])
def test_incomplete_sources_are_refused(make, message) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_a_platform_that_mixes_deliveries_or_fetches_without_an_api_is_refused() -> None:
    files, fetched = _feed(Files("courses.csv")), _feed(Api(Endpoint("/courses", "courses")), "api_courses")
    with pytest.raises(ValueError, match=r"mixes deliveries \(api, file_drop\)"):
        _platform(files, fetched, api=API)
    with pytest.raises(ValueError, match="declares no api=ApiSpec"):
        _platform(fetched)


def test_a_custom_fetch_takes_no_joins() -> None:
    join = Join("demographics", on=(("id", "id"),), keep=("birthDate",), endpoint=Endpoint("/demographics", "data"))
    with pytest.raises(ValueError, match="a custom fetch fetches every table itself"):
        FeedSpec(name="courses", entity=e.COURSE, description="test", fields=FIELDS, joins=(join,),
                 source=Custom(fetch=_fetch_nothing))


def test_two_signatures_for_one_file_are_refused() -> None:
    first = _feed(Files("courses.csv", signature=("id", "title")))
    second = _feed(Files("courses.csv", signature=("id",)), "more_courses")
    with pytest.raises(ValueError, match="courses.csv has two signatures"):
        _platform(first, second)


def test_an_inbox_platform_is_refused_at_definition_load_as_not_yet_supported() -> None:
    platform = _platform(_feed(Inbox("events")))
    assert platform.delivery == "push"
    partitions = dg.StaticPartitionsDefinition(["d1"])
    with pytest.raises(ValueError, match="platform test: push delivery .* is not yet supported"):
        build_platform_assets(platform, partitions, "sqlite")


def test_a_renamed_file_is_found_by_the_signature_its_source_declares() -> None:
    feed = _feed(Files("courses.csv", signature=("id", "title")))
    drop = select_drop([ReceivedFile("Fall export.CSV", b"id,title,extra\nc1,Algebra,x\n")], [], _platform(feed), feed)
    batch = parse_drop(_platform(feed), feed, drop, context=CONTEXT, run_id="r1")
    assert batch.frame["title"].tolist() == ["Algebra"]


def test_a_file_name_may_be_a_pattern_for_an_export_whose_name_varies() -> None:
    feed = _feed(Files("Courses_v*.csv"))
    files = [ReceivedFile("courses_v1.csv", b"id,title\nc1,Algebra\n"), ReceivedFile("COURSES_V2.CSV", b"id,title\nc2,Biology\n"),
             ReceivedFile("courses_standards_v2.csv", b"id,title\nx,y\n")]
    drop = select_drop(files, [], _platform(feed), feed)
    assert drop.roles == {"courses_v*.csv": ("courses_v1.csv", "COURSES_V2.CSV")}
    assert [f.name for f in drop.inventory if f.ignored] == ["courses_standards_v2.csv"]
    batch = parse_drop(_platform(feed), feed, drop, context=CONTEXT, run_id="r1")
    assert batch.frame["title"].tolist() == ["Algebra", "Biology"]


def test_an_alias_that_is_another_file_or_names_two_files_is_refused() -> None:
    first = _feed(Files("courses_v2.csv", aliases=("courses_v1.csv",)))
    with pytest.raises(ValueError, match="courses_v1.csv is an alias of courses_v2.csv and a file of its own"):
        _platform(first, _feed(Files("courses_v1.csv"), "old_courses"))
    with pytest.raises(ValueError, match=r"COURSES_V1.csv is an alias of two files \(courses_v2.csv and classes.csv\)"):
        _platform(first, _feed(Files("classes.csv", aliases=("COURSES_V1.csv",)), "classes"))
    assert _platform(first).file_aliases == {"courses_v1.csv": "courses_v2.csv"}


@pytest.mark.parametrize(("sync_mode", "fetched_as"), [("snapshot", "snapshot"), ("events", "events")])
def test_a_full_api_listing_keeps_an_events_feed_an_events_batch(sync_mode: str, fetched_as: str) -> None:
    # Events (results, sessions) are never deactivated because a listing missed them.
    feed = FeedSpec(name="results", entity=e.COURSE, description="d", source=Api(Endpoint(path="/r", records_path="r")),
                    sync_mode=sync_mode, fields=({"course_id": col("id"), "title": col("title")},))  # type: ignore[arg-type]
    assert plan_fetch(feed, None).sync_mode == fetched_as
