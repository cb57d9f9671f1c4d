"""The sandbox over real sockets: OneRoster 1.1 REST, Clever v3.0, file drops, credentials."""

import io
import re
import time
import zipfile
from collections.abc import Callable

import pytest
import requests

from edassets.sandbox.credentials import env_var_name, env_vars
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.server import SandboxServer
from tests.sandbox.conftest import (
    DAY1,
    DAY2,
    SEED,
    TIMEOUT,
    USERS,
    FakeDistrict,
    changed_on_day2,
    clever_get,
    clever_pages,
    credentials,
    oneroster_pages,
    oneroster_token,
    oneroster_url,
)

# --- credentials ----------------------------------------------------------------------------


def test_credentials_are_deterministic_hex_and_distinct() -> None:
    north = credentials("north", 11)
    assert north == credentials("north", 11)
    assert north != credentials("north", 12)
    assert north != credentials("south-isd", 11)
    client_id, secret, token = north["client_id"], north["client_secret"], north["token"]
    assert re.fullmatch(r"[0-9a-f]{32}", client_id)
    assert re.fullmatch(r"[0-9a-f]{64}", secret)
    assert re.fullmatch(r"[0-9a-f]{40}", token)


def test_env_vars_name_every_credential_of_every_district() -> None:
    variables = env_vars(["north", FakeDistrict("south-isd")], 11)
    south = credentials("south-isd", 11)
    assert variables["SANDBOX_SOUTH_ISD_ONEROSTER_REST_CLIENT_ID"] == south["client_id"]
    assert variables["SANDBOX_SOUTH_ISD_ONEROSTER_REST_CLIENT_SECRET"] == south["client_secret"]
    assert variables["SANDBOX_SOUTH_ISD_CLEVER_TOKEN"] == south["token"]
    assert env_var_name("north", "clever", "token") in variables
    # One variable per credential each emulator hands out, per district: every platform registered counts.
    assert len(variables) == 2 * sum(len(emulator.credentials) for emulator in EMULATORS.values())


# --- lifecycle ------------------------------------------------------------------------------


def test_start_and_stop_on_an_ephemeral_port(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox()
    port = int(server.url.rsplit(":", 1)[1])
    assert port > 0
    assert requests.get(f"{server.url}/nowhere", timeout=TIMEOUT).status_code == 404
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.url}/nowhere", timeout=TIMEOUT)


def test_base_urls(sandbox: SandboxServer) -> None:
    assert sandbox.base_url("oneroster_rest", "north") == f"{sandbox.url}/oneroster/north"
    assert sandbox.base_url("clever", "north") == sandbox.base_url("clever", "south-isd") == sandbox.url
    drops = f"{sandbox.url}/files/north"
    assert sandbox.base_url("oneroster_csv", "north") == sandbox.base_url("nwea_map", "north") == drops
    with pytest.raises(ValueError, match="district"):
        sandbox.base_url("clever", "nowhere")
    with pytest.raises(ValueError, match="platform"):
        sandbox.base_url("canvas", "north")


# --- OneRoster auth -------------------------------------------------------------------------


@pytest.mark.parametrize("basic", [True, False], ids=["basic", "form-body"])
def test_oneroster_client_credentials(sandbox: SandboxServer, basic: bool) -> None:
    creds = credentials("north")
    url = f"{sandbox.base_url('oneroster_rest', 'north')}/oauth/token"
    form = {"grant_type": "client_credentials"}
    if basic:
        response = requests.post(url, data=form, auth=(creds["client_id"], creds["client_secret"]),
                                 timeout=TIMEOUT)
    else:
        response = requests.post(url, timeout=TIMEOUT, data={**form, "client_id": creds["client_id"],
                                                             "client_secret": creds['client_secret']})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    document = response.json()
    assert document["token_type"] == "bearer"
    assert document["expires_in"] == 3600
    assert "roster-core.readonly" in document["scope"]
    page = requests.get(oneroster_url(sandbox, "orgs"), headers={"Authorization": f"Bearer {document['access_token']}"},
                        timeout=TIMEOUT)
    assert page.status_code == 200
    assert len(page.json()["orgs"]) == 2


