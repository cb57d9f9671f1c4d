"""Every pagination strategy against the fake provider, over a real socket."""

import gzip
import json
from datetime import UTC
from typing import Any

import pytest

from edassets.adapters.http import (
    BodyUrlPaginator,
    CursorPaginator,
    HeaderLinkPaginator,
    MalformedPayload,
    OffsetPaginator,
    PageNumberPaginator,
    PageTokenPaginator,
    RestClient,
    SinglePagePaginator,
)
from tests.adapters.http.fake_server import (
    FakeRequest,
    FakeResponse,
    FakeServer,
    json_response,
)

ROWS = [{"sourcedId": f"u{i:02d}"} for i in range(25)]


def ids(pages: list) -> list[str]:
    return [record["sourcedId"] for page in pages for record in page.records]


def offset_handler(rows: list[dict], *, total_header: bool, server_cap: int | None = None):
    def handler(request: FakeRequest) -> FakeResponse:
        offset, limit = request.int_arg("offset"), request.int_arg("limit")
        limit = min(limit, server_cap or limit)
        headers = {"X-Total-Count": str(len(rows))} if total_header else {}
        return json_response({"users": rows[offset : offset + limit]}, headers=headers)

    return handler


def test_offset_stops_at_x_total_count(fake_server: FakeServer) -> None:
    route = fake_server.route(
        "GET", "/ims/oneroster/v1p1/users", offset_handler(ROWS, total_header=True)
    )
    client = RestClient(fake_server.url("/ims/oneroster/v1p1"), paginator=OffsetPaginator(limit=10))

    pages = list(client.paginate("users", records_path="users"))

    assert ids(pages) == [r["sourcedId"] for r in ROWS]
    assert [p.index for p in pages] == [0, 1, 2]
    assert route.calls == 3  # 25 rows: 10 + 10 + 5, then offset 25 ≥ total
    assert [r.arg("offset") for r in fake_server.requests] == ["0", "10", "20"]


def test_offset_advances_by_rows_received_when_server_caps_the_limit(
    fake_server: FakeServer,
) -> None:
    fake_server.route("GET", "/users", offset_handler(ROWS[:10], total_header=True, server_cap=4))
    client = RestClient(fake_server.base_url, paginator=OffsetPaginator(limit=10))

    pages = list(client.paginate("users", records_path="users"))

    assert ids(pages) == [r["sourcedId"] for r in ROWS[:10]]  # nothing skipped
    assert [r.arg("offset") for r in fake_server.requests] == ["0", "4", "8"]


def test_offset_with_record_ids_survives_a_page_that_repeats_rows_and_arrives_cut_short(
    fake_server: FakeServer,
) -> None:
    def handler(request):
        offset = int(request.arg("offset"))
        window = ROWS[offset:offset + 10]
        if offset == 10:  # two repeats of the previous page, then the window cut to 7 rows
            window = ROWS[8:10] + window[:7]
        return json_response({"users": window}, headers={"X-Total-Count": str(len(ROWS))})

    fake_server.route("GET", "/users", handler)
    client = RestClient(fake_server.base_url, paginator=OffsetPaginator(limit=10, record_id="sourcedId"))

    pages = list(client.paginate("users", records_path="users"))

    assert sorted(set(ids(pages))) == sorted(r["sourcedId"] for r in ROWS)  # nothing skipped
    assert [r.arg("offset") for r in fake_server.requests] == ["0", "10", "17"]


def test_records_without_an_id_count_as_new_rows_so_paging_never_stalls(fake_server: FakeServer) -> None:
    # Two records whose id the vendor left empty, on different pages: counting "" once would
    # advance the offset one row short and the last page would ask for itself again.
    rows = [{**r, "sourcedId": ""} if i in (3, 14) else r for i, r in enumerate(ROWS)]
    fake_server.route("GET", "/users", offset_handler(rows, total_header=True))
    client = RestClient(fake_server.base_url, paginator=OffsetPaginator(limit=10, record_id="sourcedId"))

    pages = list(client.paginate("users", records_path="users"))

    assert len(ids(pages)) == len(rows)
    assert [r.arg("offset") for r in fake_server.requests] == ["0", "10", "20"]


@pytest.mark.parametrize(("rows", "calls"), [(ROWS, 3), (ROWS[:20], 3)])
def test_offset_without_total_stops_on_short_or_empty_page(
    fake_server: FakeServer, rows: list[dict], calls: int
) -> None:
    route = fake_server.route("GET", "/users", offset_handler(rows, total_header=False))
    client = RestClient(
        fake_server.base_url, paginator=OffsetPaginator(limit=10, total_header=None)
    )

    pages = list(client.paginate("users", records_path="users"))

    assert len(ids(pages)) == len(rows)
    # 25 rows: the 5-row page is short; 20 rows: a third, empty page ends it.
    assert route.calls == calls


