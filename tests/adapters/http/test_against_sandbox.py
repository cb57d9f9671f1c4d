"""The HTTP toolkit against the real sandbox over real sockets, with its switchable faults.

`RestClient`, its auth schemes and paginators page through the sandbox's OneRoster REST
and Clever APIs (one 500-student district) while the sandbox revokes tokens, throttles,
fails, stalls, cuts, truncates and repeats pages. Transient faults must not change the
records a client ends up with; lasting ones must end in the typed, one-line, secret-free
error an operator can act on. Every test also proves that nothing secret or personal
reached a log line, with logging at DEBUG.
"""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
import requests

from edassets.adapters.http import (
    AdapterError,
    BearerAuth,
    CursorPaginator,
    MalformedPayload,
    OAuth2ClientCredentials,
    OffsetPaginator,
    Page,
    RestClient,
    RetryPolicy,
    UpstreamUnavailable,
    redact_url,
)
from edassets.sandbox.credentials import sandbox_credentials
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.server import SandboxServer
from edassets.sandbox.world import DistrictSpec, World, WorldOptions

SEED = 11
DISTRICT = "sandbox-http"
OPTIONS = WorldOptions(districts=(DistrictSpec(DISTRICT, "Sandbox HTTP Unified", 500, "oneroster_rest"),), seed=SEED)
TODAY = OPTIONS.sync_dates[0]
CREDENTIALS = {**sandbox_credentials("oneroster_rest", DISTRICT, SEED), **sandbox_credentials("clever", DISTRICT, SEED)}
PLATFORMS = ("oneroster_rest", "clever")
PAGE_SIZE = 100  # ten pages of users: room for faults in mid-pagination
# Retries fast enough for a unit test, patient enough to outlast a burst of one.
QUICK_RETRY = RetryPolicy(max_attempts=4, max_elapsed_s=10, backoff_base_s=0.01, backoff_max_s=0.05, jitter=False)


@dataclass(frozen=True)
class Collection:
    """Where a platform's users are and how a record names itself."""

    path: str
    records_path: str
    record_id: Callable[[dict], str]


USERS = {
    "oneroster_rest": Collection("/ims/oneroster/v1p1/users", "users", lambda r: r["sourcedId"]),
    "clever": Collection("/v3.0/users", "data", lambda r: r["data"]["id"]),
}


@pytest.fixture(scope="module")
def world() -> World:
    """One 500-student district, shared by every server of this module."""
    return World.generate(OPTIONS)


@pytest.fixture
def sandbox(world: World) -> Iterator[Callable[..., SandboxServer]]:
    """`sandbox(*faults)`: a started sandbox injecting `faults`; every one is stopped at teardown."""
    started: list[SandboxServer] = []

    def start(*faults: Fault) -> SandboxServer:
        server = SandboxServer(world, faults=FaultPlan(faults=faults), seed=SEED, today=TODAY).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _plain_http_oauth(insecure_oauth_transport: None) -> None:
    """The sandbox speaks plain HTTP on loopback (see the package conftest)."""


def _watched_values(world: World) -> list[str]:
    """Secrets and student names that must never reach a log line."""
    persons = world.state(DISTRICT, TODAY).persons
    students = persons[persons["role"] == "student"]
    names = []
    for given, family in zip(students["given_name"], students["family_name"], strict=True):
        names += [f"{given} {family}", f"{family}, {given}", f'"givenName":"{given}","familyName":"{family}"',
                  f'"first":"{given}"']
    return [CREDENTIALS["client_secret"], CREDENTIALS["token"], *names]


