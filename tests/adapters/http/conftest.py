"""Fixtures for the HTTP adapter tests: a strict fake provider on a real socket."""

import logging
from collections.abc import Iterator

import pytest

from tests.adapters.http.fake_server import FakeServer


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A started strict `FakeServer`; teardown fails on missed or unregistered calls."""
    server = FakeServer(strict=True)
    server.start()
    yield server
    server.stop()
    server.verify()


@pytest.fixture
def insecure_oauth_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let oauthlib talk to the fake token endpoint over plain http on 127.0.0.1."""
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")


class LeakGuard:
    """Collects secrets a test used and messages it saw; teardown proves none leaked."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.messages: list[str] = []

    def watch(self, *secrets: str) -> None:
        """Secrets that must never show up in logs or messages."""
        self.secrets.update(secrets)

    def saw(self, *texts: object) -> None:
        """Error messages, reprs and other texts an operator could read."""
        self.messages.extend(str(text) for text in texts)


@pytest.fixture
def leak_guard(caplog: pytest.LogCaptureFixture) -> Iterator[LeakGuard]:
    """Capture every log record at DEBUG; fail if a watched secret appears anywhere.

    Covers our own request log, urllib3's request lines and requests-oauthlib's token
    request/response dumps, which are all emitted at DEBUG.
    """
    caplog.set_level(logging.DEBUG)
    guard = LeakGuard()
    yield guard
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was logged: the leak check would be vacuous"
    logged = "\n".join(record.getMessage() for record in records)
    for secret in guard.secrets:
        assert secret not in logged, f"secret {secret[:3]}… leaked into the logs"
        for message in guard.messages:
            assert secret not in message, f"secret {secret[:3]}… leaked into {message[:60]!r}"
