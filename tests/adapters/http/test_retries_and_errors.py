"""Throttling, retries and the error taxonomy, against the fake provider."""

import math
import pickle
import time
from email.utils import formatdate

import pytest

from edassets.adapters.http import (
    AuthError,
    ErrorAction,
    MalformedPayload,
    OffsetPaginator,
    RateLimited,
    RequestRejected,
    RestClient,
    RetryPolicy,
    UpstreamUnavailable,
)
from tests.adapters.http.fake_server import (
    FakeResponse,
    FakeServer,
    in_sequence,
    json_response,
)

OK = json_response({"users": [{"id": "1"}]})
FAST = RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_max_s=0.05)


class RecordingSleep:
    """Records requested waits without waiting (the clock is irrelevant to these tests)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client_for(server: FakeServer, **kwargs) -> RestClient:
    kwargs.setdefault("retry", FAST)
    return RestClient(server.base_url, platform="clever", district="d1", **kwargs)


def test_429_retry_after_seconds_is_honoured(fake_server: FakeServer) -> None:
    route = fake_server.route(
        "GET", "/users", in_sequence(FakeResponse(429, b"slow down", {"Retry-After": "1"}), OK)
    )
    started = time.monotonic()

    response = client_for(fake_server).get("users")

    assert response.status_code == 200
    assert route.calls == 2
    assert time.monotonic() - started >= 0.95


def test_429_retry_after_http_date(fake_server: FakeServer) -> None:
    retry_at = math.ceil(time.time()) + 3
    fake_server.route(
        "GET",
        "/users",
        in_sequence(
            FakeResponse(429, headers={"Retry-After": formatdate(retry_at, usegmt=True)}), OK
        ),
    )
    sleep = RecordingSleep()

    client_for(fake_server, sleep=sleep).get("users")

    (wait,) = sleep.waits
    assert 2.0 < wait <= 4.0  # until the date, not the exponential backoff


def test_429_x_ratelimit_reset_epoch(fake_server: FakeServer) -> None:
    # Clever: 429 with X-RateLimit-Reset as a Unix timestamp.
    reset = int(time.time()) + 5
    fake_server.route(
        "GET",
        "/users",
        in_sequence(FakeResponse(429, headers={"X-RateLimit-Reset": str(reset)}), OK),
    )
    sleep = RecordingSleep()

    client_for(fake_server, sleep=sleep).get("users")

    (wait,) = sleep.waits
    assert 3.5 < wait <= 5.0


def test_canvas_403_rate_limit_exceeded_is_throttling(fake_server: FakeServer) -> None:
    throttled = FakeResponse(
        403, b"403 Forbidden (Rate Limit Exceeded)", {"X-Rate-Limit-Remaining": "0.0"}
    )
    route = fake_server.route("GET", "/api/v1/courses", in_sequence(throttled, OK))

    response = client_for(fake_server).get("api/v1/courses")

    assert response.status_code == 200
    assert route.calls == 2


def test_plain_403_fails_at_once_as_auth_error(fake_server: FakeServer) -> None:
    route = fake_server.route(
        "GET", "/api/v1/courses", FakeResponse(403, b"forbidden", {"X-Rate-Limit-Remaining": "700"})
    )

    with pytest.raises(AuthError, match="→ 403: credentials rejected"):
        client_for(fake_server).get("api/v1/courses")
    assert route.calls == 1


def test_wait_beyond_budget_raises_rate_limited_without_sleeping(fake_server: FakeServer) -> None:
    route = fake_server.route("GET", "/users", FakeResponse(429, headers={"Retry-After": "300"}))
    sleep = RecordingSleep()
    client = client_for(fake_server, sleep=sleep, retry=RetryPolicy(max_elapsed_s=5))

    with pytest.raises(RateLimited) as caught:
        client.get("users", params={"limit": 100})

    assert sleep.waits == []
    assert route.calls == 1
    assert caught.value.retry_after == 300
    assert caught.value.status == 429
    message = str(caught.value)
    assert message.startswith(
        f"clever/d1: GET {fake_server.url('/users?limit=100')} → 429 after 1 attempt over "
    )
    assert message.endswith(
        "s (server asked to wait 300.0s): rate limited; lower the platform's rate budget or run again later"
    )


def test_429_exhaustion_raises_rate_limited(fake_server: FakeServer) -> None:
    route = fake_server.route("GET", "/users", FakeResponse(429, b"{}"))

    with pytest.raises(RateLimited) as caught:
        client_for(fake_server).get("users")

    assert route.calls == 3
    assert caught.value.retry_after is None


def test_5xx_exhaustion_raises_upstream_unavailable_with_one_line_message(
    fake_server: FakeServer,
) -> None:
    route = fake_server.route(
        "GET", "/v3.0/users", FakeResponse(503, b"<html>\nmaintenance\n</html>")
    )
    client = RestClient(
        fake_server.url("/v3.0"),
        platform="clever",
        district="d1",
        paginator=OffsetPaginator(limit=100),
        retry=FAST,
    )

    with pytest.raises(UpstreamUnavailable) as caught:
        list(client.paginate("users", records_path="data"))

    message = str(caught.value)
    assert route.calls == 3
    assert "\n" not in message
    assert message.startswith(
        f"clever/d1: GET {fake_server.url('/v3.0/users?limit=100&offset=0')} → 503 after 3 attempts over "
    )
    assert message.endswith("s: upstream unavailable; retry later or check the vendor status page")
    assert "maintenance" not in message
    assert caught.value.status == 503


def test_5xx_then_success_recovers(fake_server: FakeServer) -> None:
    route = fake_server.route(
        "GET", "/users", in_sequence(FakeResponse(502), FakeResponse(500), OK)
    )

    assert client_for(fake_server).get("users").json() == {"users": [{"id": "1"}]}
    assert route.calls == 3


def test_timeout_is_retried_then_upstream_unavailable(fake_server: FakeServer) -> None:
    route = fake_server.route("GET", "/slow", FakeResponse(200, b"{}", delay_s=0.4))
    client = client_for(
        fake_server, timeout_s=0.1, retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01)
    )

    with pytest.raises(UpstreamUnavailable, match=r"→ ReadTimeout after 2 attempts over") as caught:
        client.get("slow")

    assert route.calls == 2
    assert caught.value.status is None


def test_connection_refused_is_upstream_unavailable() -> None:
    client = RestClient("http://127.0.0.1:9", platform="p", district="d", retry=FAST)

    with pytest.raises(UpstreamUnavailable, match=r"→ ConnectionError after 3 attempts"):
        client.get("users")


def test_malformed_json_carries_raw_body_and_page_index(fake_server: FakeServer) -> None:
    broken = b'{"users": [{"name": "Kyle Hughes", "dob": "2/11/2007"},'

    def handler(request):
        if request.arg("offset") == "0":
            return json_response({"users": [{"id": "1"}]}, headers={"X-Total-Count": "2"})
        return FakeResponse(200, broken, {"Content-Type": "application/json"})

    route = fake_server.route("GET", "/users", handler)
    pages = client_for(fake_server, paginator=OffsetPaginator(limit=1)).paginate(
        "users", records_path="users"
    )

    assert next(pages).index == 0
    with pytest.raises(MalformedPayload) as caught:
        next(pages)

    error = caught.value
    assert route.calls == 1 + FAST.max_attempts  # asked again, then reported with the last body
    assert error.page_index == 1
    assert error.body == broken
    assert "Kyle" not in str(error) and "2007" not in str(error)
    assert "invalid JSON" in str(error) and "on page 1 (55 bytes)" in str(error)
    error.archive_key = "raw/clever/d1/users/page-0001.json"
    assert str(error).endswith(
        "malformed payload; raw body archived at raw/clever/d1/users/page-0001.json and compare it "
        "with the vendor's documented format"
    )


def test_truncated_body_is_retried_then_malformed_with_the_partial_bytes(
    fake_server: FakeServer,
) -> None:
    full = b'{"users": [{"id": "1"}, {"id": "2"}, {"id": "3"}]}'
    route = fake_server.route("GET", "/users", FakeResponse(200, full, truncate_to=20))

    with pytest.raises(MalformedPayload, match="cut off after 20 bytes") as caught:
        list(client_for(fake_server).paginate("users", records_path="users"))

    assert route.calls == 3
    assert caught.value.body == full[:20]
    assert caught.value.page_index == 0


def test_missing_records_path_is_malformed(fake_server: FakeServer) -> None:
    fake_server.route("GET", "/users", json_response({"data": []}))

    with pytest.raises(MalformedPayload, match="records path 'users' is missing") as caught:
        list(client_for(fake_server).paginate("users", records_path="users"))

    assert caught.value.body == b'{"data": []}'


def test_404_is_request_rejected(fake_server: FakeServer) -> None:
    route = fake_server.route(
        "GET", "/v3.0/sections/x/students", FakeResponse(404, b'{"message": "not found"}')
    )

    with pytest.raises(RequestRejected, match="→ 404: request rejected"):
        client_for(fake_server).get("v3.0/sections/x/students")
    assert route.calls == 1


def test_spec_can_ignore_a_status(fake_server: FakeServer) -> None:
    fake_server.route("GET", "/v3.0/sections/x/students", FakeResponse(404))
    client = client_for(fake_server, error_actions={404: ErrorAction.IGNORE})

    assert list(client.paginate("v3.0/sections/x/students", records_path="data")) == []
    assert client.get("v3.0/sections/x/students").status_code == 404


def test_spec_can_retry_an_unusual_status(fake_server: FakeServer) -> None:
    # Some vendors answer 409 while a nightly export is being rebuilt.
    route = fake_server.route("GET", "/export", in_sequence(FakeResponse(409), OK))
    client = client_for(fake_server, error_actions={409: ErrorAction.RETRY})

    assert client.get("export").status_code == 200
    assert route.calls == 2


def test_errors_survive_pickling(fake_server: FakeServer) -> None:
    fake_server.route("GET", "/users", json_response({"nope": 1}))
    with pytest.raises(MalformedPayload) as caught:
        list(client_for(fake_server).paginate("users", records_path="users"))

    copy = pickle.loads(pickle.dumps(caught.value))

    assert str(copy) == str(caught.value)
    assert copy.body == caught.value.body


def test_retry_policy_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_a_page_that_parses_on_the_second_try_is_used(fake_server: FakeServer) -> None:
    answers = iter([FakeResponse(200, b'{"users": [{"id": "1"', {"Content-Type": "application/json"}),
                    json_response({"users": [{"id": "1"}]})])
    fake_server.route("GET", "/users", lambda request: next(answers))

    pages = list(client_for(fake_server).paginate("users", records_path="users"))

    assert [page.records for page in pages] == [[{"id": "1"}]]
