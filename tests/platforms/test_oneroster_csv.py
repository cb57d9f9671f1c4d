"""The OneRoster CSV platform end to end: drop -> sync mode -> mapping -> validation.

The real Grand Bend 1.1 export proves the happy path; synthetic files written here cover
what it lacks (1.2 layout, deletions, bad codes). The synthetic 1.2 drop gives every source
column a distinct value, so each target column is shown to come from the right source column.
"""

import zipfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.file_drop import collect_files, select_drop
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import FeedSpec, ParseContext, SyncMode
from edassets.checks.validation import validate_batch
from edassets.handoffs import ParsedBatch, ValidatedBatch
from edassets.platforms.oneroster_csv import SPEC
from edassets.schema.entities import ENTITIES_BY_NAME
from tests.shared_fixtures import shared_fixture

CONTEXT = ParseContext(district_id="grand_bend", timezone=ZoneInfo("America/Chicago"), platform=SPEC.name)
RUN_ID = "run-oneroster"
FEED_NAMES = [feed.name for feed in SPEC.feeds]


@dataclass(frozen=True)
class FeedRun:
    """One feed's parsed batch and what validation made of it."""

    feed: FeedSpec
    batch: ParsedBatch
    validated: ValidatedBatch


def _parse(feed: FeedSpec, received: Mapping[str, bytes], sync_mode: SyncMode) -> ParsedBatch:
    tables = {name.lower(): read_csv_text(received[name.lower()]) for name in feed.files if name.lower() in received}
    return map_feed(feed, tables, context=CONTEXT, archive_key=f"archive/{feed.file}", run_id=RUN_ID, sync_mode=sync_mode)


def _run_drop(paths: list[Path]) -> dict[str, FeedRun]:
    """Every feed of a drop, validated against the ids the drop's other feeds parsed."""
    files, containers = collect_files(paths)
    roles = select_drop(files, containers, SPEC).by_role()
    data = {role: found[0].data for role, found in roles.items()}
    batches = {feed.name: _parse(feed, data, resolve_sync_mode(SPEC, feed, roles)) for feed in SPEC.feeds}
    frames = {feed.entity.name: batches[feed.name].frame for feed in SPEC.feeds}

    def reference_exists(entity_name: str, column: str | None, values: pd.Series) -> pd.Series:
        frame = frames[entity_name]
        return values.isin(set(frame[column or ENTITIES_BY_NAME[entity_name].id_column].dropna()))

    return {
        feed.name: FeedRun(feed, batches[feed.name], validate_batch(feed, batches[feed.name], reference_exists=reference_exists))
        for feed in SPEC.feeds
    }


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, object]]:
    return [{c: None if pd.isna(v) else v for c, v in row.items()} for row in frame[columns].to_dict("records")]


def _dtypes(feed: FeedSpec) -> dict[str, object]:
    return {f.name: f.kind.pandas_dtype for f in feed.entity.all_fields if f.name != "lineage_loaded_at"}


# --- the real Grand Bend ISD OneRoster 1.1 export --------------------------------------


@pytest.fixture(scope="module")
def grand_bend() -> dict[str, FeedRun]:
    return _run_drop([shared_fixture("oneroster_csv/v1p1_edfi_lmstoolkit_grandbend")])


@pytest.mark.parametrize("feed_name", FEED_NAMES)
def test_real_export_parses_and_validates_cleanly(grand_bend: dict[str, FeedRun], feed_name: str) -> None:
    run = grand_bend[feed_name]

    assert run.batch.errors.empty
    assert run.batch.missing_columns == ()
    assert run.batch.sync_mode == "snapshot"
    assert dict(run.batch.frame.dtypes) == _dtypes(run.feed)
    assert run.validated.quarantined == 0, run.validated.summary_by_rule()
    assert len(run.validated.rows) == len(run.batch.frame)


@pytest.mark.parametrize(
    ("feed_name", "count"),
    [("districts", 1), ("schools", 1), ("academic_sessions", 3), ("courses", 2), ("classes", 2), ("persons", 10),
     ("person_identifiers", 20), ("enrollments", 24)],
)
def test_real_export_counts(grand_bend: dict[str, FeedRun], feed_name: str, count: int) -> None:
    assert len(grand_bend[feed_name].validated.rows) == count


