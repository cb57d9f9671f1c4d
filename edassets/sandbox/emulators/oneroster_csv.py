"""OneRoster CSV (K12_FORMATS §1.1): a bulk bundle, ``manifest.csv`` plus one file per table.

In bulk files ``status`` and ``dateLastModified`` are left empty and deleted records are
absent. 1.1 keeps role and orgs in users.csv; 1.2 moves them to roles.csv. The server hands
the bundle out as a flat zip (the CSV binding has no subfolders); onboarding writes it into
a folder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

import numpy as np
import pandas as pd

from edassets.sandbox import wire
from edassets.sandbox.emulators import oneroster
from edassets.sandbox.emulators.base import FileEmulator
from edassets.sandbox.world import WorldState

# OneRoster 1.2 moved district administrators to their own role value (K12_FORMATS §1.1).
_ONEROSTER_12_ROLES = {"administrator": "districtAdministrator"}


class OneRosterCsvEmulator(FileEmulator):
    """A district's OneRoster 1.1 CSV bulk bundle."""

    platform = "oneroster_csv"
    title = "OneRoster CSV"
    roster = True
    id_scheme = "sourced_id"
    collection_entities: ClassVar[Mapping[str, str]] = {
        f"{stem}.csv": entity for stem, entity in oneroster.COLLECTION_ENTITIES.items()}
    record_keys: ClassVar[Mapping[str, tuple[str, ...]]] = {
        name: ("sourcedId",) for name in ("orgs.csv", "academicSessions.csv", "courses.csv", "classes.csv",
                                          "users.csv", "enrollments.csv", "demographics.csv")}
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        "missing_id": {"users.csv": ("sourcedId",), "enrollments.csv": ("sourcedId",), "classes.csv": ("sourcedId",)},
        "out_of_range_score": {"users.csv": ("grades",)},
        "future_date": {"demographics.csv": ("birthDate",)},
        "dangling_reference": {
            "enrollments.csv": ("userSourcedId",), "classes.csv": ("courseSourcedId",),
            "users.csv": ("orgSourcedIds",),
        },
    }  # fmt: skip

    @classmethod
    def render(cls, state: WorldState) -> dict[str, bytes]:
        """The district's OneRoster 1.1 bundle (`bundle` renders 1.2 too)."""
        return bundle(state)

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """The district's roster in sourcedIds (`oneroster.roster_truth`)."""
        return oneroster.roster_truth(state)


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


def _csv_manifest(version: str, written: set[str]) -> bytes:
    rows = [("manifest.version", "1.0"), ("oneroster.version", version),
            ("source.systemName", "edassets sandbox"), ("source.systemCode", "edassets-sandbox")]
    rows += [(f"file.{name}", "bulk" if name in written else "absent") for name in _MANIFEST_FILES[version]]
    return wire.csv({"propertyName": [r[0] for r in rows], "value": [r[1] for r in rows]}, ("propertyName", "value"),
                len(rows))


