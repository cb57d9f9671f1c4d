"""The OneRoster 1.1 view of the world that both bindings share: REST records and roster truth.

K12_FORMATS §1.1: camelCase records, references as GUIDRef objects ``{"href", "sourcedId",
"type"}``, ``dateLastModified`` ISO 8601 UTC with milliseconds and ``Z``, booleans as the
strings ``"true"``/``"false"``. Deleted records stay listed with ``status: "tobedeleted"``
so a ``dateLastModified>`` delta filter can return them. GUIDRef hrefs are server-relative
paths below `BASE_PATH`. The REST emulator serves these records; the CSV emulator writes the
same roster as a bulk bundle. Every collection is sorted by sourcedId.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from edassets.sandbox import truth, wire
from edassets.sandbox.world import STRING, WorldState

BASE_PATH = "/ims/oneroster/v1p1"
"""Where OneRoster 1.1 REST collections live; GUIDRef hrefs are paths below it."""
COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")
SEX = {"F": "female", "M": "male"}
COLLECTION_ENTITIES = {
    "orgs": "school", "academicSessions": "academic_session", "courses": "course", "classes": "class",
    "users": "person", "demographics": "person", "enrollments": "enrollment",
}
"""Collection (REST) or file stem (CSV) -> the unified entity its records become."""

# --- OneRoster 1.1 REST ------------------------------------------------------------------------

_REF_PATHS = {"org": "orgs", "academicSession": "academicSessions", "course": "courses", "class": "classes",
              "user": "users"}


def _refs(ids: pd.Series, kind: str) -> list[dict[str, str] | None]:
    """GUIDRef objects for the ids (None where the id is NA)."""
    hrefs = wire.texts(f"{BASE_PATH}/{_REF_PATHS[kind]}/" + ids)
    return [None if sid == "" else {"href": href, "sourcedId": sid, "type": kind}
            for href, sid in zip(hrefs, wire.texts(ids), strict=True)]


def _ref_lists(ids: pd.Series, kind: str, owners: pd.Series, wanted: pd.Series) -> list[list[dict[str, str] | None]]:
    """For each of ``wanted``, the GUIDRefs of the ids it owns, sorted by id."""
    pairs = pd.DataFrame({"owner": owners.to_numpy(), "id": ids.to_numpy()}).dropna().sort_values("id")
    return wire.group_lists(pairs["owner"], _refs(pairs["id"], kind), wanted)


def _common(frame: pd.DataFrame) -> dict[str, list[str]]:
    return {
        "sourcedId": wire.texts(frame["sourced_id"]),
        "status": wire.texts(frame["status"]),
        "dateLastModified": wire.instants(frame["last_modified"]),
    }


def _orgs(state: WorldState) -> list[dict[str, object]]:
    district, schools = state.district, state.schools
    district_ref = _refs(district["sourced_id"], "org")[0]
    head = {
        "sourcedId": district["sourced_id"].iloc[0],
        "status": "active",
        "dateLastModified": wire.instants(district["last_modified"])[0],
        "name": district["name"].iloc[0],
        "type": "district",
        "identifier": district["nces_id"].iloc[0],
        "children": [r for r in _refs(schools["sourced_id"].sort_values(), "org") if r is not None],
    }
    rows = wire.records({
        **_common(schools),
        "name": wire.texts(schools["name"]),
        "type": ["school"] * len(schools),
        "identifier": wire.texts(schools["school_number"]),
        "parent": [district_ref] * len(schools),
    })
    return sorted([head, *rows], key=lambda r: str(r["sourcedId"]))


def _sessions(state: WorldState) -> list[dict[str, object]]:
    terms = wire.sorted_by(state.terms, "sourced_id")
    sid = wire.lookup(state.terms, "term_key", "sourced_id")
    parent = terms["parent_key"].map(sid).astype(terms["sourced_id"].dtype)
    return wire.records({
        **_common(terms),
        "title": wire.texts(terms["title"]),
        "type": wire.texts(terms["session_type"]),
        "startDate": wire.days(terms["start_date"]),
        "endDate": wire.days(terms["end_date"]),
        "parent": _refs(parent, "academicSession"),
        "children": _ref_lists(terms["sourced_id"], "academicSession", parent, terms["sourced_id"]),
        "schoolYear": terms["school_year"].astype(str).tolist(),
    })


def school_year_id(state: WorldState) -> str:
    return str(state.terms.loc[state.terms["session_type"] == "schoolYear", "sourced_id"].iloc[0])


def _courses(state: WorldState) -> list[dict[str, object]]:
    courses = wire.sorted_by(state.courses, "sourced_id")
    year = pd.Series(school_year_id(state), index=courses.index, dtype=courses["sourced_id"].dtype)
    return wire.records({
        **_common(courses),
        "title": wire.texts(courses["title"]),
        "schoolYear": _refs(year, "academicSession"),
        "courseCode": wire.texts(courses["course_code"]),
        "grades": [g.split(",") for g in wire.texts(courses["grade_levels"])],
        "subjects": [[s] for s in wire.texts(courses["subject"])],
        "org": _refs(courses["school_key"].map(wire.lookup(state.schools, "school_key", "sourced_id")), "org"),
    })


def _classes(state: WorldState) -> list[dict[str, object]]:
    classes = wire.sorted_by(state.classes, "sourced_id")
    terms = wire.term_ids(state, classes["term_keys"], "sourced_id")
    term_refs = [[{"href": f"{BASE_PATH}/academicSessions/{t}", "sourcedId": t, "type": "academicSession"}
                  for t in cell.split(",")] for cell in terms.tolist()]
    return wire.records({
        **_common(classes),
        "title": wire.texts(classes["title"]),
        "classCode": wire.texts(classes["class_code"]),
        "classType": ["scheduled"] * len(classes),
        "location": [""] * len(classes),
        "grades": [[g] for g in wire.texts(classes["grade"])],
        "subjects": [[s] for s in wire.texts(classes["subject"])],
        "course": _refs(classes["course_key"].map(wire.lookup(state.courses, "course_key", "sourced_id")), "course"),
        "school": _refs(classes["school_key"].map(wire.lookup(state.schools, "school_key", "sourced_id")), "org"),
        "terms": term_refs,
        "periods": [[p] for p in wire.texts(classes["period"])],
    })


def person_orgs(state: WorldState, persons: pd.DataFrame) -> pd.Series:
    """Each person's org sourcedId: their school, or the district for guardians and district staff."""
    school = persons["school_key"].map(wire.lookup(state.schools, "school_key", "sourced_id"))
    return school.astype(persons["sourced_id"].dtype).fillna(state.district["sourced_id"].iloc[0])