def test_real_export_roles(grand_bend: dict[str, FeedRun]) -> None:
    assert Counter(grand_bend["persons"].validated.rows["role"]) == {"student": 8, "teacher": 2}
    enrollments = grand_bend["enrollments"].validated.rows
    assert Counter(enrollments["role"]) == {"student": 20, "teacher": 4}
    assert _records(enrollments[enrollments["role"] == "teacher"], ["is_primary"]) == [{"is_primary": True}] * 4


def test_real_export_student(grand_bend: dict[str, FeedRun]) -> None:
    persons = grand_bend["persons"].validated.rows

    kyle = _records(persons[persons["person_id"] == "604874"], list(_dtypes(grand_bend["persons"].feed)))

    assert kyle == [{
        "district_id": "grand_bend", "person_id": "604874", "role": "student", "given_name": "Kyle",
        "middle_name": None, "family_name": "Hughes", "email": "kyle.hughes@studentgps.org", "username": "Kyle Hughes",
        "sis_id": None, "state_id": None, "grade_level": "09", "birth_date": pd.Timestamp("1997-07-31"),
        "school_id": "255901001", "source_platform": "oneroster_csv", "active": True, "deactivated_at": None,
        "lineage_archive_key": "archive/users.csv", "lineage_record_index": 1, "lineage_run_id": RUN_ID,
    }]


def test_real_export_teacher_from_padded_row(grand_bend: dict[str, FeedRun]) -> None:
    persons = grand_bend["persons"].validated.rows

    sara = _records(persons[persons["person_id"] == "207268"],
                    ["role", "given_name", "middle_name", "grade_level", "birth_date", "lineage_record_index"])

    assert sara == [{"role": "teacher", "given_name": "Sara", "middle_name": "Stacy", "grade_level": None,
                     "birth_date": None, "lineage_record_index": 9}]


def test_real_export_class_course_and_orgs(grand_bend: dict[str, FeedRun]) -> None:
    classes = grand_bend["classes"].validated.rows
    english = _records(classes[classes["class_id"] == "25590100101Trad120ENG112011"],
                       ["title", "class_code", "class_type", "course_id", "school_id", "term_ids", "grade_levels", "location"])

    assert english == [{
        "title": "ENG-1", "class_code": "English I", "class_type": "scheduled", "course_id": "ENG-1",
        "school_id": "255901001", "term_ids": "255901001_2021_2020-2021_Fall,255901001_2021_2020-2021_Spring",
        "grade_levels": "09", "location": "120",
    }]
    assert sorted(grand_bend["courses"].validated.rows["course_id"]) == ["03100500", "ENG-1"]
    assert _records(grand_bend["districts"].validated.rows, ["district_id", "name", "source_id"]) == [
        {"district_id": "grand_bend", "name": "Grand Bend ISD", "source_id": "255901"}]
    assert _records(grand_bend["schools"].validated.rows, ["school_id", "name", "parent_id"]) == [
        {"school_id": "255901001", "name": "Grand Bend High School", "parent_id": "255901"}]


def test_real_export_sessions(grand_bend: dict[str, FeedRun]) -> None:
    sessions = grand_bend["academic_sessions"].validated.rows

    assert _records(sessions, ["session_type", "start_date", "end_date", "school_year"]) == [
        {"session_type": "schoolYear", "start_date": pd.Timestamp("2020-08-17"), "end_date": pd.Timestamp("2021-05-28"),
         "school_year": 2021},
        {"session_type": "semester", "start_date": pd.Timestamp("2020-08-17"), "end_date": pd.Timestamp("2020-12-18"),
         "school_year": 2021},
        {"session_type": "semester", "start_date": pd.Timestamp("2021-01-04"), "end_date": pd.Timestamp("2021-05-28"),
         "school_year": 2021},
    ]


# --- a synthetic OneRoster 1.2 drop with a distinct value in every source column -------

