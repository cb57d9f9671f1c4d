"""Each platform's view of the world in its real wire format (K12_FORMATS §1.1, §1.2, §1.8).

The bulk CSV bundle and the NWEA export are read back with the project's own platform
specs, which must accept every record: the sandbox speaks the formats the platforms expect.
"""

import csv
import io
import re
from collections import Counter
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import FeedSpec, ParseContext
from edassets.checks.validation import validate_batch
from edassets.handoffs import ParsedBatch, ValidatedBatch
from edassets.platforms import nwea_map, oneroster_csv
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.emulators import clever as clever_emulator
from edassets.sandbox.emulators import nwea_map as nwea_map_emulator
from edassets.sandbox.emulators import oneroster as oneroster_wire
from edassets.sandbox.emulators import oneroster_csv as oneroster_csv_emulator
from edassets.sandbox.world import GRADES, SUBJECTS, DistrictSpec, World, WorldOptions, WorldState
from edassets.schema.entities import ENTITIES_BY_NAME
from tests.shared_fixtures import shared_fixture

SYNC1, SYNC2 = date(2026, 1, 12), date(2026, 1, 19)
DISTRICT = DistrictSpec("birch-usd", "Birch Unified School District", 600, "oneroster_rest")
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
CLEVER_GRADE_ENUM = {"InfantToddler", "Preschool", "PreKindergarten", "TransitionalKindergarten", "Kindergarten",
                     *(str(g) for g in range(1, 14)), "PostGraduate", "Ungraded", "Other", ""}
CLEVER_SUBJECT_ENUM = {"english/language arts", "math", "science", "social studies", "language", "homeroom/advisory",
                       "interventions/online learning", "technology and engineering", "PE and health",
                       "arts and music", "other", ""}
GUIDREF_TYPES = {"orgs": "org", "academicSessions": "academicSession", "courses": "course", "classes": "class",
                 "users": "user"}


@pytest.fixture(scope="module")
def state() -> WorldState:
    return World.generate(WorldOptions(districts=(DISTRICT,), withdrawal_rate=0.02)).state(DISTRICT.district_id, SYNC2)


@pytest.fixture(scope="module")
def oneroster(state: WorldState) -> dict[str, list[dict]]:
    return {c: EMULATORS["oneroster_rest"].render(state, c) for c in oneroster_wire.COLLECTIONS}


@pytest.fixture(scope="module")
def clever(state: WorldState) -> dict[str, list[dict]]:
    return {c: EMULATORS["clever"].render(state, c) for c in clever_emulator.COLLECTIONS}


def _withdrawn(state: WorldState) -> pd.DataFrame:
    return state.persons[state.persons["status"] == "tobedeleted"]


# --- OneRoster 1.1 REST ------------------------------------------------------------------------


def test_oneroster_collections_are_complete_and_sorted(state: WorldState, oneroster: dict[str, list[dict]]) -> None:
    sizes = {c: len(r) for c, r in oneroster.items()}
    assert sizes == {
        "orgs": 1 + len(state.schools), "academicSessions": len(state.terms), "courses": len(state.courses),
        "classes": len(state.classes), "users": len(state.persons), "enrollments": len(state.enrollments),
        "demographics": int((state.persons["role"] == "student").sum()),
    }
    for records in oneroster.values():
        ids = [r["sourcedId"] for r in records]
        assert ids == sorted(ids)
        assert all(ISO_MS.fullmatch(r["dateLastModified"]) for r in records)
        assert {r["status"] for r in records} <= {"active", "tobedeleted"}


def _guidrefs(value: object) -> list[dict]:
    if isinstance(value, dict) and "sourcedId" in value:
        return [value]
    if isinstance(value, list):
        return [ref for item in value for ref in _guidrefs(item)]
    return []


def test_oneroster_references_are_guidrefs_that_resolve(oneroster: dict[str, list[dict]]) -> None:
    known = {(GUIDREF_TYPES[c], r["sourcedId"]) for c, records in oneroster.items() if c in GUIDREF_TYPES
             for r in records}
    seen = Counter()
    for records in oneroster.values():
        for record in records:
            for name, value in record.items():
                if name == "userIds":
                    continue
                for ref in _guidrefs(value):
                    assert set(ref) == {"href", "sourcedId", "type"}
                    plural = {v: k for k, v in GUIDREF_TYPES.items()}[ref["type"]]
                    assert ref["href"] == f"{oneroster_wire.BASE_PATH}/{plural}/{ref['sourcedId']}"
                    assert (ref["type"], ref["sourcedId"]) in known
                    seen[name] += 1
    assert {"parent", "children", "schoolYear", "org", "course", "school", "terms", "agents", "orgs", "user",
            "class"} <= set(seen)