def test_offset_total_from_body_path(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        offset = request.int_arg("skip")
        return json_response(
            {"meta": {"total": 7}, "items": ROWS[offset : offset + 5][: 7 - offset]}
        )

    fake_server.route("GET", "/items", handler)
    paginator = OffsetPaginator(
        limit=5, offset_param="skip", total_header=None, total_path="meta.total"
    )

    pages = list(
        RestClient(fake_server.base_url).paginate(
            "items", records_path="items", paginator=paginator
        )
    )

    assert len(ids(pages)) == 7
    assert len(pages) == 2


def test_page_number_with_total_pages(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        page, size = request.int_arg("page"), request.int_arg("per_page")
        chunk = ROWS[(page - 1) * size : page * size]
        return json_response({"sessions": chunk, "total_pages": 3, "page": page})

    route = fake_server.route("GET", "/api/v2/sessions", handler)
    client = RestClient(fake_server.url("/api/v2"), paginator=PageNumberPaginator(size=10))

    pages = list(client.paginate("sessions", records_path="sessions"))

    assert len(ids(pages)) == 25
    assert route.calls == 3
    assert [r.arg("page") for r in fake_server.requests] == ["1", "2", "3"]


def test_clever_cursor_follows_links_rel_next_keeping_filters(fake_server: FakeServer) -> None:
    users: list[dict[str, Any]] = [
        {"data": {"id": f"5f{i:022x}", "name": {"first": f"S{i}"}}, "uri": f"/v3.0/users/{i}"}
        for i in range(5)
    ]

    def handler(request: FakeRequest) -> FakeResponse:
        # The filter must survive although the next link below does not repeat it.
        if request.arg("role") != "student":
            return json_response({"error": "role filter lost"}, status=400)
        after = request.arg("starting_after")
        start = 0 if after is None else [u["data"]["id"] for u in users].index(after) + 1
        chunk = users[start : start + 2]
        links = [{"rel": "self", "uri": "/v3.0/users"}]
        if start + 2 < len(users):
            links.append(
                {
                    "rel": "next",
                    "uri": f"/v3.0/users?limit=2&starting_after={chunk[-1]['data']['id']}",
                }
            )
        return json_response({"data": chunk, "links": links})

    route = fake_server.route("GET", "/v3.0/users", handler)
    client = RestClient(fake_server.url("/v3.0"), paginator=CursorPaginator())

    pages = list(
        client.paginate("users", params={"role": "student", "limit": 2}, records_path="data")
    )

    assert [r["data"]["id"] for p in pages for r in p.records] == [u["data"]["id"] for u in users]
    assert route.calls == 3


def test_cursor_from_body_field(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if request.arg("cursor") is None:
            return json_response({"items": ROWS[:2], "next_cursor": "c2"})
        return json_response({"items": ROWS[2:3], "next_cursor": None})

    fake_server.route("GET", "/items", handler)
    paginator = CursorPaginator(cursor_param="cursor", cursor_path="next_cursor")

    pages = list(
        RestClient(fake_server.base_url).paginate(
            "items", records_path="items", paginator=paginator
        )
    )

    assert ids(pages) == ["u00", "u01", "u02"]


def test_page_token_continues_through_an_empty_page(fake_server: FakeServer) -> None:
    script = {
        None: {"courses": ROWS[:2], "nextPageToken": "t1"},
        "t1": {"nextPageToken": "t2"},  # Google Classroom: empty page, token still there
        "t2": {"courses": ROWS[2:3]},
    }
    route = fake_server.route(
        "GET", "/v1/courses", lambda r: json_response(script[r.arg("pageToken")])
    )
    client = RestClient(fake_server.url("/v1"), paginator=PageTokenPaginator())

    pages = list(
        client.paginate(
            "courses", params={"pageSize": 2}, records_path="courses", absent_means_empty=True
        )
    )

    assert route.calls == 3
    assert ids(pages) == ["u00", "u01", "u02"]
    assert pages[1].records == []
    assert all(r.arg("pageSize") == "2" for r in fake_server.requests)


def test_page_token_from_header(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if request.arg("pageToken") is None:
            return json_response(ROWS[:2], headers={"Next-Page-Token": "abc"})
        return json_response(ROWS[2:4])

    fake_server.route("GET", "/data/v3/ed-fi/students", handler)
    paginator = PageTokenPaginator(token_header="Next-Page-Token")

    pages = list(
        RestClient(fake_server.url("/data/v3")).paginate(
            "ed-fi/students", records_path="", paginator=paginator
        )
    )

    assert ids(pages) == ["u00", "u01", "u02", "u03"]


def test_link_header_replaces_params_with_the_opaque_next_url(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if len(request.query["per_page"]) != 1:
            return json_response({"error": "duplicated per_page"}, status=400)
        bookmark = request.arg("page", "first")
        if bookmark == "first":
            next_url = fake_server.url("/api/v1/courses/1/users?page=bookmark:WzJd&per_page=2")
            return json_response(
                ROWS[:2], headers={"Link": f'<{next_url}>; rel="next", <{next_url}>; rel="last"'}
            )
        return json_response(
            ROWS[2:3],
            headers={"Link": '</api/v1/courses/1/users?page=first&per_page=2>; rel="first"'},
        )

    route = fake_server.route("GET", "/api/v1/courses/1/users", handler)
    client = RestClient(fake_server.url("/api/v1"), paginator=HeaderLinkPaginator())

    pages = list(client.paginate("courses/1/users", params={"per_page": 2}, records_path=None))

    assert route.calls == 2
    assert ids(pages) == ["u00", "u01", "u02"]


def test_xapi_more_relative_irl(fake_server: FakeServer) -> None:
    def handler(request: FakeRequest) -> FakeResponse:
        if request.headers.get("X-Experience-API-Version") != "1.0.3":
            return json_response({"error": "version header missing"}, status=400)
        if request.arg("more") is None:
            return json_response(
                {"statements": [{"id": "s1"}, {"id": "s2"}], "more": "/lrs/xapi/statements?more=p2"}
            )
        return json_response({"statements": [{"id": "s3"}], "more": ""})

    route = fake_server.route("GET", "/lrs/xapi/statements", handler)
    client = RestClient(
        fake_server.url("/lrs/xapi"),
        paginator=BodyUrlPaginator("more"),
        headers={"X-Experience-API-Version": "1.0.3"},
    )

    pages = list(
        client.paginate(
            "statements", params={"since": "2024-01-01T00:00:00Z"}, records_path="statements"
        )
    )

    assert [r["id"] for p in pages for r in p.records] == ["s1", "s2", "s3"]
    assert route.calls == 2
    # The `more` IRL is opaque: the original `since` is not re-sent with it.
    assert fake_server.requests[1].query == {"more": ["p2"]}


def test_single_page_and_page_fields(fake_server: FakeServer) -> None:
    body = json.dumps({"schools": ROWS[:3]}).encode()
    route = fake_server.route(
        "GET",
        "/schools",
        FakeResponse(body=body, headers={"Content-Type": "application/json", "X-Api-Key": "k"}),
    )
    client = RestClient(fake_server.base_url, paginator=SinglePagePaginator())

    (page,) = client.paginate("schools", params={"api_key": "hush"}, records_path="schools")

    assert route.calls == 1
    assert page.body == body  # exact bytes, for archiving
    assert page.records == ROWS[:3]
    assert page.status == 200
    assert page.url == fake_server.url("/schools?api_key=***")
    assert page.headers["X-Api-Key"] == "***"
    assert page.fetched_at.tzinfo is UTC


def test_gzip_body_is_the_decoded_entity(fake_server: FakeServer) -> None:
    body = json.dumps({"users": ROWS[:2]}).encode()
    fake_server.route(
        "GET",
        "/users",
        FakeResponse(body=gzip.compress(body), headers={"Content-Encoding": "gzip"}),
    )

    (page,) = RestClient(fake_server.base_url).paginate("users", records_path="users")

    assert page.body == body
    assert page.records == ROWS[:2]


def test_cursor_that_does_not_advance_is_malformed(fake_server: FakeServer) -> None:
    fake_server.route(
        "GET", "/v1/courses", json_response({"courses": ROWS[:1], "nextPageToken": "same"})
    )
    client = RestClient(fake_server.url("/v1"), paginator=PageTokenPaginator())
    pages = client.paginate("courses", records_path="courses")

    assert next(pages).index == 0
    assert next(pages).index == 1
    with pytest.raises(MalformedPayload, match="next-page request repeats this one") as caught:
        next(pages)
    assert caught.value.page_index == 1


def test_unusable_total_is_malformed(fake_server: FakeServer) -> None:
    fake_server.route(
        "GET", "/users", json_response({"users": ROWS[:1]}, headers={"X-Total-Count": "lots"})
    )
    client = RestClient(fake_server.base_url, paginator=OffsetPaginator())

    with pytest.raises(MalformedPayload, match="X-Total-Count is not an integer"):
        list(client.paginate("users", records_path="users"))


def test_spec_paginator_instance_is_not_mutated(fake_server: FakeServer) -> None:
    fake_server.route("GET", "/users", offset_handler(ROWS, total_header=True))
    paginator = OffsetPaginator(limit=10)
    client = RestClient(fake_server.base_url, paginator=paginator)

    first = ids(list(client.paginate("users", records_path="users")))
    second = ids(list(client.paginate("users", records_path="users")))

    assert first == second == [r["sourcedId"] for r in ROWS]