ONEROSTER_1P2 = {
    "manifest.csv": (
        "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\nfile.orgs,bulk\nfile.academicSessions,bulk\n"
        "file.courses,bulk\nfile.classes,bulk\nfile.users,delta\nfile.roles,bulk\nfile.enrollments,bulk\n"
        "file.demographics,bulk\n"
    ),
    "orgs.csv": (
        "type,parentSourcedId,identifier,name,dateLastModified,status,sourcedId,ext_vendor_color\n"
        "district,,NCES-D,District Name,2023-05-01T18:25:43.511Z,active,ORG-D,ext-d\n"
        "school,ORG-D,SCH-NUM,School Name,2023-05-01T18:25:43.511Z,active,ORG-S,ext-s\n"
    ),
    "academicSessions.csv": (
        "schoolYear,endDate,startDate,type,title,sourcedId,parentSourcedId,status,dateLastModified\n"
        "2024,2024-05-31,2023-08-21,schoolYear,Year Title,SES-Y,,,\n"
        "2024,12/20/2023,8/21/2023,semester,Fall Title,SES-F,SES-Y,,\n"
    ),
    "courses.csv": (
        "subjectCodes,subjects,orgSourcedId,grades,courseCode,title,schoolYearSourcedId,dateLastModified,status,sourcedId\n"
        'SC-1,"Math, Science",ORG-S,"09, 10",CRS-CODE,Course Title,SES-Y,,,CRS-1\n'
    ),
    "classes.csv": (
        "periods,subjectCodes,subjects,termSourcedIds,schoolSourcedId,location,classType,classCode,courseSourcedId,"
        "grades,title,dateLastModified,status,sourcedId\n"
        'P-1,SC-2,Class Subject,"SES-F,SES-Y",ORG-S,Room 7,homeroom,CLS-CODE,CRS-1,KG,Class Title,,,CLS-1\n'
    ),
    "users.csv": (
        "\ufeffpronouns,primaryOrgSourcedId,preferredFamilyName,preferredMiddleName,preferredGivenName,"
        "userMasterIdentifier,password,grades,agentSourcedIds,phone,sms,email,identifier,middleName,familyName,"
        "givenName,userIds,username,enabledUser,dateLastModified,status,sourcedId,ext_vendor_nickname\r\n"
        'they,ORG-S,P-Family,P-Middle,P-Given,U-MASTER,U-PASS,"05,06",U-AGENT,U-PHONE,U-SMS,Ada.Lovelace@Example.ORG,'
        'SIS-1,U-Middle,U-Family,U-Given,"{Local:L-1},{State:S9}",U-username,TRUE,1/05/2023,active,U-1,U-nick\r\n'
        ",ORG-S,,,,,,,,,,t.teacher@example.org,SIS-2,,T-Family,T-Given,{Local:L-2},t.user,true,2023-01-05,active,U-2,"
    ),
    "roles.csv": (
        "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,orgSourcedId,userProfileSourcedId\n"
        "R-1,,,U-1,secondary,teacher,,,ORG-R1,\nR-2,,,U-1,primary,student,,,ORG-R2,\n"
        "R-3,,,U-2,primary,teacher,,,ORG-R3,\nR-4,,,U-2,Secondary,aide,,,ORG-R4,\n"
    ),
    "demographics.csv": "sourcedId,status,dateLastModified,birthDate,sex\nU-1,,,1/05/2011,female\n",
    "enrollments.csv": (
        "endDate,beginDate,primary,role,userSourcedId,schoolSourcedId,classSourcedId,dateLastModified,status,sourcedId\n"
        "2024-05-31,1/05/2023,false,student,U-1,ORG-S,CLS-1,,,ENR-1\n"
        "12/20/2023,2023-08-21,TRUE,teacher,U-2,ORG-S,CLS-1,,,ENR-2\n"
    ),
}