def test_oneroster_users(state: WorldState, oneroster: dict[str, list[dict]]) -> None:
    users = {u["sourcedId"]: u for u in oneroster["users"]}
    person = state.persons[state.persons["role"] == "student"].iloc[0]
    user = users[person["sourced_id"]]
    assert user["role"] == "student" and user["enabledUser"] == "true"
    assert user["identifier"] == person["sis_id"] and user["grades"] == [person["grade"]]
    assert user["userIds"] == [{"type": "SIS", "identifier": person["sis_id"]},
                               {"type": "state", "identifier": person["state_id"]}]
    assert (user["givenName"], user["familyName"], user["email"]) == (
        person["given_name"], person["family_name"], person["email"])
    roles = Counter(u["role"] for u in users.values())
    assert roles.keys() == {"student", "teacher", "guardian", "administrator"}
    guardian = next(u for u in users.values() if u["role"] == "guardian")
    child = users[guardian["agents"][0]["sourcedId"]]
    assert guardian["sourcedId"] in {a["sourcedId"] for a in child["agents"]}
    district = next(o for o in oneroster["orgs"] if o["type"] == "district")
    assert guardian["orgs"][0]["sourcedId"] == district["sourcedId"]


def test_oneroster_deletions_stay_listed_for_delta_syncs(state: WorldState, oneroster: dict[str, list[dict]]) -> None:
    withdrawn = set(_withdrawn(state)["sourced_id"])
    users = {u["sourcedId"]: u for u in oneroster["users"]}
    assert withdrawn and all(users[w]["status"] == "tobedeleted" for w in withdrawn)
    # A delta filter dateLastModified>'<first sync>' returns every deletion.
    since = f"{SYNC1.isoformat()}T00:00:00.000Z"
    delta = {u["sourcedId"] for u in oneroster["users"] if u["dateLastModified"] > since}
    assert withdrawn <= delta
    gone_seats = [e for e in oneroster["enrollments"] if e["user"]["sourcedId"] in withdrawn]
    assert gone_seats and all(e["status"] == "tobedeleted" and e["dateLastModified"] > since for e in gone_seats)


def test_oneroster_enrollments_and_classes(oneroster: dict[str, list[dict]]) -> None:
    enrollment = oneroster["enrollments"][0]
    assert set(enrollment) == {"sourcedId", "status", "dateLastModified", "user", "class", "school", "role",
                               "primary", "beginDate", "endDate"}
    assert {e["primary"] for e in oneroster["enrollments"]} == {"true", "false"}
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", e["beginDate"]) for e in oneroster["enrollments"])
    terms = Counter(len(c["terms"]) for c in oneroster["classes"])
    assert terms.keys() == {1, 2}  # year-long classes list both semesters
    assert {s["type"] for s in oneroster["academicSessions"]} == {"schoolYear", "semester"}


def test_unknown_collection(state: WorldState) -> None:
    with pytest.raises(ValueError, match="unknown OneRoster collection 'students'"):
        EMULATORS["oneroster_rest"].render(state, "students")
    with pytest.raises(ValueError, match="unknown Clever collection 'events'"):
        EMULATORS["clever"].render(state, "events")


# --- Clever Data API v3.0 ------------------------------------------------------------------------------


def test_clever_ids_ascend_and_timestamps_are_iso(clever: dict[str, list[dict]]) -> None:
    for collection, records in clever.items():
        ids = [r["id"] for r in records]
        assert ids == sorted(ids) and all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids), collection
        for record in records:
            if "created" in record:
                assert ISO_MS.fullmatch(record["created"]) and ISO_MS.fullmatch(record["last_modified"])
                assert record["created"][:19] <= record["last_modified"][:19]


def test_clever_users(state: WorldState, clever: dict[str, list[dict]]) -> None:
    users = clever["users"]
    assert len(users) == int((state.persons["status"] == "active").sum())
    assert not {u["id"] for u in users} & set(_withdrawn(state)["clever_id"])  # Clever has no status
    assert Counter(next(iter(u["roles"])) for u in users).keys() == {"student", "teacher", "contact", "district_admin"}
    assert all(len(u["roles"]) == 1 and set(u["name"]) == {"first", "middle", "last"} for u in users)
    persons = state.persons.set_index("clever_id")
    students = [u for u in users if "student" in u["roles"]]
    for user in students:
        role = user["roles"]["student"]
        person = persons.loc[user["id"]]
        born = person["birth_date"]
        assert role["dob"] == f"{born.month}/{born.day}/{born.year}"  # M/D/YYYY, no zero padding
        assert role["grade"] == clever_emulator.GRADES[person["grade"]]
        assert role["sis_id"] == person["sis_id"] and role["school"] == role["schools"][0]
    assert {s["roles"]["student"]["grade"] for s in students} <= CLEVER_GRADE_ENUM
    assert any(s["roles"]["student"]["grade"] == "Kindergarten" for s in students)
    contact = next(u for u in users if "contact" in u["roles"])
    child = contact["roles"]["contact"]["student_relationships"][0]["student"]
    assert child in {s["id"] for s in students}


