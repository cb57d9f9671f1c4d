"""A tiny fake world served through the renderers seam, and helpers to talk to the sandbox.

The records have the wire shape `edassets.sandbox.render` produces (K12_FORMATS §1.1 and
§1.2) but are few and hand-made, so the server is tested on its own. Between DAY1 and
DAY2 some OneRoster users change and one is deleted, which is what a delta sync sees.
"""

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
import requests

from edassets.sandbox.credentials import sandbox_credentials
from edassets.sandbox.faults import Fault, FaultPlan
from edassets.sandbox.server import SandboxServer

DAY1, DAY2 = date(2026, 1, 5), date(2026, 1, 12)
DISTRICTS = ("north", "south-isd")
USERS = 23  # students 0..19, teachers 20..22
SEED = 11
TIMEOUT = 5


@dataclass(frozen=True)
class FakeDistrict:
    district_id: str


@dataclass(frozen=True)
class FakeOptions:
    districts: tuple[FakeDistrict, ...]


@dataclass(frozen=True)
class FakeState:
    district_id: str
    as_of: date


class FakeWorld:
    """Two districts; a state is just (district, day): the fake renderers do the rest."""

    options = FakeOptions(tuple(FakeDistrict(d) for d in DISTRICTS))

    def state(self, district_id: str, as_of: date) -> FakeState:
        return FakeState(district_id, as_of)


def _ref(kind: str, sourced_id: str) -> dict[str, str]:
    return {"href": f"https://sis.example.org/ims/oneroster/v1p1/{kind}s/{sourced_id}", "sourcedId": sourced_id,
            "type": kind}


def changed_on_day2(i: int) -> bool:
    """Users whose record changes between DAY1 and DAY2 (user 7 is deleted)."""
    return i % 5 == 0 or i == 7


def oneroster_records(state: FakeState, collection: str) -> list[dict[str, Any]]:
    d, later = state.district_id, state.as_of >= DAY2
    base = {"status": "active", "dateLastModified": "2026-01-05T08:00:00.000Z"}
    school = f"{d}-school"
    if collection == "orgs":
        return [{**base, "sourcedId": f"{d}-district", "name": d, "type": "district", "parent": None},
                {**base, "sourcedId": school, "name": "School", "type": "school",
                 "parent": _ref("org", f"{d}-district")}]
    if collection == "users":
        users = []
        for i in range(USERS):
            user = {**base, "sourcedId": f"{d}-user-{i:03d}", "enabledUser": True, "username": f"u{i}",
                    "givenName": f"Given{i}", "familyName": f"Family{i}", "role": "student" if i < 20 else "teacher",
                    "identifier": str(600000 + i), "email": f"u{i}@example.org",
                    "grades": ["05"] if i < 20 else [], "orgs": [_ref("org", school)]}
            if later and i == 7:
                user.update(status="tobedeleted", dateLastModified="2026-01-12T10:00:00.000Z")
            elif later and changed_on_day2(i):
                user.update(givenName=f"Renamed{i}", dateLastModified="2026-01-12T09:30:00.000Z")
            users.append(user)
        return users
    if collection == "enrollments":
        return [{**base, "sourcedId": f"{d}-enr-{i:03d}", "user": _ref("user", f"{d}-user-{i:03d}"),
                 "class": _ref("class", f"{d}-class"), "school": _ref("org", school), "role": "student",
                 "primary": False, "beginDate": "2025-08-20", "endDate": "2026-06-10"} for i in range(20)]
    if collection == "demographics":
        return [{**base, "sourcedId": f"{d}-user-{i:03d}", "birthDate": f"2015-02-{i + 1:02d}", "sex": "female"}
                for i in range(20)]
    if collection == "classes":
        return [{**base, "sourcedId": f"{d}-class", "title": "Math 5", "course": _ref("course", f"{d}-course"),
                 "school": _ref("org", school), "terms": [_ref("academicSession", f"{d}-year")]}]
    if collection == "courses":
        return [{**base, "sourcedId": f"{d}-course", "title": "Math", "org": _ref("org", school)}]
    return [{**base, "sourcedId": f"{d}-year", "title": "2025-2026", "type": "schoolYear", "startDate": "2025-08-01",
             "endDate": "2026-06-30", "parent": None, "schoolYear": "2026"}]


def clever_id(district: str, kind: str, i: int) -> str:
    """24-hex ids, ascending with i within a kind (Clever ObjectIds sort by creation)."""
    prefix = hashlib.sha256(f"{district}/{kind}".encode()).hexdigest()[:8]
    return f"{prefix}{i:016x}"