EXPECTED_1P2: dict[str, list[dict[str, object]]] = {
    "districts": [{"name": "District Name", "source_id": "ORG-D", "state_id": "NCES-D", "active": True}],
    "schools": [{"school_id": "ORG-S", "name": "School Name", "school_number": "SCH-NUM", "parent_id": "ORG-D"}],
    "academic_sessions": [
        {"session_id": "SES-Y", "title": "Year Title", "session_type": "schoolYear", "start_date": pd.Timestamp("2023-08-21"),
         "end_date": pd.Timestamp("2024-05-31"), "parent_id": None, "school_year": 2024},
        {"session_id": "SES-F", "title": "Fall Title", "session_type": "semester", "start_date": pd.Timestamp("2023-08-21"),
         "end_date": pd.Timestamp("2023-12-20"), "parent_id": "SES-Y", "school_year": 2024},
    ],
    "courses": [{"course_id": "CRS-1", "title": "Course Title", "course_code": "CRS-CODE", "school_year_id": "SES-Y",
                 "org_id": "ORG-S", "grade_levels": "09,10", "subjects": "Math,Science"}],
    "classes": [{"class_id": "CLS-1", "title": "Class Title", "class_code": "CLS-CODE", "class_type": "homeroom",
                 "course_id": "CRS-1", "school_id": "ORG-S", "term_ids": "SES-F,SES-Y", "grade_levels": "KG",
                 "subjects": "Class Subject", "location": "Room 7"}],
    "persons": [
        {"person_id": "U-1", "role": "student", "given_name": "U-Given", "middle_name": "U-Middle",
         "family_name": "U-Family", "email": "ada.lovelace@example.org", "username": "U-username", "sis_id": "SIS-1",
         "state_id": "S9", "grade_level": "05", "birth_date": pd.Timestamp("2011-01-05"), "school_id": "ORG-S",
         "active": True},
        {"person_id": "U-2", "role": "teacher", "given_name": "T-Given", "middle_name": None, "family_name": "T-Family",
         "email": "t.teacher@example.org", "username": "t.user", "sis_id": "SIS-2", "state_id": None,
         "grade_level": None, "birth_date": None, "school_id": "ORG-S", "active": True},
    ],
    "person_identifiers": [
        {"person_id": "U-1", "id_type": "sourced_id", "external_id": "U-1"},
        {"person_id": "U-2", "id_type": "sourced_id", "external_id": "U-2"},
        {"person_id": "U-1", "id_type": "sis_id", "external_id": "SIS-1"},
        {"person_id": "U-2", "id_type": "sis_id", "external_id": "SIS-2"},
        {"person_id": "U-1", "id_type": "email", "external_id": "ada.lovelace@example.org"},
        {"person_id": "U-2", "id_type": "email", "external_id": "t.teacher@example.org"},
    ],
    "enrollments": [
        {"enrollment_id": "ENR-1", "class_id": "CLS-1", "person_id": "U-1", "school_id": "ORG-S", "role": "student",
         "is_primary": False, "begin_date": pd.Timestamp("2023-01-05"), "end_date": pd.Timestamp("2024-05-31")},
        {"enrollment_id": "ENR-2", "class_id": "CLS-1", "person_id": "U-2", "school_id": "ORG-S", "role": "teacher",
         "is_primary": True, "begin_date": pd.Timestamp("2023-08-21"), "end_date": pd.Timestamp("2023-12-20")},
    ],
}


@pytest.fixture(scope="module")
def oneroster_1p2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FeedRun]:
    # Hand-made zips often wrap the files in one folder; the reader must not care.
    bundle = tmp_path_factory.mktemp("drop") / "oneroster_1p2.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for name, content in ONEROSTER_1P2.items():
            archive.writestr(f"export/{name}", content.encode())
    return _run_drop([bundle])


@pytest.mark.parametrize("feed_name", FEED_NAMES)
def test_1p2_every_target_column_gets_its_own_source_column(oneroster_1p2: dict[str, FeedRun], feed_name: str) -> None:
    run = oneroster_1p2[feed_name]
    expected = EXPECTED_1P2[feed_name]

    assert _records(run.batch.frame, list(expected[0])) == expected
    assert run.batch.errors.empty
    assert run.batch.missing_columns == ()
    # Vendor extension columns and columns the schema does not keep never leak into the batch.
    assert dict(run.batch.frame.dtypes) == _dtypes(run.feed)
    assert run.validated.quarantined == 0, run.validated.summary_by_rule()


def test_1p2_sync_modes_come_from_the_manifest(oneroster_1p2: dict[str, FeedRun]) -> None:
    modes = {name: run.batch.sync_mode for name, run in oneroster_1p2.items()}

    assert modes == {name: "incremental" if name in {"persons", "person_identifiers"} else "snapshot" for name in FEED_NAMES}


# --- single behaviours, on files written inline ----------------------------------------


def _everything_exists(_: str, __: str | None, ids: pd.Series) -> pd.Series:
    return pd.Series(True, index=ids.index)


