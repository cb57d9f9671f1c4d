"""A custom fetch (a GraphQL-style API no endpoint declaration describes) over a real socket.

The function gets the platform's authenticated client and yields the bodies; each is kept
as one page, exactly as received, then read as JSON pages at the source's records path.
"""

import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest

from edassets.adapters.fetch import MissingCredential, fetch_feed, plan_fetch
from edassets.adapters.http import BearerAuth, RateLimit, RestClient, RetryPolicy, SinglePagePaginator
from edassets.adapters.parse import parse_drop
from edassets.adapters.sources import Custom, FetchContext, ParseContext
from edassets.adapters.spec import ApiSpec, FeedSpec, PlatformSpec, col
from edassets.schema import entities as e
from tests.adapters.http.fake_server import FakeRequest, FakeServer, json_response

QUERY = "{ courses(after: $after) { id title } }"
PAGES = {
    "": {"data": {"courses": [{"id": "c1", "title": "Algebra"}, {"id": "c2", "title": "Biology"}],
                  "pageInfo": {"hasNextPage": True, "endCursor": "c2"}}},
    "c2": {"data": {"courses": [{"id": "c3", "title": "Chemistry"}], "pageInfo": {"hasNextPage": False}}},
}


def fetch_courses(client: RestClient, context: FetchContext) -> Iterator[bytes]:
    """Follow the GraphQL cursor until the last page, yielding each body as received."""
    after = ""
    while True:
        response = client.get("/graphql", params={"query": QUERY, "after": after})
        yield response.content
        info = response.json()["data"]["pageInfo"]
        if not info["hasNextPage"]:
            return
        after = info["endCursor"]


SPEC = PlatformSpec(
    name="graphql_test",
    title="GraphQL test vendor",
    description="Courses behind a GraphQL query.",
    feeds=(FeedSpec(name="courses", entity=e.COURSE, description="Courses.",
                    source=Custom(fetch=fetch_courses, records_path="data.courses"),
                    fields=({"course_id": col("id"), "title": col("title")},)),),
    api=ApiSpec(auth=lambda credentials, _: BearerAuth(credentials["token"]), paginator=SinglePagePaginator,
                rate_limit=RateLimit(None), retry=RetryPolicy(max_attempts=1), credentials=("token",)),
)


def test_a_custom_fetch_keeps_every_body_and_its_records_are_read_at_the_records_path(fake_server: FakeServer) -> None:
    seen: list[FakeRequest] = []

    def graphql(request: FakeRequest):  # noqa: ANN202 - a FakeResponse
        seen.append(request)
        return json_response(PAGES[request.arg("after") or ""])

    fake_server.route("GET", "/graphql", graphql)
    feed = SPEC.feed("courses")

    drop = fetch_feed(SPEC, feed, district_id="d1", base_url=fake_server.base_url, credentials={"token": "t0k"},
                      plan=plan_fetch(feed, None))

    assert [f.name for f in drop.files] == ["records.page-00000.json", "records.page-00001.json"]
    assert [json.loads(f.data) for f in drop.files] == [PAGES[""], PAGES["c2"]]
    assert {r.headers["Authorization"] for r in seen} == {"Bearer t0k"}
    context = ParseContext(district_id="d1", timezone=ZoneInfo("UTC"), platform=SPEC.name)
    batch = parse_drop(SPEC, feed, drop, context=context, run_id="r1")
    assert batch.sync_mode == "snapshot" and batch.errors.empty
    assert batch.frame["course_id"].tolist() == ["c1", "c2", "c3"]
    assert batch.frame["lineage_archive_key"].tolist() == ["records.page-00000.json"] * 2 + ["records.page-00001.json"]


def test_a_credential_the_platform_declares_is_checked_before_any_request() -> None:
    feed = SPEC.feed("courses")

    with pytest.raises(MissingCredential) as refused:
        fetch_feed(SPEC, feed, district_id="d1", base_url="http://127.0.0.1:9", credentials={"tokn": "sk_live_abc123"},
                   plan=plan_fetch(feed, None))

    assert str(refused.value) == "graphql_test needs credential token for district d1 (it takes token)"
