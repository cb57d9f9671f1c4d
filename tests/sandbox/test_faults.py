"""Faults: the plan's rules, each kind seen from the client side, and convergence under them."""

import csv
import io
import time
import zipfile
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.faults import Fault, FaultInjector, FaultPlan, corrupt_file
from edassets.sandbox.server import SandboxServer
from tests.sandbox.conftest import (
    TIMEOUT,
    USERS,
    clever_get,
    clever_pages,
    oneroster_pages,
    oneroster_token,
    oneroster_url,
)

Start = Callable[..., SandboxServer]

# --- the plan -------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"kind": "meteor", "platform": "clever"}, "unknown fault kind"),
    ({"kind": "slow", "platform": "canvas"}, "cannot apply"),
    ({"kind": "token_expiry", "platform": "clever"}, "cannot apply"),  # Clever tokens cannot be refreshed
    ({"kind": "malformed_json", "platform": "nwea_map"}, "cannot apply"),
    ({"kind": "slow", "platform": "clever", "every": 2, "probability": 0.5}, "not both"),
    ({"kind": "slow", "platform": "clever", "every": 0}, "every"),
    ({"kind": "slow", "platform": "clever", "probability": 1.5}, "probability"),
    ({"kind": "slow", "platform": "clever", "count": 0}, "count"),
    ({"kind": "bad_records", "platform": "clever", "every": 2, "params": {"rate": 0.1}}, "every response"),
    ({"kind": "bad_records", "platform": "clever"}, "needs params"),
    ({"kind": "bad_records", "platform": "clever", "params": {"rate": 2}}, "rate"),
    ({"kind": "bad_records", "platform": "clever", "params": {"rate": 0.1, "kinds": ["typo"]}}, "kinds"),
    ({"kind": "server_error", "platform": "clever", "params": {"status": 418}}, "status"),
    ({"kind": "slow", "platform": "clever", "params": {"delay": 1}}, "does not take"),
    ({"kind": "renamed_field", "platform": "clever", "params": {"field": "name"}}, "renamed_to"),
])
def test_fault_rejects_what_it_cannot_do(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fault(**kwargs)


def test_fault_fills_defaults_and_stays_hashable() -> None:
    fault = Fault("rate_limit_storm", "*", every=3)
    assert fault.param("retry_after") == 1
    assert hash(fault) == hash(Fault("rate_limit_storm", "*", every=3))
    with pytest.raises(TypeError):
        fault.params["retry_after"] = 5  # type: ignore[index]


def test_every_n_th_request_opens_a_burst_of_count() -> None:
    injector = FaultInjector(FaultPlan((Fault("server_error", "clever", every=3, count=2),)))
    hits = [bool(injector.draw("clever").faults) for _ in range(9)]
    assert hits == [False, False, True, True, False, True, True, False, True]
    assert not injector.draw("oneroster_rest").faults  # another platform: not counted, not affected


def test_probability_draws_are_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        injector = FaultInjector(FaultPlan((Fault("slow", "*", probability=0.3),), seed=seed))
        return [bool(injector.draw("clever").faults) for _ in range(200)]

    assert pattern(5) == pattern(5)
    assert pattern(5) != pattern(6)
    assert 30 < sum(pattern(5)) < 90


def test_wildcard_and_persistent_faults() -> None:
    injector = FaultInjector(FaultPlan((
        Fault("token_expiry", "*"),  # only OneRoster REST has refreshable tokens
        Fault("renamed_field", "clever", params={"field": "name", "renamed_to": "full_name"}),
    )))
    assert [f.kind for f in injector.draw("oneroster_rest").faults] == ["token_expiry"]
    assert [f.kind for f in injector.draw("clever").faults] == ["renamed_field"]
    assert not injector.draw("nwea_map").faults


# --- transient faults, seen from the client -------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rate_limit_storm(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("rate_limit_storm", "*", every=2, params={"retry_after": 3}))
    headers = _bearer(oneroster_token(server))
    assert requests.get(oneroster_url(server, "orgs"), headers=headers, timeout=TIMEOUT).status_code == 200
    storm = requests.get(oneroster_url(server, "orgs"), headers=headers, timeout=TIMEOUT)
    assert storm.status_code == 429 and storm.headers["Retry-After"] == "3"

    assert clever_get(server, "/v3.0/users").status_code == 200
    before = time.time()
    clever = clever_get(server, "/v3.0/users")
    assert clever.status_code == 429
    assert before + 3 <= int(clever.headers["X-RateLimit-Reset"]) <= time.time() + 4
    assert clever.headers["X-RateLimit-Remaining"] == "0" and "X-RateLimit-Limit" in clever.headers

    drop = f"{server.url}/files/north/oneroster_csv.zip"
    assert requests.get(drop, timeout=TIMEOUT).status_code == 200
    assert requests.get(drop, timeout=TIMEOUT).headers["Retry-After"] == "3"
    assert [e.faults for e in server.request_log if e.status == 429] == [("rate_limit_storm",)] * 3


def test_token_expiry_mid_pagination(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("token_expiry", "oneroster_rest", every=2))
    token = oneroster_token(server)
    first = requests.get(oneroster_url(server, "users"), params={"limit": 5}, headers=_bearer(token), timeout=TIMEOUT)
    second = requests.get(first.links["next"]["url"], headers=_bearer(token), timeout=TIMEOUT)
    assert second.status_code == 200  # the triggering page is answered, then the token is revoked
    third = requests.get(second.links["next"]["url"], headers=_bearer(token), timeout=TIMEOUT)
    assert third.status_code == 401 and 'error="invalid_token"' in third.headers["WWW-Authenticate"]
    retried = requests.get(second.links["next"]["url"], headers=_bearer(oneroster_token(server)), timeout=TIMEOUT)
    assert retried.status_code == 200
    assert retried.json()["users"][0]["sourcedId"] == "north-user-010"


def test_server_error_burst(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("server_error", "clever", every=3, count=2, params={"status": 502}))
    statuses = [clever_get(server, "/v3.0/schools").status_code for _ in range(7)]
    assert statuses == [200, 200, 502, 502, 200, 502, 502]


def test_slow_answers_trip_client_timeouts(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("slow", "clever", every=1, params={"delay_s": 0.3}))
    with pytest.raises(requests.Timeout):
        clever_get(server, "/v3.0/schools", timeout=0.1)
    started = time.monotonic()
    assert clever_get(server, "/v3.0/schools", timeout=TIMEOUT).status_code == 200
    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize("variant", ["cut", "html"])
def test_malformed_json_is_a_200(start_sandbox: Start, variant: str) -> None:
    server = start_sandbox(Fault("malformed_json", "*", every=1, params={"variant": variant}))
    for response in (clever_get(server, "/v3.0/users"),
                     requests.get(oneroster_url(server, "users"), headers=_bearer(oneroster_token(server)),
                                  timeout=TIMEOUT)):
        assert response.status_code == 200
        with pytest.raises(requests.JSONDecodeError):
            response.json()
        assert (response.headers["Content-Type"] == "text/html") == (variant == "html")


def test_truncated_page_short_still_claims_more(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("truncated_page", "*", every=1))
    page = requests.get(oneroster_url(server, "users"), params={"limit": 10},
                        headers=_bearer(oneroster_token(server)), timeout=TIMEOUT)
    assert len(page.json()["users"]) == 5
    assert page.headers["X-Total-Count"] == str(USERS) and "offset=10" in page.links["next"]["url"]

    last = clever_get(server, "/v3.0/users?limit=30").json()  # the only page, truncated
    received = [r["data"]["id"] for r in last["data"]]
    next_uri = next(link["uri"] for link in last["links"] if link["rel"] == "next")
    assert len(received) == USERS // 2
    assert parse_qs(urlsplit(next_uri).query)["starting_after"] != [received[-1]]


def test_truncated_page_content_length_mismatch(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("truncated_page", "*", every=1, params={"variant": "content_length"}))
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        clever_get(server, "/v3.0/users")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        requests.get(f"{server.url}/files/north/nwea_map.zip", timeout=TIMEOUT)


def test_duplicate_records_repeat_the_previous_page(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("duplicate_records", "*", every=1, params={"repeat": 2}))
    pages = oneroster_pages(server, "users", oneroster_token(server), limit=5)
    ids = [[u["sourcedId"] for u in p.json()["users"]] for p in pages]
    assert ids[0] == [f"north-user-{i:03d}" for i in range(5)]
    assert ids[1][:2] == ids[0][-2:] and len(ids[1]) == 7
    assert {i for page in ids for i in page} == {f"north-user-{i:03d}" for i in range(USERS)}

    clever = [[r["data"]["id"] for r in p.json()["data"]] for p in clever_pages(server, "/v3.0/users?limit=5")]
    assert clever[1][:2] == clever[0][-2:]


# --- persistent faults ----------------------------------------------------------------------


def test_renamed_field(start_sandbox: Start) -> None:
    server = start_sandbox(
        Fault("renamed_field", "oneroster_rest", params={"field": "givenName", "renamed_to": "firstName",
                                                         "collection": "users"}),
        Fault("renamed_field", "clever", params={"field": "name.first", "renamed_to": "given"}),
    )
    users = requests.get(oneroster_url(server, "users"), headers=_bearer(oneroster_token(server)),
                         timeout=TIMEOUT).json()["users"]
    assert all("givenName" not in u and u["firstName"].startswith("Given") for u in users)
    assert list(users[0])[:7] == ["status", "dateLastModified", "sourcedId", "enabledUser", "username", "firstName",
                                  "familyName"]  # renamed in place
    clever = [r["data"] for r in clever_get(server, "/v3.0/users").json()["data"]]
    assert all(set(u["name"]) == {"given", "middle", "last"} for u in clever)
    assert server.request_log[-1].faults == ("renamed_field",)


def _oneroster_all(server: SandboxServer, collection: str, limit: int) -> list[dict[str, Any]]:
    token = oneroster_token(server)
    return [r for p in oneroster_pages(server, collection, token, limit=limit) for r in p.json()[collection]]


def test_bad_records_are_stable_and_reported(start_sandbox: Start) -> None:
    fault = Fault("bad_records", "*", params={"rate": 0.5})
    small, large, clean = start_sandbox(fault), start_sandbox(fault), start_sandbox()
    collections = ("users", "demographics", "enrollments")
    for collection in collections:
        assert _oneroster_all(small, collection, 3) == _oneroster_all(large, collection, 50)
    small_clever = [r for p in clever_pages(small, "/v3.0/users?limit=4") for r in p.json()["data"]]
    assert small_clever == clever_get(large, "/v3.0/users?limit=50").json()["data"]
    truth = small.injected_bad_records()
    assert truth.equals(large.injected_bad_records())

    valid_users = {u["sourcedId"] for u in _oneroster_all(clean, "users", 100)}
    corrupted: set[tuple[str, str, str]] = set()
    for collection in collections:
        for served, original in zip(_oneroster_all(small, collection, 100), _oneroster_all(clean, collection, 100),
                                    strict=True):
            if served == original:
                continue
            if served["sourcedId"] == "":
                kind = "missing_id"
            elif served.get("grades") == ["14"]:
                kind = "out_of_range_score"
            elif served.get("birthDate", "").startswith("2115-"):
                kind = "future_date"
            else:
                reference = served.get("user") or served["orgs"][0]
                assert reference["sourcedId"] not in valid_users and reference["href"].endswith(reference["sourcedId"])
                kind = "dangling_reference"
            corrupted.add((collection, original["sourcedId"], kind))
    oneroster_truth = truth[truth.platform == "oneroster_rest"]
    reported = zip(oneroster_truth.collection, oneroster_truth.record_id, oneroster_truth.kind, strict=True)
    assert set(reported) == corrupted
    assert set(truth.kind) == {"missing_id", "out_of_range_score", "future_date", "dangling_reference"}
    assert set(truth.district_id) == {"north"}
    assert 0.25 < len(corrupted) / (USERS + 20 + 20) < 0.75

    clean_clever = clever_get(clean, "/v3.0/users?limit=50").json()["data"]
    changed = {c["data"]["id"] for s, c in zip(small_clever, clean_clever, strict=True) if s != c}
    clever_truth = truth[truth.platform == "clever"]
    assert set(clever_truth.record_id) == changed
    assert set(clever_truth.kind) == {"missing_id", "out_of_range_score", "future_date", "dangling_reference"}


def test_bad_records_can_be_limited_to_collections(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("bad_records", "oneroster_rest",
                                 params={"rate": 1.0, "kinds": ["missing_id"], "collections": ["enrollments"]}))
    assert all(e["sourcedId"] == "" for e in _oneroster_all(server, "enrollments", 100))
    assert all(u["sourcedId"] for u in _oneroster_all(server, "users", 100))
    assert set(server.injected_bad_records().collection) == {"enrollments"}


# --- a correct client converges whatever the transient faults -------------------------------


def _robust_oneroster(server: SandboxServer, collection: str, limit: int) -> dict[str, dict[str, Any]]:
    """What a correct OneRoster client does: retry 429/5xx/garbage/short pages, re-auth on 401, dedupe."""
    token, seen = oneroster_token(server), dict[str, dict[str, Any]]()
    url: str | None = f"{oneroster_url(server, collection)}?limit={limit}&offset=0"
    while url is not None:
        for _ in range(40):
            try:
                response = requests.get(url, headers=_bearer(token), timeout=0.15)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                continue
            if response.status_code == 401:
                token = oneroster_token(server)
                continue
            if response.status_code != 200:
                continue  # 429 (a real client waits Retry-After) or 5xx
            try:
                records = response.json()[collection]
            except ValueError:
                continue
            offset = int(parse_qs(urlsplit(url).query)["offset"][0])
            fresh = [r for r in records if r["sourcedId"] not in seen]
            if len(fresh) < min(limit, int(response.headers["X-Total-Count"]) - offset):
                continue  # truncated: fewer new records than the page must hold
            seen.update((r["sourcedId"], r) for r in records)
            url = response.links.get("next", {}).get("url")
            break
        else:
            raise AssertionError(f"no clean answer for {url}")
    return seen


def _robust_clever(server: SandboxServer, uri: str) -> dict[str, dict[str, Any]]:
    """What a correct Clever client does: retry, and check `next` starts after the last id received."""
    seen: dict[str, dict[str, Any]] = {}
    next_uri: str | None = uri
    while next_uri is not None:
        for _ in range(40):
            try:
                response = clever_get(server, next_uri, timeout=0.15)
            except (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                continue
            if response.status_code == 429:
                time.sleep(min(max(int(response.headers["X-RateLimit-Reset"]) - time.time(), 0), 0.01))
                continue
            if response.status_code != 200:
                continue
            try:
                document = response.json()
            except ValueError:
                continue
            records = [r["data"] for r in document["data"]]
            follow = [link["uri"] for link in document["links"] if link["rel"] == "next"]
            if follow and (not records or parse_qs(urlsplit(follow[0]).query)["starting_after"] != [records[-1]["id"]]):
                continue  # truncated: the next page would not start where this one stopped
            seen.update((r["id"], r) for r in records)
            next_uri = follow[0] if follow else None
            break
        else:
            raise AssertionError(f"no clean answer for {next_uri}")
    return seen


def test_transient_faults_never_change_what_a_correct_client_gets(start_sandbox: Start) -> None:
    faulty = start_sandbox(
        Fault("rate_limit_storm", "*", every=5, params={"retry_after": 0}),
        Fault("server_error", "*", every=7, count=2),
        Fault("malformed_json", "*", probability=0.15),
        Fault("malformed_json", "*", every=13, params={"variant": "html"}),
        Fault("truncated_page", "*", every=4),
        Fault("truncated_page", "*", every=9, params={"variant": "content_length"}),
        Fault("duplicate_records", "*", every=3),
        Fault("token_expiry", "*", every=6),
        Fault("slow", "*", every=11, params={"delay_s": 0.2}),
        today=date(2026, 1, 12),
    )
    clean = start_sandbox(today=date(2026, 1, 12))
    for collection in ("users", "enrollments"):
        expected = {r["sourcedId"]: r for r in _oneroster_all(clean, collection, 100)}
        assert _robust_oneroster(faulty, collection, 4) == expected
    expected_clever = {r["data"]["id"]: r["data"] for r in clever_get(clean, "/v3.0/users?limit=100").json()["data"]}
    assert _robust_clever(faulty, "/v3.0/users?limit=4") == expected_clever
    applied = {kind for entry in faulty.request_log for kind in entry.faults}
    assert applied == {"rate_limit_storm", "server_error", "malformed_json", "truncated_page", "duplicate_records",
                       "token_expiry", "slow"}


def test_file_drop_transport_faults(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("server_error", "oneroster_csv", every=2), Fault("truncated_page", "*", every=3))
    url = f"{server.url}/files/north/oneroster_csv.zip"
    outcomes: list[int | str] = []
    for _ in range(4):
        try:
            response = requests.get(url, timeout=TIMEOUT)
        except (requests.exceptions.ChunkedEncodingError, requests.ConnectionError):
            outcomes.append("cut")
            continue
        outcomes.append(response.status_code)
        if response.ok:
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                assert archive.namelist() == ["manifest.csv", "users.csv"]
    assert outcomes == [200, 503, "cut", 503]


# --- bad records in file drops --------------------------------------------------------------


def _drop_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode())))