def agent_pairs(persons: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(agent owner, agent sourcedId) pairs: students list their guardians and guardians their child."""
    guardians = persons[persons["guardian_of"].notna()]
    child_sid = guardians["guardian_of"].map(wire.lookup(persons, "person_key", "sourced_id"))
    owners = pd.concat([child_sid, guardians["sourced_id"]], ignore_index=True)
    agents = pd.concat([guardians["sourced_id"], child_sid], ignore_index=True)
    return owners, agents


def _user_ids(persons: pd.DataFrame) -> list[list[dict[str, str]]]:
    sis, state_ids = wire.texts(persons["sis_id"]), wire.texts(persons["state_id"])
    return [[{"type": "SIS", "identifier": s}] + ([{"type": "state", "identifier": t}] if t else [])
            for s, t in zip(sis, state_ids, strict=True)]


def _users(state: WorldState) -> list[dict[str, object]]:
    persons = wire.sorted_by(state.persons, "sourced_id")
    owners, agents = agent_pairs(persons)
    return wire.records({
        **_common(persons),
        "username": wire.texts(persons["username"]),
        "userIds": _user_ids(persons),
        "enabledUser": ["true"] * len(persons),
        "givenName": wire.texts(persons["given_name"]),
        "familyName": wire.texts(persons["family_name"]),
        "middleName": wire.texts(persons["middle_name"]),
        "role": wire.texts(persons["role"]),
        "identifier": wire.texts(persons["sis_id"]),
        "email": wire.texts(persons["email"]),
        "sms": [""] * len(persons),
        "phone": [""] * len(persons),
        "agents": _ref_lists(agents, "user", owners, persons["sourced_id"]),
        "orgs": [[r] for r in _refs(person_orgs(state, persons), "org")],
        "grades": [[g] if g else [] for g in wire.texts(persons["grade"])],
    })


def enrollment_view(state: WorldState) -> pd.DataFrame:
    """Enrollments with the sourcedIds of their class, school and user."""
    classes = state.classes.assign(
        school_sid=state.classes["school_key"].map(wire.lookup(state.schools, "school_key", "sourced_id")))
    enrollments = state.enrollments
    return enrollments.assign(
        class_sid=enrollments["class_key"].map(wire.lookup(classes, "class_key", "sourced_id")),
        school_sid=enrollments["class_key"].map(wire.lookup(classes, "class_key", "school_sid")),
        user_sid=enrollments["person_key"].map(wire.lookup(state.persons, "person_key", "sourced_id")),
    )


def _enrollments(state: WorldState) -> list[dict[str, object]]:
    enrollments = wire.sorted_by(enrollment_view(state), "sourced_id")
    return wire.records({
        **_common(enrollments),
        "user": _refs(enrollments["user_sid"], "user"),
        "class": _refs(enrollments["class_sid"], "class"),
        "school": _refs(enrollments["school_sid"], "org"),
        "role": wire.texts(enrollments["role"]),
        "primary": np.where(enrollments["is_primary"].to_numpy(), "true", "false").tolist(),
        "beginDate": wire.days(enrollments["begin_date"]),
        "endDate": wire.days(enrollments["end_date"]),
    })


def _demographics(state: WorldState) -> list[dict[str, object]]:
    # Only students have a birth date in the world; demographics.sourcedId is the user's.
    students = wire.sorted_by(state.persons[state.persons["role"] == "student"], "sourced_id")
    return wire.records({
        **_common(students),
        "birthDate": wire.days(students["birth_date"]),
        "sex": students["gender"].map(SEX).tolist(),
    })


_RENDERERS: dict[str, Callable[[WorldState], list[dict[str, object]]]] = {
    "orgs": _orgs,
    "academicSessions": _sessions,
    "courses": _courses,
    "classes": _classes,
    "users": _users,
    "enrollments": _enrollments,
    "demographics": _demographics,
}


def records(state: WorldState, collection: str) -> list[dict[str, object]]:
    """The OneRoster 1.1 REST records of one collection, sorted by sourcedId.

    Args:
        state: The district on a day.
        collection: One of `COLLECTIONS` (``orgs`` holds the district and its schools).

    Returns:
        JSON-ready dicts, ``tobedeleted`` records included.

    Raises:
        ValueError: For an unknown collection.
    """
    try:
        render = _RENDERERS[collection]
    except KeyError:
        raise ValueError(f"unknown OneRoster collection {collection!r}; expected one of {COLLECTIONS}") from None
    return render(state)


def roster_truth(state: WorldState) -> dict[str, pd.DataFrame]:
    """The roster a OneRoster district loads: canonical ids are sourcedIds.

    OneRoster users need an org, so guardians and district administrators sit under the
    district: their ``school_id`` is the district's sourcedId.
    """
    expected = truth.roster_truth(state, "sourced_id")
    persons = expected["person"]
    district_org = state.district["sourced_id"].iloc[0]
    persons["school_id"] = persons["school_id"].astype(STRING).fillna(district_org)
    return expected
