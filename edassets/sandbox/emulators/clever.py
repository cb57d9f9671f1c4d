"""Clever Data API v3.0 (K12_FORMATS §1.2): a district-app bearer token, `starting_after` paging.

Routes: ``GET {url}/v3.0/{collection}`` (and the same under ``{url}/clever/``). Clever's
links are host-relative (``/v3.0/users?starting_after=…``), so the API is also served at the
root, exactly where a client following them lands. The district is chosen by token (one
token per district app), so the base URL is the same for every district. Requests are
counted per token in fixed one-minute windows (`rate_limit`, §1.2: 1200).

The records are each collection's ``data`` objects, keyed by the 24-hex ``id`` (ObjectIds
whose first four bytes are the creation second, so ascending ids follow creation): grades in
Clever's enum (``Kindergarten``, ``5``), ``dob`` as ``M/D/YYYY``, enrollments implicit in
``sections[].students``. Clever has no status field: deleted records are simply absent.

Truth conventions (besides `truth.py`'s): Clever has no enrollment ids, so an enrollment is
``f"{section id}:{user id}"`` and ``is_primary`` is True for the section's ``teacher`` only.
A section has one term: a class running all year has the school year's term id. Clever
contacts and district admins have no school and no ``credentials`` (so no username), and a
district admin carries only ``legacy_id`` and ``title`` (no SIS or state id).
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from edassets.sandbox import truth, wire
from edassets.sandbox.emulators.base import ApiEmulator, Host
from edassets.sandbox.http import Call, QueryError, Response, bearer, int_param, json_response
from edassets.sandbox.world import WorldState

COLLECTIONS = ("districts", "schools", "users", "sections", "courses", "terms")
GRADES: dict[str, str] = {
    "PK": "PreKindergarten",
    "KG": "Kindergarten",
    **{f"{g:02d}": str(g) for g in range(1, 13)},
}
"""CEDS grade code -> Clever grade enum (Clever writes ``5``, not ``05``)."""
SUBJECTS: dict[str, str] = {
    "Mathematics": "math",
    "English Language Arts": "english/language arts",
    "Science": "science",
    "Social Studies": "social studies",
    "Art": "arts and music",
    "Music": "arts and music",
    "Physical Education": "PE and health",
    "Spanish": "language",
    "Computer Science": "technology and engineering",
}
"""World subject -> Clever's section subject enum."""
_ROLES = frozenset({"student", "teacher", "staff", "district_admin", "contact"})
_DEFAULT_LIMIT, _MAX_LIMIT = 100, 10_000  # §1.2: larger than 10000 → 413


