"""Each platform's view of a `WorldState`, in its real wire format: pure functions, no HTTP.

The sandbox server pages, filters, signs and breaks these (``server.py``, ``faults.py``);
this module only says what each platform would hold, with the facts of K12_FORMATS.md:

* OneRoster 1.1 REST (§1.1): camelCase records, references as GUIDRef objects
  ``{"href", "sourcedId", "type"}``, ``dateLastModified`` ISO 8601 UTC with milliseconds and
  ``Z``, booleans as the strings ``"true"``/``"false"``. Deleted records stay listed with
  ``status: "tobedeleted"`` so a ``dateLastModified>`` delta filter can return them.
  GUIDRef hrefs are server-relative paths below `ONEROSTER_BASE_PATH` (this module knows
  no host; a server wanting absolute URLs prefixes its origin).
* Clever Data API v3.0 (§1.2): the ``data`` objects of each collection, keyed by the 24-hex
  ``id``; grades in Clever's enum (``Kindergarten``, ``5``), ``dob`` as ``M/D/YYYY``,
  enrollments implicit in ``sections[].students``. Clever has no status field: deleted
  records are simply absent.
* OneRoster CSV (§1.1): a bulk bundle, ``manifest.csv`` plus the tables; in bulk files
  ``status`` and ``dateLastModified`` are left empty and deleted records are absent.
* NWEA MAP Growth (§1.8): ``AssessmentResults.csv`` with the current header and
  ``StudentsBySchool.csv`` (the only place the grade lives), every value quoted as NWEA
  writes them; ``StudentID`` is the SIS id.

Every collection is sorted by its id (OneRoster sourcedId; Clever id ascending, the order
Clever pages in). Formatting is vectorised; only the final dict building walks the rows.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from edassets.sandbox.nwea_headers import NWEA_ASSESSMENT_RESULTS_HEADER, NWEA_STUDENTS_BY_SCHOOL_HEADER
from edassets.sandbox.world import STRING, WorldState

_T = TypeVar("_T")

__all__ = [
    "CLEVER_COLLECTIONS",
    "CLEVER_GRADES",
    "CLEVER_SUBJECTS",
    "ONEROSTER_BASE_PATH",
    "ONEROSTER_COLLECTIONS",
    "clever_records",
    "nwea_map_files",
    "oneroster_csv_files",
    "oneroster_rest_records",
]

ONEROSTER_BASE_PATH = "/ims/oneroster/v1p1"
"""Where OneRoster 1.1 REST collections live; GUIDRef hrefs are paths below it."""
ONEROSTER_COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")
CLEVER_COLLECTIONS = ("districts", "schools", "users", "sections", "courses", "terms")

CLEVER_GRADES: dict[str, str] = {
    "PK": "PreKindergarten",
    "KG": "Kindergarten",
    **{f"{g:02d}": str(g) for g in range(1, 13)},
}
"""CEDS grade code -> Clever grade enum (Clever writes ``5``, not ``05``)."""
CLEVER_SUBJECTS: dict[str, str] = {
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

_NWEA_GRADES = {"PK": "PK", "KG": "K", **{f"{g:02d}": str(g) for g in range(1, 13)}}  # NWEA writes "K", "5"
# OneRoster 1.2 moved district administrators to their own role value (K12_FORMATS §1.1).
_ONEROSTER_12_ROLES = {"administrator": "districtAdministrator"}
_SEX = {"F": "female", "M": "male"}
_DIGITS = np.uint8(ord("0"))


# --- formatting --------------------------------------------------------------------------------


def _put(buffer: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write zero-padded decimal ``values`` into ``buffer[:, column:column + width]``."""
    for k in range(width):
        buffer[:, column + width - 1 - k] = _DIGITS + (values // 10**k % 10).astype(np.uint8)


def _instants(values: pd.Series) -> list[str]:
    """UTC instants as ``2025-08-05T02:10:56.152Z`` (OneRoster and Clever timestamps).

    Built digit by digit in one buffer: timestamps are nearly all distinct, so formatting
    the unique values would not help, and strftime costs a microsecond a row.
    """
    ms = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    days = ms.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    of_day = (ms - days).astype(np.int64)
    buffer = np.zeros((len(ms), 24), dtype=np.uint8)
    for column, char in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")):
        buffer[:, column] = ord(char)
    _put(buffer, 0, months.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    _put(buffer, 5, months.astype(np.int64) % 12 + 1, 2)
    _put(buffer, 8, (days - months).astype(np.int64) + 1, 2)
    _put(buffer, 11, of_day // 3_600_000, 2)
    _put(buffer, 14, of_day // 60_000 % 60, 2)
    _put(buffer, 17, of_day // 1000 % 60, 2)
    _put(buffer, 20, of_day % 1000, 3)
    return pa.array(buffer.view("S24").ravel()).cast(pa.string()).to_pylist()


def _days(values: pd.Series, fmt: Callable[[date], str] = date.isoformat) -> list[str]:
    """Dates formatted once per distinct value ("" for NaT): a roster has few distinct days."""
    codes, uniques = pd.factorize(values)
    text = np.array([fmt(d) for d in uniques.date] + [""], dtype=object)
    return text[codes].tolist()  # code -1 (NaT) picks the trailing ""


def _us_date(day: date) -> str:
    """Clever's dob form, ``M/D/YYYY`` without zero padding (K12_FORMATS §1.2)."""
    return f"{day.month}/{day.day}/{day.year}"


def _texts(values: pd.Series) -> list[str]:
    """A text column as Python strings, "" for NA (OneRoster JSON and CSV write blanks)."""
    return values.fillna("").tolist()


def _nullable(values: pd.Series) -> list[str | None]:
    """A text column as Python strings, None for NA (Clever writes JSON null)."""
    return values.astype(object).where(values.notna(), None).tolist()


def _lookup(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """``frame[value]`` indexed by ``frame[key]``: for mapping internal keys to wire ids."""
    return pd.Series(frame[value].array, index=pd.Index(frame[key].array))


def _sorted(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def _group_lists(owners: pd.Series, values: Sequence[_T], wanted: pd.Series) -> list[list[_T]]:
    """For each of ``wanted`` (unique), the ``values`` whose owner it is, in their given order.

    A stable sort and list slices: pandas' ``groupby().agg(list)`` builds a Series per group,
    which costs seconds for a district's 100,000 users.
    """
    position = pd.Index(wanted.to_numpy()).get_indexer(owners.to_numpy())
    kept = np.flatnonzero(position >= 0)
    order = kept[np.argsort(position[kept], kind="stable")]
    ordered = [values[i] for i in order.tolist()]
    ends = np.cumsum(np.bincount(position[kept], minlength=len(wanted))).tolist()
    return [ordered[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


# --- OneRoster 1.1 REST ------------------------------------------------------------------------

_REF_PATHS = {"org": "orgs", "academicSession": "academicSessions", "course": "courses", "class": "classes",
              "user": "users"}


def _refs(ids: pd.Series, kind: str) -> list[dict[str, str] | None]:
    """GUIDRef objects for the ids (None where the id is NA)."""
    hrefs = _texts(f"{ONEROSTER_BASE_PATH}/{_REF_PATHS[kind]}/" + ids)
    return [None if sid == "" else {"href": href, "sourcedId": sid, "type": kind}
            for href, sid in zip(hrefs, _texts(ids), strict=True)]


def _ref_lists(ids: pd.Series, kind: str, owners: pd.Series, wanted: pd.Series) -> list[list[dict[str, str] | None]]:
    """For each of ``wanted``, the GUIDRefs of the ids it owns, sorted by id."""
    pairs = pd.DataFrame({"owner": owners.to_numpy(), "id": ids.to_numpy()}).dropna().sort_values("id")
    return _group_lists(pairs["owner"], _refs(pairs["id"], kind), wanted)


def _common(frame: pd.DataFrame) -> dict[str, list[str]]:
    return {
        "sourcedId": _texts(frame["sourced_id"]),
        "status": _texts(frame["status"]),
        "dateLastModified": _instants(frame["last_modified"]),
    }


def _records(columns: Mapping[str, Sequence[object]]) -> list[dict[str, object]]:
    """Column lists -> one dict per row (a comprehension is several times faster than to_dict)."""
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _oneroster_orgs(state: WorldState) -> list[dict[str, object]]:
    district, schools = state.district, state.schools
    district_ref = _refs(district["sourced_id"], "org")[0]
    head = {
        "sourcedId": district["sourced_id"].iloc[0],
        "status": "active",
        "dateLastModified": _instants(district["last_modified"])[0],
        "name": district["name"].iloc[0],
        "type": "district",
        "identifier": district["nces_id"].iloc[0],
        "children": [r for r in _refs(schools["sourced_id"].sort_values(), "org") if r is not None],
    }
    rows = _records({
        **_common(schools),
        "name": _texts(schools["name"]),
        "type": ["school"] * len(schools),
        "identifier": _texts(schools["school_number"]),
        "parent": [district_ref] * len(schools),
    })
    return sorted([head, *rows], key=lambda r: str(r["sourcedId"]))


def _oneroster_sessions(state: WorldState) -> list[dict[str, object]]:
    terms = _sorted(state.terms, "sourced_id")
    sid = _lookup(state.terms, "term_key", "sourced_id")
    parent = terms["parent_key"].map(sid).astype(terms["sourced_id"].dtype)
    return _records({
        **_common(terms),
        "title": _texts(terms["title"]),
        "type": _texts(terms["session_type"]),
        "startDate": _days(terms["start_date"]),
        "endDate": _days(terms["end_date"]),
        "parent": _refs(parent, "academicSession"),
        "children": _ref_lists(terms["sourced_id"], "academicSession", parent, terms["sourced_id"]),
        "schoolYear": terms["school_year"].astype(str).tolist(),
    })


def _school_year_id(state: WorldState) -> str:
    return str(state.terms.loc[state.terms["session_type"] == "schoolYear", "sourced_id"].iloc[0])


def _oneroster_courses(state: WorldState) -> list[dict[str, object]]:
    courses = _sorted(state.courses, "sourced_id")
    year = pd.Series(_school_year_id(state), index=courses.index, dtype=courses["sourced_id"].dtype)
    return _records({
        **_common(courses),
        "title": _texts(courses["title"]),
        "schoolYear": _refs(year, "academicSession"),
        "courseCode": _texts(courses["course_code"]),
        "grades": [g.split(",") for g in _texts(courses["grade_levels"])],
        "subjects": [[s] for s in _texts(courses["subject"])],
        "org": _refs(courses["school_key"].map(_lookup(state.schools, "school_key", "sourced_id")), "org"),
    })


def _term_ids(state: WorldState, term_keys: pd.Series, scheme: str) -> pd.Series:
    """Classes' comma-separated term keys as comma-separated ``scheme`` ids (few distinct cells)."""
    ids = dict(zip(state.terms["term_key"], state.terms[scheme], strict=True))
    codes, cells = pd.factorize(term_keys)
    mapped = [",".join(ids[key] for key in cell.split(",")) for cell in cells]
    return pd.Series(np.array(mapped, dtype=object)[codes], index=term_keys.index, dtype=STRING)


def _oneroster_classes(state: WorldState) -> list[dict[str, object]]:
    classes = _sorted(state.classes, "sourced_id")
    terms = _term_ids(state, classes["term_keys"], "sourced_id")
    term_refs = [[{"href": f"{ONEROSTER_BASE_PATH}/academicSessions/{t}", "sourcedId": t, "type": "academicSession"}
                  for t in cell.split(",")] for cell in terms.tolist()]
    return _records({
        **_common(classes),
        "title": _texts(classes["title"]),
        "classCode": _texts(classes["class_code"]),
        "classType": ["scheduled"] * len(classes),
        "location": [""] * len(classes),
        "grades": [[g] for g in _texts(classes["grade"])],
        "subjects": [[s] for s in _texts(classes["subject"])],
        "course": _refs(classes["course_key"].map(_lookup(state.courses, "course_key", "sourced_id")), "course"),
        "school": _refs(classes["school_key"].map(_lookup(state.schools, "school_key", "sourced_id")), "org"),
        "terms": term_refs,
        "periods": [[p] for p in _texts(classes["period"])],
    })


def _person_orgs(state: WorldState, persons: pd.DataFrame) -> pd.Series:
    """Each person's org sourcedId: their school, or the district for guardians and district staff."""
    school = persons["school_key"].map(_lookup(state.schools, "school_key", "sourced_id"))
    return school.astype(persons["sourced_id"].dtype).fillna(state.district["sourced_id"].iloc[0])


def _agents(persons: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """(agent owner, agent sourcedId) pairs: students list their guardians and guardians their child."""
    guardians = persons[persons["guardian_of"].notna()]
    child_sid = guardians["guardian_of"].map(_lookup(persons, "person_key", "sourced_id"))
    owners = pd.concat([child_sid, guardians["sourced_id"]], ignore_index=True)
    agents = pd.concat([guardians["sourced_id"], child_sid], ignore_index=True)
    return owners, agents


def _user_ids(persons: pd.DataFrame) -> list[list[dict[str, str]]]:
    sis, state_ids = _texts(persons["sis_id"]), _texts(persons["state_id"])
    return [[{"type": "SIS", "identifier": s}] + ([{"type": "state", "identifier": t}] if t else [])
            for s, t in zip(sis, state_ids, strict=True)]


def _oneroster_users(state: WorldState) -> list[dict[str, object]]:
    persons = _sorted(state.persons, "sourced_id")
    owners, agents = _agents(persons)
    return _records({
        **_common(persons),
        "username": _texts(persons["username"]),
        "userIds": _user_ids(persons),
        "enabledUser": ["true"] * len(persons),
        "givenName": _texts(persons["given_name"]),
        "familyName": _texts(persons["family_name"]),
        "middleName": _texts(persons["middle_name"]),
        "role": _texts(persons["role"]),
        "identifier": _texts(persons["sis_id"]),
        "email": _texts(persons["email"]),
        "sms": [""] * len(persons),
        "phone": [""] * len(persons),
        "agents": _ref_lists(agents, "user", owners, persons["sourced_id"]),
        "orgs": [[r] for r in _refs(_person_orgs(state, persons), "org")],
        "grades": [[g] if g else [] for g in _texts(persons["grade"])],
    })


def _enrollment_view(state: WorldState) -> pd.DataFrame:
    """Enrollments with the sourcedIds of their class, school and user."""
    classes = state.classes.assign(
        school_sid=state.classes["school_key"].map(_lookup(state.schools, "school_key", "sourced_id")))
    enrollments = state.enrollments
    return enrollments.assign(
        class_sid=enrollments["class_key"].map(_lookup(classes, "class_key", "sourced_id")),
        school_sid=enrollments["class_key"].map(_lookup(classes, "class_key", "school_sid")),
        user_sid=enrollments["person_key"].map(_lookup(state.persons, "person_key", "sourced_id")),
    )


def _oneroster_enrollments(state: WorldState) -> list[dict[str, object]]:
    enrollments = _sorted(_enrollment_view(state), "sourced_id")
    return _records({
        **_common(enrollments),
        "user": _refs(enrollments["user_sid"], "user"),
        "class": _refs(enrollments["class_sid"], "class"),
        "school": _refs(enrollments["school_sid"], "org"),
        "role": _texts(enrollments["role"]),
        "primary": np.where(enrollments["is_primary"].to_numpy(), "true", "false").tolist(),
        "beginDate": _days(enrollments["begin_date"]),
        "endDate": _days(enrollments["end_date"]),
    })


def _oneroster_demographics(state: WorldState) -> list[dict[str, object]]:
    # Only students have a birth date in the world; demographics.sourcedId is the user's.
    students = _sorted(state.persons[state.persons["role"] == "student"], "sourced_id")
    return _records({
        **_common(students),
        "birthDate": _days(students["birth_date"]),
        "sex": students["gender"].map(_SEX).tolist(),
    })


_ONEROSTER_RENDERERS: dict[str, Callable[[WorldState], list[dict[str, object]]]] = {
    "orgs": _oneroster_orgs,
    "academicSessions": _oneroster_sessions,
    "courses": _oneroster_courses,
    "classes": _oneroster_classes,
    "users": _oneroster_users,
    "enrollments": _oneroster_enrollments,
    "demographics": _oneroster_demographics,
}


def oneroster_rest_records(state: WorldState, collection: str) -> list[dict]:
    """The OneRoster 1.1 REST records of one collection, sorted by sourcedId.

    Args:
        state: The district on a day.
        collection: One of `ONEROSTER_COLLECTIONS` (``orgs`` holds the district and its schools).

    Returns:
        JSON-ready dicts, ``tobedeleted`` records included.

    Raises:
        ValueError: For an unknown collection.
    """
    return _renderer(_ONEROSTER_RENDERERS, collection, "OneRoster")(state)


# --- Clever Data API v3.0 ---------------------------------------------------------------------------


def _clever_ids(frame: pd.DataFrame, key: str) -> pd.Series:
    return _lookup(frame, key, "clever_id")


def _created(clever_ids: pd.Series) -> list[str]:
    """Clever ``created``: the creation second an ObjectId starts with (its first 8 hex digits)."""
    text = np.frombuffer("".join(clever_ids.tolist()).encode("ascii"), dtype=np.uint8).reshape(-1, 24)[:, :8]
    nibbles = np.where(text >= ord("a"), text - ord("a") + 10, text - ord("0")).astype(np.int64)
    seconds = (nibbles << (4 * np.arange(7, -1, -1))).sum(axis=1)
    return _instants(pd.Series(pd.to_datetime(seconds, unit="s", utc=True)))


def _clever_common(frame: pd.DataFrame, district_id: str) -> dict[str, Sequence[object]]:
    return {
        "id": _texts(frame["clever_id"]),
        "created": _created(frame["clever_id"]),
        "district": [district_id] * len(frame),
        "last_modified": _instants(frame["last_modified"]),
    }


def _district_clever_id(state: WorldState) -> str:
    return str(state.district["clever_id"].iloc[0])


def _clever_districts(state: WorldState) -> list[dict[str, object]]:
    district = state.district
    return [{
        "id": _district_clever_id(state),
        "name": district["name"].iloc[0],
        "nces_id": district["nces_id"].iloc[0],
        # "sftp" is what Clever reports for districts syncing by SFTP or CSV upload.
        "sis_type": "sftp",
        "launch_date": _days(district["last_modified"].dt.tz_localize(None).dt.normalize())[0],
        "login_methods": ["Clever Passwords"],
    }]


def _clever_schools(state: WorldState) -> list[dict[str, object]]:
    schools = _sorted(state.schools[state.schools["status"] == "active"], "clever_id")
    return _records({
        **_clever_common(schools, _district_clever_id(state)),
        "name": _texts(schools["name"]),
        "school_number": _texts(schools["school_number"]),
        "sis_id": _texts(schools["school_number"]),
        "low_grade": schools["low_grade"].map(CLEVER_GRADES).tolist(),
        "high_grade": schools["high_grade"].map(CLEVER_GRADES).tolist(),
    })


def _active(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame["status"] == "active"]


def _clever_roles(state: WorldState, users: pd.DataFrame) -> list[dict[str, object]]:
    """Each user's ``roles`` object (one role each: the world has no multi-role users)."""
    school = _nullable(users["school_key"].map(_clever_ids(state.schools, "school_key")))
    ids, sis, state_ids = _texts(users["clever_id"]), _texts(users["sis_id"]), _nullable(users["state_id"])
    usernames = _texts(users["username"])
    grades = _nullable(users["grade"].map(CLEVER_GRADES))
    dob = _days(users["birth_date"], _us_date)
    gender = _texts(users["gender"])
    child = _nullable(users["guardian_of"].map(_clever_ids(state.persons, "person_key")))
    # A student's school enrollment starts with their first seat there (a mover's transfer day).
    seats = _active(state.enrollments)
    seats = seats[seats["role"] == "student"]
    first_seat = seats.groupby("person_key")["begin_date"].min()
    school_start = _days(users["person_key"].map(first_seat))
    roles: list[dict[str, object]] = []
    for i, role in enumerate(_texts(users["role"])):
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


def _clever_users(state: WorldState) -> list[dict[str, object]]:
    users = _sorted(_active(state.persons), "clever_id")
    names = [{"first": f, "middle": m, "last": la} for f, m, la in zip(
        _nullable(users["given_name"]), _nullable(users["middle_name"]), _nullable(users["family_name"]), strict=True)]
    return _records({
        **_clever_common(users, _district_clever_id(state)),
        "email": _nullable(users["email"]),
        "name": names,
        "roles": _clever_roles(state, users),
    })


def _clever_sections(state: WorldState) -> list[dict[str, object]]:
    sections = _sorted(_active(state.classes), "clever_id")
    user_id = _clever_ids(state.persons, "person_key")
    seats = state.enrollments.assign(user=state.enrollments["person_key"].map(user_id))
    # Implicit enrollments: only current (not deleted) seats show, ascending by user id.
    current = _active(seats).sort_values("user")
    pupils, staff = current[current["role"] == "student"], current[current["role"] == "teacher"]
    primary = _lookup(current[current["is_primary"]], "class_key", "user")
    # A roster change touches the section: its last_modified is its latest seat change.
    touched = sections["class_key"].map(seats.groupby("class_key")["last_modified"].max())
    last_modified = sections["last_modified"].where(~(touched > sections["last_modified"]), touched)
    # Clever sections have one term: a class spanning both semesters belongs to the school year.
    term = _term_ids(state, sections["term_keys"], "clever_id")
    year = str(state.terms.loc[state.terms["session_type"] == "schoolYear", "clever_id"].iloc[0])
    term_id = term.where(~term.str.contains(","), year)
    school_number = sections["school_key"].map(_lookup(state.schools, "school_key", "school_number"))
    keys = sections["class_key"]
    return _records({
        **_clever_common(sections.assign(last_modified=last_modified), _district_clever_id(state)),
        "course": _texts(sections["course_key"].map(_clever_ids(state.courses, "course_key"))),
        "school": _texts(sections["school_key"].map(_clever_ids(state.schools, "school_key"))),
        "term_id": term_id.tolist(),
        "name": _texts(sections["title"]),
        "period": _texts(sections["period"]),
        "subject": sections["subject"].map(CLEVER_SUBJECTS).tolist(),
        "grade": sections["grade"].map(CLEVER_GRADES).tolist(),
        "sis_id": _texts(school_number + "-" + sections["class_code"]),
        "section_number": _texts(sections["class_code"]),
        "teacher": _nullable(keys.map(primary)),
        "teachers": _group_lists(staff["class_key"], staff["user"].tolist(), keys),
        "students": _group_lists(pupils["class_key"], pupils["user"].tolist(), keys),
    })


def _clever_courses(state: WorldState) -> list[dict[str, object]]:
    courses = _sorted(_active(state.courses), "clever_id")
    return _records({
        "id": _texts(courses["clever_id"]),
        "district": [_district_clever_id(state)] * len(courses),
        "name": _texts(courses["title"]),
        "number": _texts(courses["course_code"]),
    })


def _clever_terms(state: WorldState) -> list[dict[str, object]]:
    terms = _sorted(_active(state.terms), "clever_id")
    return _records({
        "id": _texts(terms["clever_id"]),
        "district": [_district_clever_id(state)] * len(terms),
        "name": _texts(terms["title"]),
        "start_date": _days(terms["start_date"]),
        "end_date": _days(terms["end_date"]),
    })


_CLEVER_RENDERERS: dict[str, Callable[[WorldState], list[dict[str, object]]]] = {
    "districts": _clever_districts,
    "schools": _clever_schools,
    "users": _clever_users,
    "sections": _clever_sections,
    "courses": _clever_courses,
    "terms": _clever_terms,
}


def clever_records(state: WorldState, collection: str) -> list[dict]:
    """The Clever Data API v3.0 ``data`` objects of one collection, ascending by id.

    Args:
        state: The district on a day.
        collection: One of `CLEVER_COLLECTIONS`.

    Returns:
        JSON-ready dicts; deleted records (withdrawn students, their guardians, ended
        seats) are absent, as Clever has no status field.

    Raises:
        ValueError: For an unknown collection.
    """
    return _renderer(_CLEVER_RENDERERS, collection, "Clever")(state)


def _renderer(table: dict[str, Callable[[WorldState], list[dict[str, object]]]], collection: str,
              platform: str) -> Callable[[WorldState], list[dict[str, object]]]:
    try:
        return table[collection]
    except KeyError:
        raise ValueError(f"unknown {platform} collection {collection!r}; expected one of {tuple(table)}") from None


# --- OneRoster CSV bulk bundle --------------------------------------------------------------------

# Headers as in K12_FORMATS §1.1 (the 1.1 sets equal the real Grand Bend files).
_CSV_HEADERS: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "status", "dateLastModified", "name", "type", "identifier", "parentSourcedId"),
    "academicSessions.csv": ("sourcedId", "status", "dateLastModified", "title", "type", "startDate", "endDate",
                             "parentSourcedId", "schoolYear"),
    "courses.csv": ("sourcedId", "status", "dateLastModified", "schoolYearSourcedId", "title", "courseCode", "grades",
                    "orgSourcedId", "subjects", "subjectCodes"),
    "classes.csv": ("sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
                    "classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes",
                    "periods"),
    "enrollments.csv": ("sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
                        "userSourcedId", "role", "primary", "beginDate", "endDate"),
    "demographics.csv": ("sourcedId", "status", "dateLastModified", "birthDate", "sex", "americanIndianOrAlaskaNative",
                         "asian", "blackOrAfricanAmerican", "nativeHawaiianOrOtherPacificIslander", "white",
                         "demographicRaceTwoOrMoreRaces", "hispanicOrLatinoEthnicity", "countryOfBirthCode",
                         "stateOfBirthAbbreviation", "cityOfBirth", "publicSchoolResidenceStatus"),
}
_USERS_HEADERS: dict[str, tuple[str, ...]] = {
    "1.1": ("sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role", "username", "userIds",
            "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades",
            "password"),
    "1.2": ("sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds", "givenName", "familyName",
            "middleName", "identifier", "email", "sms", "phone", "agentSourcedIds", "grades", "password",
            "userMasterIdentifier", "preferredGivenName", "preferredMiddleName", "preferredFamilyName",
            "primaryOrgSourcedId", "pronouns"),
}
_ROLES_HEADER = ("sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role", "beginDate",
                 "endDate", "orgSourcedId", "userProfileSourcedId")
_MANIFEST_FILES: dict[str, tuple[str, ...]] = {
    "1.1": ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
            "demographics", "enrollments", "lineItems", "orgs", "resources", "results", "users"),
    "1.2": ("academicSessions", "categories", "classes", "classResources", "courses", "courseResources",
            "demographics", "enrollments", "lineItemLearningObjectiveIds", "lineItems", "lineItemScoreScales", "orgs",
            "resources", "resultLearningObjectiveIds", "results", "resultScoreScales", "roles", "scoreScales",
            "userProfiles", "userResources", "users"),
}


def _csv_column(values: Iterable[object] | pd.Series | str, rows: int) -> pa.Array:
    """One CSV column as Arrow text, blanks for NA, quoted only where the value needs it.

    Real OneRoster files quote just the multi-value cells (``"a,b"``); Arrow's CSV writer
    quotes every string, so the lines are built with Arrow string kernels instead.
    """
    if isinstance(values, str):
        needs_quotes = any(c in values for c in '",\r\n')
        cell = '"' + values.replace('"', '""') + '"' if needs_quotes else values
        return pa.repeat(pa.scalar(cell, pa.string()), rows)
    text = pc.fill_null(pa.array(pd.Series(values).reset_index(drop=True).astype(STRING)).cast(pa.string()), "")
    special = pc.match_substring_regex(text, '[",\r\n]')
    if not pc.any(special).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(special, quoted, text)


def _csv(table: dict[str, Iterable[object] | pd.Series | str], header: tuple[str, ...], rows: int) -> bytes:
    """A CSV file (LF line ends) of the header's columns; columns not in ``table`` are blank."""
    columns = [_csv_column(table.get(name, ""), rows) for name in header]
    lines = pc.binary_join_element_wise(*columns, ",").to_pylist() if rows else []
    return "\n".join([",".join(header), *lines]).encode("utf-8") + b"\n"


def _csv_manifest(version: str, written: set[str]) -> bytes:
    rows = [("manifest.version", "1.0"), ("oneroster.version", version),
            ("source.systemName", "edassets sandbox"), ("source.systemCode", "edassets-sandbox")]
    rows += [(f"file.{name}", "bulk" if name in written else "absent") for name in _MANIFEST_FILES[version]]
    return _csv({"propertyName": [r[0] for r in rows], "value": [r[1] for r in rows]}, ("propertyName", "value"),
                len(rows))


def oneroster_csv_files(state: WorldState, version: str = "1.1") -> dict[str, bytes]:
    """A OneRoster CSV bulk bundle of the district: ``manifest.csv`` plus one file per table.

    Bulk semantics (K12_FORMATS §1.1): every table is a complete snapshot, ``status`` and
    ``dateLastModified`` are empty, and deleted records (withdrawn students, their
    guardians, ended seats) are absent. 1.1 keeps role and orgs in users.csv; 1.2 moves
    them to roles.csv and names district administrators ``districtAdministrator``.

    Args:
        state: The district on a day.
        version: ``"1.1"`` or ``"1.2"``.

    Returns:
        File name -> bytes (UTF-8, LF line ends), rows sorted by sourcedId.

    Raises:
        ValueError: For an unknown version.
    """
    if version not in _USERS_HEADERS:
        raise ValueError(f"OneRoster CSV version must be one of {tuple(_USERS_HEADERS)}, got {version!r}")
    district = state.district
    schools = _sorted(_active(state.schools), "sourced_id")
    terms = _sorted(_active(state.terms), "sourced_id")
    courses = _sorted(_active(state.courses), "sourced_id")
    classes = _sorted(_active(state.classes), "sourced_id")
    persons = _sorted(_active(state.persons), "sourced_id")
    enrollments = _sorted(_active(_enrollment_view(state)), "sourced_id")
    school_sid = _lookup(state.schools, "school_key", "sourced_id")
    term_sid = _lookup(state.terms, "term_key", "sourced_id")
    files: dict[str, bytes] = {}

    orgs = pd.concat([
        pd.DataFrame({"sourcedId": district["sourced_id"], "name": district["name"], "type": "district",
                      "identifier": district["nces_id"]}),
        pd.DataFrame({"sourcedId": schools["sourced_id"], "name": schools["name"], "type": "school",
                      "identifier": schools["school_number"], "parentSourcedId": district["sourced_id"].iloc[0]}),
    ], ignore_index=True).sort_values("sourcedId")
    files["orgs.csv"] = _csv(orgs.to_dict("list"), _CSV_HEADERS["orgs.csv"], len(orgs))
    files["academicSessions.csv"] = _csv({
        "sourcedId": terms["sourced_id"], "title": terms["title"], "type": terms["session_type"],
        "startDate": _days(terms["start_date"]), "endDate": _days(terms["end_date"]),
        "parentSourcedId": terms["parent_key"].map(term_sid), "schoolYear": terms["school_year"].astype(str),
    }, _CSV_HEADERS["academicSessions.csv"], len(terms))
    files["courses.csv"] = _csv({
        "sourcedId": courses["sourced_id"], "schoolYearSourcedId": [_school_year_id(state)] * len(courses),
        "title": courses["title"], "courseCode": courses["course_code"], "grades": courses["grade_levels"],
        "orgSourcedId": courses["school_key"].map(school_sid), "subjects": courses["subject"],
    }, _CSV_HEADERS["courses.csv"], len(courses))
    files["classes.csv"] = _csv({
        "sourcedId": classes["sourced_id"], "title": classes["title"], "grades": classes["grade"],
        "courseSourcedId": classes["course_key"].map(_lookup(state.courses, "course_key", "sourced_id")),
        "classCode": classes["class_code"], "classType": ["scheduled"] * len(classes),
        "schoolSourcedId": classes["school_key"].map(school_sid),
        # A year-long class lists both semesters: the quoted multi-value cell of real files.
        "termSourcedIds": _term_ids(state, classes["term_keys"], "sourced_id"),
        "subjects": classes["subject"], "periods": classes["period"],
    }, _CSV_HEADERS["classes.csv"], len(classes))

    owners, agents = _agents(persons)
    pairs = pd.DataFrame({"owner": owners, "agent": agents}).sort_values("agent")
    agent_lists = _group_lists(pairs["owner"], pairs["agent"].tolist(), persons["sourced_id"])
    agent_cells = [",".join(ids) for ids in agent_lists]
    orgs_of_person = _person_orgs(state, persons)
    user_ids = "{SIS:" + persons["sis_id"] + "}" + ("," + "{state:" + persons["state_id"] + "}").fillna("")
    users: dict[str, Iterable[object] | pd.Series] = {
        "sourcedId": persons["sourced_id"], "enabledUser": ["true"] * len(persons), "username": persons["username"],
        "userIds": user_ids, "givenName": persons["given_name"], "familyName": persons["family_name"],
        "middleName": persons["middle_name"], "identifier": persons["sis_id"], "email": persons["email"],
        "agentSourcedIds": agent_cells, "grades": persons["grade"],
    }
    if version == "1.1":
        users |= {"orgSourcedIds": orgs_of_person, "role": persons["role"]}
    else:
        users |= {"userMasterIdentifier": persons["state_id"], "primaryOrgSourcedId": orgs_of_person}
        year = terms[terms["session_type"] == "schoolYear"]
        begin, end = _days(year["start_date"])[0], _days(year["end_date"])[0]
        files["roles.csv"] = _csv({
            # roles.csv needs a sourcedId of its own; deriving it keeps the bundle deterministic.
            "sourcedId": "r-" + persons["sourced_id"], "userSourcedId": persons["sourced_id"],
            "roleType": ["primary"] * len(persons), "role": persons["role"].replace(_ONEROSTER_12_ROLES),
            "beginDate": [begin] * len(persons), "endDate": [end] * len(persons), "orgSourcedId": orgs_of_person,
        }, _ROLES_HEADER, len(persons))
    files["users.csv"] = _csv(users, _USERS_HEADERS[version], len(persons))
    files["enrollments.csv"] = _csv({
        "sourcedId": enrollments["sourced_id"], "classSourcedId": enrollments["class_sid"],
        "schoolSourcedId": enrollments["school_sid"], "userSourcedId": enrollments["user_sid"],
        "role": enrollments["role"], "primary": np.where(enrollments["is_primary"].to_numpy(), "true", "false"),
        "beginDate": _days(enrollments["begin_date"]), "endDate": _days(enrollments["end_date"]),
    }, _CSV_HEADERS["enrollments.csv"], len(enrollments))
    students = persons[persons["role"] == "student"]
    files["demographics.csv"] = _csv({
        "sourcedId": students["sourced_id"], "birthDate": _days(students["birth_date"]),
        "sex": students["gender"].map(_SEX),
    }, _CSV_HEADERS["demographics.csv"], len(students))
    written = {name.removesuffix(".csv") for name in files}
    return {"manifest.csv": _csv_manifest(version, written), **dict(sorted(files.items()))}


# --- NWEA MAP Growth export --------------------------------------------------------------------------


def _quoted_csv(table: dict[str, pd.Series | list[str]], header: tuple[str, ...], rows: int) -> bytes:
    """NWEA's layout: an unquoted header line, then every value quoted (blanks as ``""``)."""
    blank = pa.array([""] * rows, type=pa.string())
    arrays = [pa.array(pd.Series(table[c]).astype(STRING).fillna("").tolist(), type=pa.string()) if c in table
              else blank for c in header]
    out = io.BytesIO()
    out.write((",".join(header) + "\n").encode("utf-8"))
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=list(header)), out, options)
    return out.getvalue()


def nwea_map_files(state: WorldState) -> dict[str, bytes]:
    """A MAP Growth data export: ``AssessmentResults.csv`` and ``StudentsBySchool.csv``.

    Results keep the school a student was tested in, and withdrawn students stay in the
    export: NWEA has no deletions, each export is the whole testing term (K12_FORMATS §1.8).

    Args:
        state: The district on a day.

    Returns:
        File name -> bytes; results sorted by TestID, students by StudentID.
    """
    results = _sorted(state.assessment_results, "test_id")
    persons = state.persons.set_index("person_key")
    schools = state.schools.set_index("school_key")
    district = state.district.iloc[0]
    student = persons.loc[results["person_key"]]
    school = schools.loc[results["school_key"]]
    m = len(results)
    files = {"AssessmentResults.csv": _quoted_csv({
        "TermName": results["term_name"], "DistrictName": [district["name"]] * m,
        "District_StateID": [district["nces_id"]] * m, "SchoolName": school["name"].tolist(),
        "School_StateID": (district["nces_id"] + school["school_number"]).tolist(),
        "StudentID": student["sis_id"].tolist(), "Student_StateID": student["state_id"].fillna("").tolist(),
        "Subject": results["subject"], "Course": results["course"], "GrowthMeasureYN": ["TRUE"] * m,
        "NormsReferenceData": ["2020"] * m, "WISelectedAYFall": ["1"] * m, "TestType": ["Survey With Goals"] * m,
        "TestName": results["test_name"], "TestID": results["test_id"], "TestStartDate": results["local_date"],
        "TestStartTime": results["local_time"], "TestDurationMinutes": results["duration_minutes"],
        "TestRITScore": results["rit_score"], "TestStandardError": results["standard_error"].map("{:.2f}".format),
        "TestPercentile": results["percentile"], "AchievementQuintile": results["quintile"],
    }, NWEA_ASSESSMENT_RESULTS_HEADER, m)}

    tested = results.drop_duplicates(["term_name", "person_key"])
    tested = tested.assign(sis_id=tested["person_key"].map(persons["sis_id"])).sort_values("sis_id", kind="stable")
    who = persons.loc[tested["person_key"]]
    n = len(tested)
    files["StudentsBySchool.csv"] = _quoted_csv({
        "TermName": tested["term_name"], "DistrictName": [district["name"]] * n,
        "SchoolName": schools.loc[tested["school_key"], "name"].tolist(),
        "StudentLastName": who["family_name"].tolist(), "StudentFirstName": who["given_name"].tolist(),
        "StudentMI": who["middle_name"].str.slice(0, 1).fillna("").tolist(), "StudentID": who["sis_id"].tolist(),
        "StudentDateOfBirth": _days(who["birth_date"].reset_index(drop=True), lambda d: d.strftime("%m/%d/%Y")),
        "StudentGender": who["gender"].tolist(), "Grade": tested["grade_at_test"].map(_NWEA_GRADES).tolist(),
    }, NWEA_STUDENTS_BY_SCHOOL_HEADER, n)
    return files