def _validate(feed_name: str, files: Mapping[str, str]) -> FeedRun:
    feed = SPEC.feed(feed_name)
    batch = _parse(feed, {name.lower(): text.encode() for name, text in files.items()}, "incremental")
    return FeedRun(feed, batch, validate_batch(feed, batch, reference_exists=_everything_exists))


def _report(run: FeedRun) -> list[tuple[object, ...]]:
    return [tuple(None if pd.isna(v) else v for v in row)
            for row in run.validated.report[["lineage_record_index", "field", "rule", "value"]].itertuples(index=False)]


def test_status_marks_deletions() -> None:
    orgs = ("sourcedId,name,type,status\n"
            "s1,A,school,active\ns2,B,school,\ns3,C,school,tobedeleted\ns4,D,school,inactive\ns5,E,school,TOBEDELETED\n"
            "s6,F,school,deleted\n")

    run = _validate("schools", {"orgs.csv": orgs})

    assert _records(run.validated.rows, ["school_id", "active"]) == [
        {"school_id": "s1", "active": True}, {"school_id": "s2", "active": True}, {"school_id": "s3", "active": False},
        {"school_id": "s4", "active": False}, {"school_id": "s5", "active": False},
    ]
    assert _report(run) == [(5, "active", "OneRoster status: active, tobedeleted or inactive", "deleted")]


def test_booleans_in_any_case() -> None:
    enrollments = ("sourcedId,classSourcedId,userSourcedId,role,primary\n"
                   "e1,c,u,teacher,TRUE\ne2,c,u,teacher,true\ne3,c,u,teacher,False\ne4,c,u,student,\ne5,c,u,teacher,maybe\n")

    run = _validate("enrollments", {"enrollments.csv": enrollments})

    assert _records(run.validated.rows, ["is_primary"]) == [
        {"is_primary": True}, {"is_primary": True}, {"is_primary": False}, {"is_primary": None}]
    assert _report(run) == [(4, "is_primary", "boolean", "maybe")]


@pytest.mark.parametrize(
    "files",
    [
        pytest.param({"users.csv": "sourcedId,role\nu1,student\nu2,wizard\n"}, id="1.1-users-role"),
        pytest.param({"users.csv": "sourcedId\nu1\nu2\n",
                      "roles.csv": "userSourcedId,roleType,role\nu1,primary,student\nu2,secondary,student\nu2,primary,wizard\n"},
                     id="1.2-roles-csv"),
    ],
)
def test_unknown_role_is_quarantined(files: Mapping[str, str]) -> None:
    run = _validate("persons", files)

    assert list(run.validated.rows["person_id"]) == ["u1"]
    assert list(run.validated.quarantine["person_id"]) == ["u2"]
    assert _report(run) == [(1, "role", "OneRoster user role", "wizard")]


def test_a_birth_date_in_the_future_is_quarantined() -> None:
    run = _validate("persons", {"users.csv": "sourcedId,role\nu1,student\nu2,student\n",
                                "demographics.csv": "sourcedId,birthDate\nu1,2012-03-04\nu2,2112-03-04\n"})

    assert list(run.validated.rows["person_id"]) == ["u1"]
    assert [(field, rule) for _, field, rule, _ in _report(run)] == [("birth_date", "not in the future")]


@pytest.mark.parametrize(
    ("feed_name", "files", "field", "value"),
    [
        ("persons", {"users.csv": "sourcedId,role,grades\nu1,student,09\nu2,student,Grade 14\n"}, "grade_level", "Grade 14"),
        ("classes", {"classes.csv": 'sourcedId,title,courseSourcedId,schoolSourcedId,grades\n'
                                    'c1,T,k,s,"09,10"\nc2,T,k,s,"09,Grade 14"\n'}, "grade_levels", "09,Grade 14"),
    ],
)
def test_unknown_grade_is_quarantined_with_its_value(feed_name: str, files: Mapping[str, str], field: str,
                                                    value: str) -> None:
    run = _validate(feed_name, files)

    assert len(run.validated.rows) == 1
    assert len(run.validated.quarantine) == 1
    assert _report(run) == [(1, field, "CEDS grade levels" if field == "grade_levels" else "CEDS grade level", value)]