def test_bad_records_in_a_file_drop_rewrite_only_the_rows_they_pick() -> None:
    emulator = EMULATORS["nwea_map"]
    header = ",".join(["StudentID", "TestID", "TestRITScore", "TestStartDate", "Course"])
    rows = [f'"{600000 + i}","71{i:07d}","{180 + i % 50}","09/{1 + i % 28:02d}/2025","Reading"' for i in range(400)]
    data = "\n".join([header, *rows]).encode() + b"\n"
    fault = Fault("bad_records", "nwea_map", params={"rate": 0.05})

    served, injected = corrupt_file(data, emulator=emulator, name="AssessmentResults.csv", fault=fault, seed=5)
    again, injected_again = corrupt_file(data, emulator=emulator, name="AssessmentResults.csv", fault=fault, seed=5)

    assert (served, injected) == (again, injected_again)  # the same rows, broken the same way
    assert 5 <= len(injected) <= 40
    before, after = data.split(b"\n"), served.split(b"\n")
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert len(changed) == len(injected)  # every other line keeps its bytes
    assert all(after[i].startswith(b'"') for i in changed)  # NWEA quotes every value, rewritten rows too
    by_id = {f"{row[0]}:{row[1]}": row for row in _drop_rows(data)[1:]}
    for record in injected:
        original = by_id[record.record_id]
        assert record.collection == "AssessmentResults.csv"
        if record.kind in ("missing_id", "dangling_reference"):
            assert record.served_id != record.record_id  # the student id is part of the result id
        else:
            assert record.served_id == record.record_id and original[0] + ":" + original[1] == record.record_id