def test_clever_sections_hold_the_current_seats(state: WorldState, clever: dict[str, list[dict]]) -> None:
    sections = clever["sections"]
    assert len(sections) == len(state.classes)
    user_ids = {u["id"] for u in clever["users"]}
    terms = {t["id"] for t in clever["terms"]}
    year = next(t["id"] for t in clever["terms"] if t["name"].endswith("School Year"))
    for section in sections:
        assert section["teacher"] in section["teachers"]
        assert set(section["students"]) | set(section["teachers"]) <= user_ids  # no withdrawn student
        assert section["students"] == sorted(section["students"])
        assert section["term_id"] in terms
        assert section["subject"] in CLEVER_SUBJECT_ENUM and section["grade"] in CLEVER_GRADE_ENUM
    seats = state.enrollments
    current = seats[(seats["status"] == "active") & (seats["role"] == "student")]
    assert sum(len(s["students"]) for s in sections) == len(current)
    assert any(s["term_id"] == year for s in sections) and any(s["term_id"] != year for s in sections)


def test_every_world_grade_and_subject_has_a_clever_spelling() -> None:
    assert set(clever_emulator.GRADES) == set(GRADES) and set(clever_emulator.GRADES.values()) <= CLEVER_GRADE_ENUM
    assert set(clever_emulator.SUBJECTS) == {title for _, title in SUBJECTS}
    assert set(clever_emulator.SUBJECTS.values()) <= CLEVER_SUBJECT_ENUM


def test_clever_schools_terms_courses(state: WorldState, clever: dict[str, list[dict]]) -> None:
    assert [s["low_grade"] for s in clever["schools"]].count("PreKindergarten") >= 2
    assert (len(clever["schools"]), len(clever["courses"]), len(clever["terms"])) == (
        len(state.schools), len(state.courses), len(state.terms))
    assert clever["districts"][0]["id"] == state.district["clever_id"].iloc[0]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", t["start_date"]) for t in clever["terms"])


# --- OneRoster CSV bulk ---------------------------------------------------------------------------------


def _read_with_platform(files: dict[str, bytes], spec_feeds: tuple[FeedSpec, ...], platform: str,
                        **validate_kwargs: object) -> tuple[dict[str, ParsedBatch], dict[str, ValidatedBatch]]:
    """Parse and validate every feed as the pipeline would; references resolve within the drop."""
    tables = {name.lower(): read_csv_text(data) for name, data in files.items()}
    context = ParseContext(district_id=DISTRICT.district_id, timezone=ZoneInfo(DISTRICT.timezone), platform=platform)
    batches = {f.name: map_feed(f, tables, context=context, archive_key=f"sandbox/{f.file}", run_id="test",
                                sync_mode="snapshot") for f in spec_feeds}
    frames = {f.entity.name: batches[f.name].frame for f in spec_feeds}
    validate_kwargs.setdefault("reference_exists", lambda entity, column, values: values.isin(
        set(frames[entity][column or ENTITIES_BY_NAME[entity].id_column].dropna()) if entity in frames else set()))
    return batches, {f.name: validate_batch(f, batches[f.name], **validate_kwargs)  # type: ignore[arg-type]
                     for f in spec_feeds}


def test_csv_bundle_loads_cleanly_with_the_oneroster_csv_platform(state: WorldState) -> None:
    # 1.2 here (roles.csv, districtAdministrator); test_truth loads two 1.1 bundles the same way.
    files = oneroster_csv_emulator.bundle(state, "1.2")
    manifest = dict(csv.reader(io.StringIO(files["manifest.csv"].decode())))
    assert manifest["oneroster.version"] == "1.2" and manifest["file.users"] == manifest["file.roles"] == "bulk"
    batches, validated = _read_with_platform(files, oneroster_csv.SPEC.feeds, oneroster_csv.PLATFORM)
    for name, batch in validated.items():
        assert batches[name].errors.empty and batches[name].missing_columns == (), name
        assert batch.quarantined == 0, (name, batch.summary_by_rule())
    active = state.persons[state.persons["status"] == "active"]
    assert len(validated["persons"].rows) == len(active)
    assert len(validated["enrollments"].rows) == int((state.enrollments["status"] == "active").sum())
    assert len(validated["classes"].rows) == len(state.classes)
    # Withdrawn students are simply absent: bulk files have no deletions.
    assert not set(_withdrawn(state)["sourced_id"]) & set(validated["persons"].rows["person_id"])
    assert validated["persons"].rows["state_id"].notna().sum() == active["state_id"].notna().sum()