USER_IDS = {
    "u1": ("{Local:1},{State:S9}", "S9"),
    "u2": ("{ state : S 10 }", "S 10"),
    "u3": ("{LDAP:12},{StateID:X-1}", "X-1"),
    "u4": ("{Local:863}", None),
    "u5": ("", None),
}


@pytest.fixture(scope="module")
def user_ids() -> FeedRun:
    users = "sourcedId,role,userIds\n" + "".join(f'{person},student,"{ids}"\n' for person, (ids, _) in USER_IDS.items())
    return _validate("persons", {"users.csv": users})


@pytest.mark.parametrize("person_id", USER_IDS)
def test_state_id_from_user_ids(user_ids: FeedRun, person_id: str) -> None:
    rows = user_ids.validated.rows

    assert _records(rows[rows["person_id"] == person_id], ["state_id"]) == [{"state_id": USER_IDS[person_id][1]}]
    # Most users have no state id: that is not a failure.
    assert user_ids.validated.report.empty


# --- every org type, and OneRoster 1.0 bundles ------------------------------------------


def _folder_drop(root: Path, files: Mapping[str, str]) -> dict[str, FeedRun]:
    root.mkdir()
    for name, content in files.items():
        (root / name).write_text(content, encoding="utf-8")
    return _run_drop([root])


@pytest.mark.parametrize("org_type", ["school", "department", "local", "state", "national"])
def test_every_org_type_but_district_is_a_school_org(org_type: str) -> None:
    orgs = f"sourcedId,name,type,parentSourcedId\nD,District,district,\nO,Org,{org_type.title()},D\n"

    schools = _validate("schools", {"orgs.csv": orgs})
    districts = _validate("districts", {"orgs.csv": orgs})

    assert _records(schools.validated.rows, ["school_id", "org_type", "parent_id"]) == [
        {"school_id": "O", "org_type": org_type, "parent_id": "D"}]
    assert _records(districts.validated.rows, ["source_id"]) == [{"source_id": "D"}]
    assert schools.validated.quarantined == districts.validated.quarantined == 0


ONEROSTER_1P2_DEPARTMENT_ONLY = {
    "manifest.csv": "propertyName,value\nmanifest.version,1.0\noneroster.version,1.2\n",
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
                "D,,,District,district,,\nDEP,,,Science Department,department,,D\n",
    "academicSessions.csv": "sourcedId,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
                            "Y,Year,schoolYear,2023-08-21,2024-05-31,,2024\n",
    "courses.csv": "sourcedId,title,orgSourcedId,schoolYearSourcedId\nCRS,Biology,DEP,Y\n",
    "classes.csv": "sourcedId,title,courseSourcedId,schoolSourcedId,termSourcedIds\nCLS,Biology 1,CRS,DEP,Y\n",
    "users.csv": "sourcedId,givenName,familyName,primaryOrgSourcedId\nU-1,Ada,L,DEP\nU-2,Bo,M,D\n",
    "roles.csv": "sourcedId,userSourcedId,roleType,role,orgSourcedId\n"
                 "R-1,U-1,primary,student,DEP\nR-2,U-2,primary,districtAdministrator,D\n",
    "enrollments.csv": "sourcedId,classSourcedId,schoolSourcedId,userSourcedId,role\nE-1,CLS,DEP,U-1,student\n",
}


def test_a_bundle_whose_only_org_is_a_department_loads_it_and_everything_pointing_at_it(tmp_path: Path) -> None:
    runs = _folder_drop(tmp_path / "department", ONEROSTER_1P2_DEPARTMENT_ONLY)

    assert _records(runs["schools"].validated.rows, ["school_id", "org_type", "parent_id"]) == [
        {"school_id": "DEP", "org_type": "department", "parent_id": "D"}]
    assert _records(runs["persons"].validated.rows, ["person_id", "school_id"]) == [
        {"person_id": "U-1", "school_id": "DEP"}, {"person_id": "U-2", "school_id": "D"}]
    assert _records(runs["classes"].validated.rows, ["class_id", "school_id"]) == [{"class_id": "CLS", "school_id": "DEP"}]
    assert _records(runs["courses"].validated.rows, ["course_id", "org_id"]) == [{"course_id": "CRS", "org_id": "DEP"}]
    assert {name: run.validated.quarantined for name, run in runs.items()} == dict.fromkeys(FEED_NAMES, 0)