class CleverEmulator(ApiEmulator):
    """The Clever Data API v3.0 of every district, one token each."""

    platform = "clever"
    title = "Clever"
    roster = True
    id_scheme = "clever_id"
    # Real Clever district tokens are 40 hex characters. A district token is fixed (§1.2):
    # revoking it is an outage, not a transient fault, so there is no token_expiry here.
    credentials: ClassVar[Mapping[str, int]] = {"token": 40}
    collections = COLLECTIONS
    id_field = "id"
    collection_entities: ClassVar[Mapping[str, str]] = {
        "schools": "school", "terms": "academic_session", "courses": "course", "sections": "class",
        "users": "person",
    }
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        "missing_id": {collection: ("id",) for collection in COLLECTIONS},
        # Clever's grade enum stops at 13 (§1.2): 14 is past the top of the scale.
        "out_of_range_score": {"users": ("roles.student.grade",)},
        "future_date": {"users": ("roles.student.dob",)},
        # Not the `district` of schools, courses or terms: the district is the partition the
        # token picked, and no feed reads the field back (a gap noted in the README).
        "dangling_reference": {"sections": ("course",), "users": ("roles.student.school", "roles.teacher.school")},
    }  # fmt: skip

    def __init__(self, host: Host, *, rate_limit: int = 1200) -> None:
        """Serve on `host`.

        Args:
            host: the running server.
            rate_limit: requests allowed per token per clock minute (§1.2: 1200).
        """
        super().__init__(host)
        self._rate_limit = rate_limit
        self._lock = threading.Lock()
        self._rate_windows: dict[str, tuple[int, int]] = {}  # token -> (minute, requests in it)

    @classmethod
    def render(cls, state: WorldState, collection: str) -> list[dict[str, Any]]:
        """The collection's ``data`` objects, ascending by id; deleted records are absent."""
        try:
            render = _RENDERERS[collection]
        except KeyError:
            raise ValueError(f"unknown Clever collection {collection!r}; expected one of {COLLECTIONS}") from None
        return render(state)

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """The roster in Clever ids, with what Clever cannot say left empty (see the module doc)."""
        expected = truth.roster_truth(state, cls.id_scheme)
        classes = expected["class"]
        year = str(state.terms.loc[state.terms["session_type"] == "schoolYear", "clever_id"].iloc[0])
        classes["term_ids"] = classes["term_ids"].where(~classes["term_ids"].str.contains(",", regex=False), year)
        persons = expected["person"]
        persons["username"] = persons["username"].where(persons["role"].isin(["student", "teacher"]))
        staff = persons["role"] == "administrator"
        persons["sis_id"] = persons["sis_id"].where(~staff)
        persons["state_id"] = persons["state_id"].where(~staff)
        return expected

    @classmethod
    def ghost_id(cls, digest: bytes) -> str:
        """A 24-hex id that names nothing (§1.2)."""
        return digest[8:].hex()[:24]

    def base_url(self, district_id: str) -> str:
        """The server's URL itself: the token picks the district."""
        return self.host.url

    def rate_limited(self, retry_after: float) -> Response:
        """Clever says when the window resets, as a Unix time (§1.2), not how long to wait."""
        return json_response(429, {"error": "rate limit exceeded"}, {
            "X-RateLimit-Limit": str(self._rate_limit), "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(time.time() + retry_after))})

    def handle(self, call: Call) -> Response | None:
        """Route `/v3.0/<collection>` and `/clever/v3.0/<collection>`."""
        match call.parts:
            case ("clever", "v3.0", collection) | ("v3.0", collection):
                return self.claim_get(call) or self._page(collection, call)
        return None

    def _page(self, collection: str, call: Call) -> Response:
        token = bearer(call.headers)
        district = self.host.district_by_credential(self.platform, "token", token or "")
        if token is None or district is None:
            return json_response(401, {"error": "invalid auth"})
        call.exchange.district_id = district
        limited, rate_headers = self._count(token)
        if limited:
            return json_response(429, {"error": "rate limit exceeded"}, rate_headers)
        if collection not in COLLECTIONS:
            return json_response(404, {"error": f"unknown resource {collection}"}, rate_headers)
        query = call.query
        if "ending_before" in query:
            # Clever answers 501 to requests it does not support; the sandbox pages forward only.
            return json_response(501, {"error": "ending_before is not supported by the sandbox"}, rate_headers)
        try:
            limit = int_param(query, "limit", _DEFAULT_LIMIT, 1)
        except QueryError as error:
            return json_response(400, {"error": str(error)}, rate_headers)
        if limit > _MAX_LIMIT:
            return json_response(413, {"error": f"limit may not exceed {_MAX_LIMIT}"}, rate_headers)
        role = query.get("role")
        if role is not None and (collection != "users" or role not in _ROLES):
            return json_response(400, {"error": f"role must be one of {sorted(_ROLES)} on users"}, rate_headers)

        active, failed = self.host.open_data_request(self, call.exchange)
        if failed is not None:
            return failed
        rows = self.host.records(self.platform, district, collection)
        if role is not None:
            rows = [r for r in rows if role in (r.get("roles") or {})]
        after = query.get("starting_after")
        start = bisect_right([r["id"] for r in rows], after) if after else 0
        page = rows[start: start + limit]
        records = self.host.served(self, district, collection, page, rows[:start], active, call.exchange)
        links = [{"rel": "self", "uri": f"/v3.0/{collection}" + (f"?{call.raw_query}" if call.raw_query else "")}]
        # A truncated page claims more even at the end, built from the page as it should have
        # been: `starting_after` then differs from the last id received, and the gap shows.
        if page and (start + limit < len(rows) or "truncated_page" in call.exchange.faults):
            params = {"limit": str(limit), **({"role": role} if role else {}), "starting_after": page[-1]["id"]}
            links.append({"rel": "next", "uri": f"/v3.0/{collection}?{urlencode(params)}"})
        document = {"data": [{"data": r, "uri": f"/v3.0/{collection}/{r.get('id', '')}"} for r in records],
                    "links": links}
        return self.host.finish(json_response(200, document, rate_headers), active, call.exchange)

    def _count(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count a request against the token's fixed one-minute window (§1.2 Rate limit)."""
        now = time.time()
        window = int(now // 60)
        with self._lock:
            start, used = self._rate_windows.get(token, (window, 0))
            used = used + 1 if start == window else 1
            self._rate_windows[token] = (window, used)
        return used > self._rate_limit, {
            "X-RateLimit-Limit": str(self._rate_limit),
            "X-RateLimit-Remaining": str(max(self._rate_limit - used, 0)),
            "X-RateLimit-Reset": str((window + 1) * 60),
        }


# --- rendering ----------------------------------------------------------------------------------


def _ids(frame: pd.DataFrame, key: str) -> pd.Series:
    return wire.lookup(frame, key, "clever_id")


def _created(clever_ids: pd.Series) -> list[str]:
    """Clever ``created``: the creation second an ObjectId starts with (its first 8 hex digits)."""
    text = np.frombuffer("".join(clever_ids.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 24)[:, :8]
    nibbles = np.where(text >= ord("a"), text - ord("a") + 10, text - ord("0")).astype(np.int64)
    seconds = (nibbles << (4 * np.arange(7, -1, -1))).sum(axis=1)
    return wire.instants(pd.Series(pd.to_datetime(seconds, unit="s", utc=True)))


def _common(frame: pd.DataFrame, district_id: str) -> dict[str, Sequence[object]]:
    return {
        "id": wire.texts(frame["clever_id"]),
        "created": _created(frame["clever_id"]),
        "district": [district_id] * len(frame),
        "last_modified": wire.instants(frame["last_modified"]),
    }


def _district_id(state: WorldState) -> str:
    return str(state.district["clever_id"].iloc[0])


def _districts(state: WorldState) -> list[dict[str, object]]:
    district = state.district
    return [{
        "id": _district_id(state),
        "name": district["name"].iloc[0],
        "nces_id": district["nces_id"].iloc[0],
        # "sftp" is what Clever reports for districts syncing by SFTP or CSV upload.
        "sis_type": "sftp",
        "launch_date": wire.days(district["last_modified"].dt.tz_localize(None).dt.normalize())[0],
        "login_methods": ["Clever Passwords"],
    }]


def _schools(state: WorldState) -> list[dict[str, object]]:
    schools = wire.sorted_by(state.schools[state.schools["status"] == "active"], "clever_id")
    return wire.records({
        **_common(schools, _district_id(state)),
        "name": wire.texts(schools["name"]),
        "school_number": wire.texts(schools["school_number"]),
        "sis_id": wire.texts(schools["school_number"]),
        "low_grade": schools["low_grade"].map(GRADES).tolist(),
        "high_grade": schools["high_grade"].map(GRADES).tolist(),
    })


def _roles(state: WorldState, users: pd.DataFrame) -> list[dict[str, object]]:
    """Each user's ``roles`` object (one role each: the world has no multi-role users)."""
    school = wire.nullable(users["school_key"].map(_ids(state.schools, "school_key")))
    ids, sis, state_ids = wire.texts(users["clever_id"]), wire.texts(users["sis_id"]), wire.nullable(users["state_id"])
    usernames = wire.texts(users["username"])
    grades = wire.nullable(users["grade"].map(GRADES))
    dob = wire.days(users["birth_date"], wire.us_date)
    gender = wire.texts(users["gender"])
    child = wire.nullable(users["guardian_of"].map(_ids(state.persons, "person_key")))
    # A student's school enrollment starts with their first seat there (a mover's transfer day).
    seats = wire.active(state.enrollments)
    seats = seats[seats["role"] == "student"]
    first_seat = seats.groupby("person_key")["begin_date"].min()
    school_start = wire.days(users["person_key"].map(first_seat))
    roles: list[dict[str, object]] = []
    for i, role in enumerate(wire.texts(users["role"])):
        if role == "student":
            body: dict[str, object] = {
                "legacy_id": ids[i], "sis_id": sis[i], "state_id": state_ids[i], "student_number": sis[i],
                "grade": grades[i], "dob": dob[i], "gender": gender[i], "school": school[i], "schools": [school[i]],
                "enrollments": [{"school": school[i], "start_date": school_start[i], "end_date": None}],
                "credentials": {"district_username": usernames[i]},
            }
        elif role == "teacher":
            body = {
                "legacy_id": ids[i], "sis_id": sis[i], "state_id": state_ids[i], "teacher_number": sis[i],
                "school": school[i], "schools": [school[i]], "credentials": {"district_username": usernames[i]},
            }
        elif role == "guardian":
            role = "contact"
            body = {
                "legacy_id": ids[i], "sis_id": sis[i],
                "student_relationships": [{"student": child[i], "relationship": "Parent", "type": "Parent/Guardian"}],
            }
        else:
            role = "district_admin"
            body = {"legacy_id": ids[i], "title": "District Administrator"}
        roles.append({role: body})
    return roles


def _users(state: WorldState) -> list[dict[str, object]]:
    users = wire.sorted_by(wire.active(state.persons), "clever_id")
    names = [{"first": f, "middle": m, "last": la} for f, m, la in zip(
        wire.nullable(users["given_name"]), wire.nullable(users["middle_name"]), wire.nullable(users["family_name"]), strict=True)]
    return wire.records({
        **_common(users, _district_id(state)),
        "email": wire.nullable(users["email"]),
        "name": names,
        "roles": _roles(state, users),
    })


def _sections(state: WorldState) -> list[dict[str, object]]:
    sections = wire.sorted_by(wire.active(state.classes), "clever_id")
    user_id = _ids(state.persons, "person_key")
    seats = state.enrollments.assign(user=state.enrollments["person_key"].map(user_id))
    # Implicit enrollments: only current (not deleted) seats show, ascending by user id.
    current = wire.active(seats).sort_values("user")
    pupils, staff = current[current["role"] == "student"], current[current["role"] == "teacher"]
    primary = wire.lookup(current[current["is_primary"]], "class_key", "user")
    # A roster change touches the section: its last_modified is its latest seat change.
    touched = sections["class_key"].map(seats.groupby("class_key")["last_modified"].max())
    last_modified = sections["last_modified"].where(~(touched > sections["last_modified"]), touched)
    # Clever sections have one term: a class spanning both semesters belongs to the school year.
    term = wire.term_ids(state, sections["term_keys"], "clever_id")
    year = str(state.terms.loc[state.terms["session_type"] == "schoolYear", "clever_id"].iloc[0])
    term_id = term.where(~term.str.contains(","), year)
    school_number = sections["school_key"].map(wire.lookup(state.schools, "school_key", "school_number"))
    keys = sections["class_key"]
    return wire.records({
        **_common(sections.assign(last_modified=last_modified), _district_id(state)),
        "course": wire.texts(sections["course_key"].map(_ids(state.courses, "course_key"))),
        "school": wire.texts(sections["school_key"].map(_ids(state.schools, "school_key"))),
        "term_id": term_id.tolist(),
        "name": wire.texts(sections["title"]),
        "period": wire.texts(sections["period"]),
        "subject": sections["subject"].map(SUBJECTS).tolist(),
        "grade": sections["grade"].map(GRADES).tolist(),
        "sis_id": wire.texts(school_number + "-" + sections["class_code"]),
        "section_number": wire.texts(sections["class_code"]),
        "teacher": wire.nullable(keys.map(primary)),
        "teachers": wire.group_lists(staff["class_key"], staff["user"].tolist(), keys),
        "students": wire.group_lists(pupils["class_key"], pupils["user"].tolist(), keys),
    })


def _courses(state: WorldState) -> list[dict[str, object]]:
    courses = wire.sorted_by(wire.active(state.courses), "clever_id")
    return wire.records({
        "id": wire.texts(courses["clever_id"]),
        "district": [_district_id(state)] * len(courses),
        "name": wire.texts(courses["title"]),
        "number": wire.texts(courses["course_code"]),
    })


def _terms(state: WorldState) -> list[dict[str, object]]:
    terms = wire.sorted_by(wire.active(state.terms), "clever_id")
    return wire.records({
        "id": wire.texts(terms["clever_id"]),
        "district": [_district_id(state)] * len(terms),
        "name": wire.texts(terms["title"]),
        "start_date": wire.days(terms["start_date"]),
        "end_date": wire.days(terms["end_date"]),
    })


_RENDERERS: dict[str, Callable[[WorldState], list[dict[str, object]]]] = {
    "districts": _districts,
    "schools": _schools,
    "users": _users,
    "sections": _sections,
    "courses": _courses,
    "terms": _terms,
}