def test_oneroster_token_endpoint_rejects_bad_clients(sandbox: SandboxServer) -> None:
    north, south = credentials("north"), credentials("south-isd")
    url = f"{sandbox.base_url('oneroster_rest', 'north')}/oauth/token"
    grant = {"grant_type": "client_credentials"}
    wrong = requests.post(url, data=grant, auth=(north["client_id"], "0" * 64), timeout=TIMEOUT)
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic")
    other_district = requests.post(url, data=grant, auth=(south["client_id"], south["client_secret"]),
                                   timeout=TIMEOUT)
    assert other_district.status_code == 401
    both = requests.post(url, data={**grant, "client_id": north['client_id']},
                         auth=(north["client_id"], north["client_secret"]), timeout=TIMEOUT)
    assert both.status_code == 400
    password = requests.post(url, data={"grant_type": "password"},
                             auth=(north["client_id"], north["client_secret"]), timeout=TIMEOUT)
    assert password.json()["error"] == "unsupported_grant_type"
    assert requests.get(url, timeout=TIMEOUT).status_code == 405


def test_oneroster_401_without_wrong_or_foreign_token(sandbox: SandboxServer) -> None:
    url = oneroster_url(sandbox, "users")
    missing = requests.get(url, timeout=TIMEOUT)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"] == 'Bearer realm="oneroster"'
    assert missing.json()["imsx_codeMajor"] == "failure"
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT)
    assert wrong.status_code == 401
    assert 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    south_token = oneroster_token(sandbox, "south-isd")
    foreign = requests.get(url, headers={"Authorization": f"Bearer {south_token}"}, timeout=TIMEOUT)
    assert foreign.status_code == 401