def bundle(state: WorldState, version: str = "1.1") -> dict[str, bytes]:
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
    schools = wire.sorted_by(wire.active(state.schools), "sourced_id")
    terms = wire.sorted_by(wire.active(state.terms), "sourced_id")
    courses = wire.sorted_by(wire.active(state.courses), "sourced_id")
    classes = wire.sorted_by(wire.active(state.classes), "sourced_id")
    persons = wire.sorted_by(wire.active(state.persons), "sourced_id")
    enrollments = wire.sorted_by(wire.active(oneroster.enrollment_view(state)), "sourced_id")
    school_sid = wire.lookup(state.schools, "school_key", "sourced_id")
    term_sid = wire.lookup(state.terms, "term_key", "sourced_id")
    files: dict[str, bytes] = {}

    orgs = pd.concat([
        pd.DataFrame({"sourcedId": district["sourced_id"], "name": district["name"], "type": "district",
                      "identifier": district["nces_id"]}),
        pd.DataFrame({"sourcedId": schools["sourced_id"], "name": schools["name"], "type": "school",
                      "identifier": schools["school_number"], "parentSourcedId": district["sourced_id"].iloc[0]}),
    ], ignore_index=True).sort_values("sourcedId")
    files["orgs.csv"] = wire.csv(orgs.to_dict("list"), _CSV_HEADERS["orgs.csv"], len(orgs))
    files["academicSessions.csv"] = wire.csv({
        "sourcedId": terms["sourced_id"], "title": terms["title"], "type": terms["session_type"],
        "startDate": wire.days(terms["start_date"]), "endDate": wire.days(terms["end_date"]),
        "parentSourcedId": terms["parent_key"].map(term_sid), "schoolYear": terms["school_year"].astype(str),
    }, _CSV_HEADERS["academicSessions.csv"], len(terms))
    files["courses.csv"] = wire.csv({
        "sourcedId": courses["sourced_id"], "schoolYearSourcedId": [oneroster.school_year_id(state)] * len(courses),
        "title": courses["title"], "courseCode": courses["course_code"], "grades": courses["grade_levels"],
        "orgSourcedId": courses["school_key"].map(school_sid), "subjects": courses["subject"],
    }, _CSV_HEADERS["courses.csv"], len(courses))
    files["classes.csv"] = wire.csv({
        "sourcedId": classes["sourced_id"], "title": classes["title"], "grades": classes["grade"],
        "courseSourcedId": classes["course_key"].map(wire.lookup(state.courses, "course_key", "sourced_id")),
        "classCode": classes["class_code"], "classType": ["scheduled"] * len(classes),
        "schoolSourcedId": classes["school_key"].map(school_sid),
        # A year-long class lists both semesters: the quoted multi-value cell of real files.
        "termSourcedIds": wire.term_ids(state, classes["term_keys"], "sourced_id"),
        "subjects": classes["subject"], "periods": classes["period"],
    }, _CSV_HEADERS["classes.csv"], len(classes))

    owners, agents = oneroster.agent_pairs(persons)
    pairs = pd.DataFrame({"owner": owners, "agent": agents}).sort_values("agent")
    agent_lists = wire.group_lists(pairs["owner"], pairs["agent"].tolist(), persons["sourced_id"])
    agent_cells = [",".join(ids) for ids in agent_lists]
    orgs_of_person = oneroster.person_orgs(state, persons)
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
        begin, end = wire.days(year["start_date"])[0], wire.days(year["end_date"])[0]
        files["roles.csv"] = wire.csv({
            # roles.csv needs a sourcedId of its own; deriving it keeps the bundle deterministic.
            "sourcedId": "r-" + persons["sourced_id"], "userSourcedId": persons["sourced_id"],
            "roleType": ["primary"] * len(persons), "role": persons["role"].replace(_ONEROSTER_12_ROLES),
            "beginDate": [begin] * len(persons), "endDate": [end] * len(persons), "orgSourcedId": orgs_of_person,
        }, _ROLES_HEADER, len(persons))
    files["users.csv"] = wire.csv(users, _USERS_HEADERS[version], len(persons))
    files["enrollments.csv"] = wire.csv({
        "sourcedId": enrollments["sourced_id"], "classSourcedId": enrollments["class_sid"],
        "schoolSourcedId": enrollments["school_sid"], "userSourcedId": enrollments["user_sid"],
        "role": enrollments["role"], "primary": np.where(enrollments["is_primary"].to_numpy(), "true", "false"),
        "beginDate": wire.days(enrollments["begin_date"]), "endDate": wire.days(enrollments["end_date"]),
    }, _CSV_HEADERS["enrollments.csv"], len(enrollments))
    students = persons[persons["role"] == "student"]
    files["demographics.csv"] = wire.csv({
        "sourcedId": students["sourced_id"], "birthDate": wire.days(students["birth_date"]),
        "sex": students["gender"].map(oneroster.SEX),
    }, _CSV_HEADERS["demographics.csv"], len(students))
    written = {name.removesuffix(".csv") for name in files}
    return {"manifest.csv": _csv_manifest(version, written), **dict(sorted(files.items()))}


# --- NWEA MAP Growth export --------------------------------------------------------------------------