ONEROSTER_1P0 = {
    "manifest.csv": "propertyName,value\nmanifest.version,1.0\noneroster.version,1.0\nfile.orgs,bulk\n"
                    "file.academicSessions,bulk\nfile.courses,bulk\nfile.classes,bulk\nfile.users,bulk\n"
                    "file.enrollments,bulk\nfile.demographics,bulk\n",
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
                "D,,,District,district,,\nS,,,School,school,S-NUM,D\n",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId\n"
                            "Y,,,Year,schoolYear,2023-08-21,2024-05-31,\nT-1,,,Fall,term,2023-08-21,2023-12-20,Y\n",
    "courses.csv": "sourcedId,status,dateLastModified,title,courseCode,grade,orgSourcedId,subjects\n"
                   "CRS,,,Reading 3,R3,03,S,Reading\n",
    "classes.csv": "sourcedId,status,dateLastModified,title,grade,courseSourcedId,classCode,classType,location,"
                   "schoolSourcedId,termSourcedId,subjects\n"
                   "CLS,,,Reading 3A,03,CRS,R3A,scheduled,Room 1,S,T-1,Reading\n",
    "users.csv": "sourcedId,status,dateLastModified,orgSourcedIds,role,username,givenName,familyName,identifier,"
                 "email,grade\n"
                 "U-1,,,S,student,ada,Ada,L,SIS-1,ada@example.org,03\n"
                 "U-2,,,S,teacher,bo,Bo,M,SIS-2,bo@example.org,\n",
    "demographics.csv": "userSourcedId,status,dateLastModified,birthdate,sex\nU-1,,,2015-04-02,female\n",
    "enrollments.csv": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary\n"
                       "E-1,,,CLS,S,U-1,student,false\nE-2,,,CLS,S,U-2,teacher,true\n",
}


@pytest.fixture(scope="module")
def oneroster_1p0(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FeedRun]:
    return _folder_drop(tmp_path_factory.mktemp("drop") / "oneroster_1p0", ONEROSTER_1P0)


def test_1p0_singular_grade_term_and_user_keyed_demographics_land(oneroster_1p0: dict[str, FeedRun]) -> None:
    persons, classes, courses = (oneroster_1p0[name] for name in ("persons", "classes", "courses"))

    assert _records(persons.validated.rows, ["person_id", "grade_level", "birth_date", "school_id"]) == [
        {"person_id": "U-1", "grade_level": "03", "birth_date": pd.Timestamp("2015-04-02"), "school_id": "S"},
        {"person_id": "U-2", "grade_level": None, "birth_date": None, "school_id": "S"},
    ]
    assert _records(classes.validated.rows, ["class_id", "grade_levels", "term_ids"]) == [
        {"class_id": "CLS", "grade_levels": "03", "term_ids": "T-1"}]
    assert _records(courses.validated.rows, ["course_id", "grade_levels"]) == [{"course_id": "CRS", "grade_levels": "03"}]
    # Read by their 1.0 names, not reported as columns the file lacks.
    assert not {"grades", "termSourcedIds"} & {*persons.batch.missing_columns, *classes.batch.missing_columns}
    assert {name: run.validated.quarantined for name, run in oneroster_1p0.items()} == dict.fromkeys(FEED_NAMES, 0)


@pytest.mark.parametrize(
    "demographics",
    [
        pytest.param("sourcedId,birthDate\nu1,2012-03-04\n", id="1.1-keyed-by-sourcedId"),
        pytest.param("userSourcedId,birthdate\nu1,2012-03-04\n", id="1.0-keyed-by-userSourcedId"),
        pytest.param("sourcedId,userSourcedId,birthDate\nDEMO-9,u1,2012-03-04\n", id="own-id-and-userSourcedId"),
    ],
)
def test_demographics_join_on_whichever_user_key_the_file_has(demographics: str) -> None:
    run = _validate("persons", {"users.csv": "sourcedId,role\nu1,student\nu2,student\n", "demographics.csv": demographics})

    assert _records(run.validated.rows, ["person_id", "birth_date"]) == [
        {"person_id": "u1", "birth_date": pd.Timestamp("2012-03-04")}, {"person_id": "u2", "birth_date": None}]