def test_oneroster_token_expires(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox(emulator_options={"oneroster_rest": {"token_ttl_s": 0.3}})
    token = oneroster_token(server)
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(oneroster_url(server, "orgs"), headers=headers, timeout=TIMEOUT).status_code == 200
    time.sleep(0.4)
    expired = requests.get(oneroster_url(server, "orgs"), headers=headers, timeout=TIMEOUT)
    assert expired.status_code == 401
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert "expired" in expired.headers["WWW-Authenticate"]


# --- OneRoster paging and filtering ---------------------------------------------------------


def test_oneroster_limit_offset_paging_follows_link_next(sandbox: SandboxServer) -> None:
    token = oneroster_token(sandbox)
    pages = oneroster_pages(sandbox, "users", token, limit=5)
    assert len(pages) == 5  # 23 users by 5
    assert all(p.status_code == 200 and p.headers["X-Total-Count"] == str(USERS) for p in pages)
    ids = [u["sourcedId"] for p in pages for u in p.json()["users"]]
    assert ids == [f"north-user-{i:03d}" for i in range(USERS)]
    links = pages[1].links
    assert links["first"]["url"].startswith(sandbox.url) and "offset=0" in links["first"]["url"]
    assert "offset=0" in links["prev"]["url"]
    assert "offset=10" in links["next"]["url"]
    assert "offset=20" in links["last"]["url"]
    assert "next" not in pages[-1].links and "prev" not in pages[0].links


def test_oneroster_default_and_maximum_limit(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {oneroster_token(sandbox)}"}
    default = requests.get(oneroster_url(sandbox, "users"), headers=headers, timeout=TIMEOUT)
    assert len(default.json()["users"]) == USERS
    assert "limit=100" in default.links["first"]["url"]
    capped = requests.get(oneroster_url(sandbox, "users"), params={"limit": 99999}, headers=headers, timeout=TIMEOUT)
    assert "limit=5000" in capped.links["first"]["url"]
    for bad in ({"limit": 0}, {"limit": "ten"}, {"offset": -1}, {"sort": "nope"}, {"orderBy": "up"}):
        response = requests.get(oneroster_url(sandbox, "users"), params=bad, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 400, bad


def test_oneroster_sort(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {oneroster_token(sandbox)}"}
    response = requests.get(oneroster_url(sandbox, "users"), params={"sort": "sourcedId", "orderBy": "desc"},
                            headers=headers, timeout=TIMEOUT)
    ids = [u["sourcedId"] for u in response.json()["users"]]
    assert ids == sorted(ids, reverse=True)


def test_oneroster_delta_filter_after_set_today(sandbox: SandboxServer) -> None:
    token = oneroster_token(sandbox)
    sync1 = [u for p in oneroster_pages(sandbox, "users", token, limit=10) for u in p.json()["users"]]
    assert len(sync1) == USERS
    cursor = max(u["dateLastModified"] for u in sync1)

    sandbox.set_today(DAY2)
    pages = oneroster_pages(sandbox, "users", token, limit=4, filter=f"dateLastModified>'{cursor}'")
    delta = [u for p in pages for u in p.json()["users"]]
    assert {u["sourcedId"] for u in delta} == {f"north-user-{i:03d}" for i in range(USERS) if changed_on_day2(i)}
    assert pages[0].headers["X-Total-Count"] == str(len(delta))
    assert "filter=dateLastModified" in pages[0].links["next"]["url"]  # paging keeps the filter
    assert {u["status"] for u in delta} == {"active", "tobedeleted"}

    # The brief's cursor form (no milliseconds) compares as an instant, and >= includes it.
    at = requests.get(oneroster_url(sandbox, "users"), params={"filter": "dateLastModified>='2026-01-12T10:00:00Z'"},
                      headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    assert [u["sourcedId"] for u in at.json()["users"]] == ["north-user-007"]


def test_oneroster_two_predicate_filter(sandbox: SandboxServer) -> None:
    response = requests.get(oneroster_url(sandbox, "users"), params={"filter": "role='teacher' AND givenName~'22'"},
                            headers={"Authorization": f"Bearer {oneroster_token(sandbox)}"}, timeout=TIMEOUT)
    assert [u["sourcedId"] for u in response.json()["users"]] == ["north-user-022"]


@pytest.mark.parametrize("bad_filter", [
    "dateLastModified>2026-01-12",  # value not quoted
    "dateLastModified=>'2026-01-12T00:00:00Z'",  # no such operator
    "role='student' AND role='teacher' AND role='aide'",  # more than two predicates
    "role='student' and role='teacher'",  # logical operators are upper case
    "dateLastModified>'yesterday'",  # not a date-time
    "shoeSize>'3'",  # no such field
])
def test_oneroster_malformed_filter_is_400(sandbox: SandboxServer, bad_filter: str) -> None:
    response = requests.get(oneroster_url(sandbox, "users"), params={"filter": bad_filter},
                            headers={"Authorization": f"Bearer {oneroster_token(sandbox)}"}, timeout=TIMEOUT)
    assert response.status_code == 400
    status = response.json()
    assert status["imsx_codeMajor"] == "failure"
    assert status["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "invalid_filter_field"


def test_oneroster_unknown_collection_and_district(sandbox: SandboxServer) -> None:
    headers = {"Authorization": f"Bearer {oneroster_token(sandbox)}"}
    assert requests.get(oneroster_url(sandbox, "lineItems"), headers=headers, timeout=TIMEOUT).status_code == 404
    elsewhere = f"{sandbox.url}/oneroster/nowhere/ims/oneroster/v1p1/users"
    assert requests.get(elsewhere, headers=headers, timeout=TIMEOUT).status_code == 404


# --- Clever ---------------------------------------------------------------------------------


def test_clever_token_chooses_the_district(sandbox: SandboxServer) -> None:
    north = clever_get(sandbox, "/v3.0/districts", "north").json()
    south = clever_get(sandbox, "/v3.0/districts", "south-isd").json()
    assert north["data"][0]["data"]["name"] == "north"
    assert south["data"][0]["data"]["name"] == "south-isd"
    assert north["data"][0]["uri"] == f"/v3.0/districts/{north['data'][0]['data']['id']}"
    unknown = requests.get(f"{sandbox.url}/v3.0/users", headers={"Authorization": "Bearer nope"}, timeout=TIMEOUT)
    assert unknown.status_code == 401
    assert requests.get(f"{sandbox.url}/v3.0/users", timeout=TIMEOUT).status_code == 401
    prefixed = requests.get(f"{sandbox.url}/clever/v3.0/districts", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {credentials('north')['token']}"})
    assert prefixed.json() == north


def test_clever_starting_after_paging_until_no_next(sandbox: SandboxServer) -> None:
    pages = clever_pages(sandbox, "/v3.0/users?limit=6")
    assert [len(p.json()["data"]) for p in pages] == [6, 6, 6, 5]
    ids = [r["data"]["id"] for p in pages for r in p.json()["data"]]
    assert len(ids) == USERS and ids == sorted(ids)
    first_links = {link["rel"]: link["uri"] for link in pages[0].json()["links"]}
    assert first_links["self"] == "/v3.0/users?limit=6"
    assert first_links["next"] == f"/v3.0/users?limit=6&starting_after={ids[5]}"


def test_clever_role_filter(sandbox: SandboxServer) -> None:
    teachers = clever_pages(sandbox, "/v3.0/users?role=teacher&limit=2")
    records = [r["data"] for p in teachers for r in p.json()["data"]]
    assert len(records) == 3 and all("teacher" in r["roles"] for r in records)
    assert "role=teacher" in teachers[0].json()["links"][1]["uri"]
    students = clever_get(sandbox, "/v3.0/users?role=student").json()["data"]
    assert len(students) == 20
    assert clever_get(sandbox, "/v3.0/users?role=janitor").status_code == 400


def test_clever_limits(sandbox: SandboxServer) -> None:
    assert clever_get(sandbox, "/v3.0/users?limit=10000").status_code == 200
    too_large = clever_get(sandbox, "/v3.0/users?limit=10001")
    assert too_large.status_code == 413
    assert clever_get(sandbox, "/v3.0/users?limit=0").status_code == 400
    assert clever_get(sandbox, "/v3.0/users?ending_before=abc").status_code == 501
    assert clever_get(sandbox, "/v3.0/events").status_code == 404


def test_clever_rate_limit_per_token(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox(emulator_options={"clever": {"rate_limit": 3}})
    # 10 requests: even if a minute boundary splits them, one window sees more than 3.
    north = [clever_get(server, "/v3.0/schools", "north") for _ in range(10)]
    limited = [r for r in north if r.status_code == 429]
    assert limited
    reset = int(limited[0].headers["X-RateLimit-Reset"])
    assert time.time() < reset <= time.time() + 61
    assert limited[0].headers["X-RateLimit-Limit"] == "3"
    assert limited[0].headers["X-RateLimit-Remaining"] == "0"
    assert clever_get(server, "/v3.0/schools", "south-isd").status_code == 200  # another token, another budget


# --- file drops -----------------------------------------------------------------------------


def test_file_drops_are_flat_zips_stable_per_day(sandbox: SandboxServer) -> None:
    url = f"{sandbox.base_url('oneroster_csv', 'north')}/oneroster_csv.zip"
    first = requests.get(url, timeout=TIMEOUT)
    assert first.status_code == 200 and first.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
        assert archive.namelist() == ["manifest.csv", "users.csv"]
        assert archive.read("users.csv") == b"sourcedId,givenName\nnorth-user-000,Given0\n"
    assert requests.get(url, timeout=TIMEOUT).content == first.content
    nwea = requests.get(f"{sandbox.base_url('nwea_map', 'north')}/nwea_map.zip", timeout=TIMEOUT)
    with zipfile.ZipFile(io.BytesIO(nwea.content)) as archive:
        assert str(DAY1) in archive.read("AssessmentResults.csv").decode()
    sandbox.set_today(DAY2)
    later = requests.get(f"{sandbox.url}/files/north/nwea_map.zip", timeout=TIMEOUT)
    with zipfile.ZipFile(io.BytesIO(later.content)) as archive:
        assert str(DAY2) in archive.read("AssessmentResults.csv").decode()
    assert requests.get(f"{sandbox.url}/files/nowhere/oneroster_csv.zip", timeout=TIMEOUT).status_code == 404


# --- the request log ------------------------------------------------------------------------


def test_request_log_holds_no_secret(sandbox: SandboxServer) -> None:
    north = credentials("north")
    token = oneroster_token(sandbox, basic=True)
    oneroster_token(sandbox, basic=False)
    requests.get(oneroster_url(sandbox, "users"), headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT)
    requests.get(oneroster_url(sandbox, "users"), params={"access_token": token}, timeout=TIMEOUT)
    clever_get(sandbox, "/v3.0/users")
    logged = repr(sandbox.request_log)
    assert len(sandbox.request_log) == 5
    for secret in (north["client_secret"], north["token"], token):
        assert secret not in logged
    assert [(e.method, e.status, e.platform) for e in sandbox.request_log][-3:] == [
        ("GET", 200, "oneroster_rest"), ("GET", 401, "oneroster_rest"), ("GET", 200, "clever")]
    assert sandbox.request_log[-1].district_id == "north"
    assert sandbox.request_log[-2].path.endswith("access_token=REDACTED")


def test_credentials_match_the_seed_the_server_was_given(start_sandbox: Callable[..., SandboxServer]) -> None:
    server = start_sandbox()
    assert clever_get(server, "/v3.0/districts").status_code == 200  # conftest derives with SEED
    other = credentials("north", SEED + 1)
    response = requests.get(f"{server.url}/v3.0/districts", timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {other['token']}"})
    assert response.status_code == 401


def test_a_read_only_api_route_answers_405_to_anything_but_get(sandbox: SandboxServer) -> None:
    refused = requests.post(f"{sandbox.url}/v3.0/users", timeout=TIMEOUT)

    assert refused.status_code == 405 and refused.headers["Allow"] == "GET"
    assert sandbox.request_log[-1].platform == "clever"