def clever_records(state: FakeState, collection: str) -> list[dict[str, Any]]:
    d = state.district_id
    district, school = clever_id(d, "district", 0), clever_id(d, "school", 0)
    if collection == "users":
        users = []
        for i in range(USERS):
            role = ({"student": {"grade": "5", "dob": f"2/{i + 1}/2015", "school": school, "sis_id": str(600000 + i)}}
                    if i < 20 else {"teacher": {"school": school, "sis_id": str(700000 + i)}})
            users.append({"id": clever_id(d, "user", i), "district": district, "email": f"u{i}@example.org",
                          "name": {"first": f"Given{i}", "middle": "", "last": f"Family{i}"}, "roles": role})
        return users
    if collection == "sections":
        return [{"id": clever_id(d, "section", i), "district": district, "school": school,
                 "course": clever_id(d, "course", 0), "name": f"Section {i}",
                 "students": [clever_id(d, "user", i)], "teacher": clever_id(d, "user", 20)} for i in range(5)]
    if collection == "districts":
        return [{"id": district, "name": d}]
    if collection == "schools":
        return [{"id": school, "district": district, "name": "School"}]
    if collection == "courses":
        return [{"id": clever_id(d, "course", 0), "district": district, "name": "Math"}]
    return [{"id": clever_id(d, "term", 0), "district": district, "name": "Year", "start_date": "2025-08-01",
             "end_date": "2026-06-30"}]


def oneroster_csv_files(state: FakeState) -> dict[str, bytes]:
    return {"manifest.csv": b"propertyName,value\nmanifest.version,1.0\nfile.users,bulk\n",
            "users.csv": f"sourcedId,givenName\n{state.district_id}-user-000,Given0\n".encode()}


def nwea_map_files(state: FakeState) -> dict[str, bytes]:
    return {"AssessmentResults.csv": f"StudentID,TestRITScore\n600000,201\n# {state.as_of}\n".encode()}


FAKE_RENDERERS = {"oneroster_rest": oneroster_records, "clever": clever_records, "oneroster_csv": oneroster_csv_files,
                  "nwea_map": nwea_map_files}


@pytest.fixture
def start_sandbox() -> Iterator[Callable[..., SandboxServer]]:
    """Start fake-world sandboxes on ephemeral ports (`start_sandbox(faults=..., ...)`); stop them after."""
    servers: list[SandboxServer] = []

    def start(*faults: Fault, fault_seed: int = 5, **kwargs: Any) -> SandboxServer:
        kwargs.setdefault("today", DAY1)
        server = SandboxServer(FakeWorld(), faults=FaultPlan(faults, fault_seed), seed=SEED,
                               renderers=FAKE_RENDERERS, **kwargs)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(start_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    """A fault-free fake-world sandbox serving DAY1."""
    return start_sandbox()


def credentials(district: str, seed: int = SEED) -> dict[str, str]:
    """The district's OneRoster client id and secret and its Clever token."""
    return {**sandbox_credentials("oneroster_rest", district, seed), **sandbox_credentials("clever", district, seed)}


def oneroster_token(server: SandboxServer, district: str = "north", *, basic: bool = True) -> str:
    """An access token, the client authenticating by HTTP Basic or by form body."""
    creds = credentials(district)
    url = f"{server.base_url('oneroster_rest', district)}/oauth/token"
    if basic:
        response = requests.post(url, data={"grant_type": "client_credentials"}, timeout=TIMEOUT,
                                 auth=(creds["client_id"], creds["client_secret"]))
    else:
        response = requests.post(url, timeout=TIMEOUT, data={
            "grant_type": "client_credentials", "client_id": creds["client_id"],
            "client_secret": creds['client_secret']})
    response.raise_for_status()
    return response.json()["access_token"]


def oneroster_url(server: SandboxServer, collection: str, district: str = "north") -> str:
    return f"{server.base_url('oneroster_rest', district)}/ims/oneroster/v1p1/{collection}"


def clever_get(server: SandboxServer, uri: str, district: str = "north", **kwargs: Any) -> requests.Response:
    """GET a Clever `uri` (`/v3.0/...`, as in Clever links) with the district's token."""
    kwargs.setdefault("timeout", TIMEOUT)
    headers = {"Authorization": f"Bearer {credentials(district)['token']}"}
    return requests.get(server.base_url("clever", district) + uri, headers=headers, **kwargs)


def oneroster_pages(server: SandboxServer, collection: str, token: str, **params: Any) -> list[requests.Response]:
    """Every page of a collection, following Link rel=next (no fault handling)."""
    pages = [requests.get(oneroster_url(server, collection), params=params, timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {token}"})]
    while "next" in pages[-1].links:
        pages.append(requests.get(pages[-1].links["next"]["url"], timeout=TIMEOUT,
                                  headers={"Authorization": f"Bearer {token}"}))
    return pages


def clever_pages(server: SandboxServer, uri: str, district: str = "north") -> list[requests.Response]:
    """Every page of a Clever listing, following the `next` link until there is none."""
    pages = [clever_get(server, uri, district)]
    while nexts := [link["uri"] for link in pages[-1].json()["links"] if link["rel"] == "next"]:
        pages.append(clever_get(server, nexts[0], district))
    return pages