def test_files_without_record_keys_and_filtered_collections_are_left_alone() -> None:
    data = b"propertyName,value\nmanifest.version,1.0\n"
    everything = Fault("bad_records", "*", params={"rate": 1.0})
    assert corrupt_file(data, emulator=EMULATORS["oneroster_csv"], name="manifest.csv", fault=everything, seed=5) == (
        data, [])
    users = b"sourcedId,grades\nu1,05\n"
    only_enrollments = Fault("bad_records", "*", params={"rate": 1.0, "collections": ["enrollments.csv"]})
    assert corrupt_file(users, emulator=EMULATORS["oneroster_csv"], name="users.csv", fault=only_enrollments,
                        seed=5) == (users, [])


def test_the_server_hands_out_and_reports_corrupted_drops(start_sandbox: Start) -> None:
    server = start_sandbox(Fault("bad_records", "oneroster_csv", params={"rate": 1.0, "kinds": ["missing_id"]}))

    response = requests.get(server.drop_url("oneroster_csv", "north"), timeout=TIMEOUT)

    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.read("users.csv") == b"sourcedId,givenName\n,Given0\n"
        assert archive.read("manifest.csv").startswith(b"propertyName,value\n")  # no record keys: untouched
    assert server.drop_files("oneroster_csv", "north")["users.csv"] == b"sourcedId,givenName\n,Given0\n"
    injected = server.injected_bad_records()
    assert injected[["platform", "collection", "record_id", "served_id", "kind"]].values.tolist() == [
        ["oneroster_csv", "users.csv", "north-user-000", "", "missing_id"]]
    assert "bad_records" in server.request_log[-1].faults