def test_csv_bundle_layout(state: WorldState) -> None:
    files = EMULATORS["oneroster_csv"].render(state)
    assert "file.roles" not in dict(csv.reader(io.StringIO(files["manifest.csv"].decode())))
    users = files["users.csv"].decode()
    header, first = users.split("\n")[:2]
    assert header == ("sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,"
                      "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password")
    assert first.split(",")[1:4] == ["", "", "true"]  # bulk: status and dateLastModified empty
    assert '"{SIS:' in users  # the multi-value userIds cell is quoted, plain cells are not
    rows = list(csv.DictReader(io.StringIO(files["enrollments.csv"].decode())))
    assert [r["sourcedId"] for r in rows] == sorted(r["sourcedId"] for r in rows)
    with pytest.raises(ValueError, match="version"):
        oneroster_csv_emulator.bundle(state, "1.0")


def _header(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


def test_headers_equal_the_real_sample_files(state: WorldState) -> None:
    oneroster = EMULATORS["oneroster_csv"].render(state)
    sample = shared_fixture("oneroster_csv/v1p1_edfi_lmstoolkit_grandbend")
    for real in sorted(sample.glob("*.csv")):
        if real.name == "orgs.csv":  # the sample adds address columns (metadata.*) after the standard ones
            assert _header(real.read_bytes())[: len(_header(oneroster["orgs.csv"]))] == _header(oneroster["orgs.csv"])
        else:
            assert _header(oneroster[real.name]) == _header(real.read_bytes()), real.name
    nwea = shared_fixture("assessment_vendor_exports/MAP_Growth/sample_anonymized_file.csv")
    assert list(nwea_map_emulator.ASSESSMENT_RESULTS_HEADER) == _header(nwea.read_bytes())
    assert _header(EMULATORS["nwea_map"].render(state)["AssessmentResults.csv"]) == list(nwea_map_emulator.ASSESSMENT_RESULTS_HEADER)


# --- NWEA MAP Growth --------------------------------------------------------------------------------------


def test_nwea_export_layout(state: WorldState) -> None:
    files = EMULATORS["nwea_map"].render(state)
    results = files["AssessmentResults.csv"].decode()
    header, first = results.split("\n")[:2]
    assert tuple(header.split(",")) == nwea_map_emulator.ASSESSMENT_RESULTS_HEADER
    assert first.startswith('"Fall 2025-2026","Birch Unified School District"')  # every value quoted
    rows = list(csv.DictReader(io.StringIO(results)))
    assert len(rows) == len(state.assessment_results)
    sis = set(state.persons["sis_id"])
    assert all(r["StudentID"] in sis and re.fullmatch(r"\d{2}/\d{2}/\d{4}", r["TestStartDate"]) for r in rows)
    roster = list(csv.DictReader(io.StringIO(files["StudentsBySchool.csv"].decode())))
    assert tuple(roster[0]) == nwea_map_emulator.STUDENTS_BY_SCHOOL_HEADER
    assert {r["Grade"] for r in roster} == {"K", *(str(g) for g in range(1, 13))}
    # Withdrawn students keep their results: an NWEA export is the whole testing term.
    tested_withdrawn = _withdrawn(state).query("role == 'student' and grade != 'PK'")["sis_id"]
    assert not tested_withdrawn.empty and set(tested_withdrawn) <= {r["StudentID"] for r in roster}


def test_nwea_export_loads_cleanly_with_the_nwea_platform(state: WorldState) -> None:
    lookup = pd.Series(state.persons["sourced_id"].array, index=pd.Index(state.persons["sis_id"].array))
    _, validated = _read_with_platform(
        EMULATORS["nwea_map"].render(state), nwea_map.SPEC.feeds, nwea_map.PLATFORM,
        reference_exists=lambda _, __, values: pd.Series(True, index=values.index),
        person_lookup=lambda ids, _: ids.map(lookup))
    batch = validated["assessment_results"]
    assert batch.quarantined == 0, batch.summary_by_rule()
    assert len(batch.rows) == len(state.assessment_results)
    assert set(batch.rows["grade_at_test"]) == set(GRADES) - {"PK"}
