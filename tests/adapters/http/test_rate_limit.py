"""Client-side rate budget: spacing and concurrency, measured on a real socket."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from edassets.adapters.http import RateLimit, RestClient
from tests.adapters.http.fake_server import (
    FakeRequest,
    FakeResponse,
    FakeServer,
    json_response,
)


def test_requests_per_second_spaces_requests(fake_server: FakeServer) -> None:
    route = fake_server.route("GET", "/users", json_response({"users": []}))
    client = RestClient(fake_server.base_url, rate_limit=RateLimit(20))
    started = time.monotonic()

    for _ in range(10):
        client.get("users")

    assert route.calls == 10
    assert time.monotonic() - started >= 0.45 - 0.01  # nine gaps of 50 ms


def test_concurrency_caps_requests_in_flight_across_clients(fake_server: FakeServer) -> None:
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def slow(request: FakeRequest) -> FakeResponse:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.1)
        with lock:
            in_flight -= 1
        return json_response({})

    fake_server.route("GET", "/slow", slow)
    shared = RateLimit(None, concurrency=2)  # one vendor budget, two feeds' clients
    clients = [RestClient(fake_server.base_url, rate_limit=shared) for _ in range(2)]

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda i: clients[i % 2].get("slow"), range(6)))

    assert peak == 2


def test_rate_limit_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="requests_per_second"):
        RateLimit(0)
    with pytest.raises(ValueError, match="concurrency"):
        RateLimit(None, concurrency=0)