@pytest.fixture(autouse=True)
def no_secret_or_name_in_logs(world: World, caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture everything at DEBUG; fail if a secret or a student's name was logged."""
    caplog.set_level(logging.DEBUG)
    yield
    records = caplog.get_records("setup") + caplog.get_records("call")
    assert records, "nothing was logged at DEBUG: the leak check would be vacuous"
    logged = "\n".join(record.getMessage() for record in records)
    leaked = [value[:12] + "…" for value in _watched_values(world) if value in logged]
    assert leaked == [], f"secrets or student names reached the logs: {leaked}"


def _client(server: SandboxServer, platform: str, *, retry: RetryPolicy = QUICK_RETRY,
            timeout_s: float = 5) -> RestClient:
    """A client for the district as its platform spec would build one, with a test retry policy."""
    base_url = server.base_url(platform, DISTRICT)
    if platform == "oneroster_rest":
        auth = OAuth2ClientCredentials(f"{base_url}/oauth/token", CREDENTIALS["client_id"],
                                       CREDENTIALS["client_secret"])
        paginator = OffsetPaginator(limit=PAGE_SIZE, total_header="X-Total-Count")
    else:
        auth = BearerAuth(CREDENTIALS["token"])
        paginator = CursorPaginator(cursor_param="starting_after", last_record_id="data.id")
    return RestClient(base_url, auth=auth, paginator=paginator, retry=retry, timeout_s=timeout_s,
                      platform=platform, district=DISTRICT)


def _params(platform: str, page_size: int = PAGE_SIZE) -> dict[str, str]:
    # OffsetPaginator sets its own limit; Clever's cursor paging takes the limit as a parameter.
    return {"limit": str(page_size)} if platform == "clever" else {}


def _pages(client: RestClient, platform: str, page_size: int = PAGE_SIZE, **params: str) -> list[Page]:
    users = USERS[platform]
    with client:
        return list(client.paginate(users.path, params={**_params(platform, page_size), **params},
                                    records_path=users.records_path))


def _ids(pages: list[Page], platform: str) -> list[str]:
    return [USERS[platform].record_id(record) for page in pages for record in page.records]


@pytest.fixture(scope="module")
def clean_pages(world: World) -> dict[str, list[Page]]:
    """Every platform's users paged from a sandbox without faults: the answer faults must not change."""
    with pytest.MonkeyPatch.context() as patch, SandboxServer(world, seed=SEED, today=TODAY) as server:
        patch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
        return {platform: _pages(_client(server, platform), platform) for platform in PLATFORMS}


def _clean_ids(clean_pages: dict[str, list[Page]], platform: str) -> set[str]:
    ids = _ids(clean_pages[platform], platform)
    assert len(ids) == len(set(ids)) > 900, "the clean listing itself is wrong"
    return set(ids)


# --- transient faults: the client converges to the clean listing ----------------------------


def test_oneroster_token_revoked_every_other_page_is_fetched_again_and_paging_completes(
    sandbox: Callable[..., SandboxServer], clean_pages: dict[str, list[Page]]
) -> None:
    server = sandbox(Fault("token_expiry", "oneroster_rest", every=2))

    ids = _ids(_pages(_client(server, "oneroster_rest"), "oneroster_rest"), "oneroster_rest")

    assert len(ids) == len(_clean_ids(clean_pages, "oneroster_rest"))
    assert set(ids) == _clean_ids(clean_pages, "oneroster_rest")
    token_requests = [r for r in server.request_log if r.path.endswith("/oauth/token")]
    assert len(token_requests) > 1, "the revoked token was never replaced"
    assert all(r.status == 200 for r in token_requests)
    assert any(r.status == 401 for r in server.request_log), "no page was refused: the fault did not bite"


def test_clever_rate_limit_storm_is_waited_out_and_the_listing_is_the_clean_one(
    sandbox: Callable[..., SandboxServer], clean_pages: dict[str, list[Page]]
) -> None:
    # Clever says when its window resets (X-RateLimit-Reset, epoch seconds): half a second on.
    server = sandbox(Fault("rate_limit_storm", "clever", every=3, count=1, params={"retry_after": 0.5}))

    ids = _ids(_pages(_client(server, "clever"), "clever", page_size=300), "clever")

    assert len(ids) == len(set(ids))
    assert set(ids) == _clean_ids(clean_pages, "clever")
    assert any(r.status == 429 for r in server.request_log), "no 429 was served: the fault did not bite"


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize(
    "fault_kind, params",
    [("truncated_page", {"variant": "short"}), ("truncated_page", {"variant": "content_length"}),
     ("duplicate_records", {"repeat": 2})],
    ids=["truncated-short", "truncated-content-length", "duplicate-records"],
)
def test_truncated_and_repeated_pages_lose_no_record(
    sandbox: Callable[..., SandboxServer], clean_pages: dict[str, list[Page]], platform: str, fault_kind: str,
    params: dict[str, object],
) -> None:
    server = sandbox(Fault(fault_kind, platform, every=2, params=params))

    ids = _ids(_pages(_client(server, platform), platform), platform)

    assert any(fault_kind in r.faults for r in server.request_log), "the fault never bit"
    clean = _clean_ids(clean_pages, platform)
    missing, unexpected = clean - set(ids), set(ids) - clean
    # OneRoster + duplicate_records fails here (library bug): OffsetPaginator.update_state advances the
    # offset by len(records), so a page of limit + 2 repeated records moves it 102 ahead and the two
    # records after the page are never asked for (offset=0, 100, 202, 302, 404, …).
    asked = [r.path for r in server.request_log if r.status == 200 and "offset=" in r.path]
    assert missing == set(), (
        f"{platform} with {fault_kind} {params}: {len(missing)} of {len(clean)} records never fetched "
        f"({len(ids)} received, {len(set(ids))} unique); pages asked for: {asked or 'cursor paging'}"
    )
    assert unexpected == set()


# --- lasting faults: a typed, one-line, secret-free error ------------------------------------


def _assert_operator_message(error: AdapterError, platform: str) -> str:
    message = str(error)
    assert "\n" not in message
    assert message.startswith(f"{platform}/{DISTRICT}: ")
    for secret in (CREDENTIALS["client_secret"], CREDENTIALS["token"], CREDENTIALS["client_id"]):
        assert secret not in message
        assert secret not in repr(error)
    return message


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_outage_ends_in_upstream_unavailable_naming_the_redacted_request(
    sandbox: Callable[..., SandboxServer], platform: str
) -> None:
    server = sandbox(Fault("server_error", "*", count=50))
    retry = RetryPolicy(max_attempts=3, max_elapsed_s=5, backoff_base_s=0.01, backoff_max_s=0.02, jitter=False)
    client = _client(server, platform, retry=retry)
    # A client may put a bearer token in the query (RFC 6750 §2.3): it must not reach the message.
    extra = {"access_token": CREDENTIALS['token']} if platform == "clever" else {}

    with pytest.raises(UpstreamUnavailable) as caught:
        _pages(client, platform, **extra)

    message = _assert_operator_message(caught.value, platform)
    users = USERS[platform]
    params = {"limit": PAGE_SIZE, "offset": 0} if platform == "oneroster_rest" else {**_params(platform), **extra}
    url = requests.Request("GET", f"{server.base_url(platform, DISTRICT)}{users.path}", params=params).prepare().url
    assert f"GET {redact_url(url)} " in message
    assert "after 3 attempts" in message
    assert "503" in message
    if extra:
        assert "access_token=***" in message
    data_requests = [r for r in server.request_log if r.path.startswith(("/v3.0", "/oneroster/" + DISTRICT + "/ims"))]
    assert [r.status for r in data_requests] == [503, 503, 503]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_answers_slower_than_the_timeout_end_in_upstream_unavailable(
    sandbox: Callable[..., SandboxServer], platform: str
) -> None:
    server = sandbox(Fault("slow", platform, params={"delay_s": 1.5}))
    retry = RetryPolicy(max_attempts=2, max_elapsed_s=3, backoff_base_s=0.01, backoff_max_s=0.02, jitter=False)
    client = _client(server, platform, retry=retry, timeout_s=0.5)

    with pytest.raises(UpstreamUnavailable) as caught:
        _pages(client, platform)

    message = _assert_operator_message(caught.value, platform)
    assert "Timeout after 2 attempts" in message
    assert caught.value.status is None


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("variant", ["cut", "html"])
def test_a_page_that_never_parses_ends_in_malformed_payload_carrying_the_raw_body(
    sandbox: Callable[..., SandboxServer], clean_pages: dict[str, list[Page]], platform: str, variant: str
) -> None:
    server = sandbox(Fault("malformed_json", platform, params={"variant": variant}))

    with pytest.raises(MalformedPayload) as caught:
        _pages(_client(server, platform), platform)

    error = caught.value
    clean_body = clean_pages[platform][0].body
    if variant == "cut":
        # The sandbox cuts the real first page in half: the exact bytes must come back.
        assert error.body == clean_body[: len(clean_body) // 2]
    else:
        assert error.body.lstrip().startswith(b"<html>") and b"502 Bad Gateway" in error.body
    assert error.page_index == 0
    message = _assert_operator_message(error, platform)
    assert "malformed payload" in message
    assert f"({len(error.body)} bytes)" in message
    # The body may hold student records; the message never carries any of it.
    assert error.body.decode(errors="replace")[40:80] not in message
    attempts = [r for r in server.request_log if "malformed_json" in r.faults]
    assert len(attempts) == QUICK_RETRY.max_attempts, "a malformed page is asked for again before giving up"
