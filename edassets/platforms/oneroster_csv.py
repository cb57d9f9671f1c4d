"""OneRoster 1.0, 1.1 and 1.2 CSV bundles (1EdTech): the authoritative roster of many districts.

Delivery: a flat zip (or a folder) of CSV files handed over by the district or dropped by
its SIS nightly. `manifest.csv` (`propertyName,value`) says per file `bulk` (a complete
snapshot: records missing from it are gone), `delta` (changed rows only; deletions arrive
as `status=tobedeleted`) or `absent`.

Quirks this spec relies on (K12_FORMATS.md §1.1):
- 1.1 puts `role` and `orgSourcedIds` in users.csv; 1.2 moves them to roles.csv
  (`roleType=primary` is the one we keep) and adds `primaryOrgSourcedId`.
- Real files carry a UTF-8 BOM, CRLF, no final newline, header columns in any order and
  vendor extension columns; the CSV reader and case-insensitive headers absorb all of it.
- Booleans arrive as `true` and `TRUE`; 1.2 files in the wild write `1/05/2023` although
  the spec says ISO 8601, so dates accept both.
- `status=inactive` is a OneRoster 1.0 value that 1.1/1.2 files still contain; it means gone.
- Grades are CEDS codes (`09`, `KG`) but multi-valued; a person keeps the first.
- Orgs of every type but district are `school` rows with their `org_type` (a department,
  a local, state or national org); users, classes and courses may point at any of them or
  at the district org.
- OneRoster 1.0 bundles (manifest `oneroster.version` 1.0) name three things differently:
  a singular `grade` in users and classes, a singular `termSourcedId` in classes, and
  demographics keyed by `userSourcedId` instead of `sourcedId`. Each is an alternative
  header name, so a bundle is read by the columns it has, whatever its manifest says (SIS
  export tools also write `termSourcedId` into otherwise 1.1-shaped classes.csv files).
"""

import pandas as pd

from edassets.adapters.codes import first_item
from edassets.adapters.sources import Files
from edassets.adapters.spec import Derived, FeedSpec, Join, ManifestRule, ParseContext, PlatformSpec, col
from edassets.adapters.transforms import boolean, integer, iso_or_us_date, lower_text, multi_value
from edassets.platforms.oneroster_common import (
    ACTIVE,
    CLASS_TYPE,
    DISTRICT_ORG_TYPES,
    ENROLLMENT_ROLE,
    IDENTIFIER_FIELDS,
    ORG_TYPE,
    SCHOOL_ORG_TYPES,
    SESSION_TYPE,
    USER_ROLE,
)
from edassets.schema import entities as e
from edassets.schema.grades import first_ceds_grade, to_ceds_grade_list

PLATFORM = "oneroster_csv"

def _state_id(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    # userIds holds typed ids such as "{Local:863},{State:604822}"; only a state id is ours to keep.
    found = source["userIds"].str.extract(r"\{\s*(?i:state|stateid|state_id)\s*:\s*([^}]+?)\s*\}", expand=False)
    return found.astype(pd.StringDtype("pyarrow"))


STATE_ID = Derived(sources=(("userIds",),), fn=_state_id, rule="OneRoster userIds", may_be_empty=True)
GRADES = col("grades", "grade", parse=to_ceds_grade_list, rule="CEDS grade levels")
DATE = iso_or_us_date

FEEDS = (
    FeedSpec(
        name="districts",
        entity=e.DISTRICT,
        description="The district org (orgs.csv rows of type district).",
        source=Files("orgs.csv"),
        where=("type", DISTRICT_ORG_TYPES),
        fields=({"name": col("name"), "source_id": col("sourcedId"), "state_id": col("identifier"), "active": ACTIVE},),
    ),
    FeedSpec(
        name="schools",
        entity=e.SCHOOL,
        description="Schools and every other org below or beside the district (orgs.csv rows of any type but district).",
        source=Files("orgs.csv"),
        where=("type", SCHOOL_ORG_TYPES),
        fields=({
            "school_id": col("sourcedId"), "name": col("name"), "org_type": col("type", parse=ORG_TYPE),
            "school_number": col("identifier"),
            "parent_id": col("parentSourcedId"), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="academic_sessions",
        entity=e.ACADEMIC_SESSION,
        description="School years, semesters, terms and grading periods (academicSessions.csv).",
        source=Files("academicSessions.csv"),
        fields=({
            "session_id": col("sourcedId"), "title": col("title"), "session_type": col("type", parse=SESSION_TYPE),
            "start_date": col("startDate", parse=DATE, rule="date"), "end_date": col("endDate", parse=DATE, rule="date"),
            "parent_id": col("parentSourcedId"), "school_year": col("schoolYear", parse=integer, rule="year"),
            "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="courses",
        entity=e.COURSE,
        description="The course catalogue (courses.csv).",
        source=Files("courses.csv"),
        fields=({
            "course_id": col("sourcedId"), "title": col("title"), "course_code": col("courseCode"),
            "school_year_id": col("schoolYearSourcedId"), "org_id": col("orgSourcedId"),
            "grade_levels": GRADES, "subjects": col("subjects", parse=multi_value), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="classes",
        entity=e.CLASS,
        description="Classes (sections) with their course, school and terms (classes.csv).",
        source=Files("classes.csv"),
        fields=({
            "class_id": col("sourcedId"), "title": col("title"), "class_code": col("classCode"),
            "class_type": col("classType", parse=CLASS_TYPE), "course_id": col("courseSourcedId"),
            "school_id": col("schoolSourcedId"), "term_ids": col("termSourcedIds", "termSourcedId", parse=multi_value),
            "grade_levels": GRADES, "subjects": col("subjects", parse=multi_value), "location": col("location"),
            "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="persons",
        entity=e.PERSON,
        description="Students, teachers, staff and guardians (users.csv + demographics.csv, 1.2 roles.csv).",
        source=Files("users.csv"),
        joins=(
            # 1.1/1.2 key demographics by the user's own sourcedId; 1.0 by userSourcedId, which
            # names the user outright wherever a file has it.
            Join("demographics.csv", on=(("sourcedId", ("userSourcedId", "sourcedId")),), keep=("birthDate",)),
            Join("roles.csv", on=(("sourcedId", "userSourcedId"),), keep=("role", "orgSourcedId"),
                 where=("roleType", frozenset({"primary"}))),
        ),
        fields=({
            "person_id": col("sourcedId"),
            "role": col("role", "roles.role", parse=USER_ROLE),
            "given_name": col("givenName"), "middle_name": col("middleName"), "family_name": col("familyName"),
            "email": col("email", parse=lower_text), "username": col("username"),
            "sis_id": col("identifier"), "state_id": STATE_ID,
            "grade_level": col("grades", "grade", parse=first_ceds_grade, rule="CEDS grade level"),
            "birth_date": col("demographics.birthDate", parse=DATE, rule="date"),
            "school_id": col("primaryOrgSourcedId", "orgSourcedIds", "roles.orgSourcedId", parse=first_item),
            "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="person_identifiers",
        entity=e.PERSON_IDENTIFIER,
        description="Identity crosswalk rows from users.csv: sourcedId, SIS identifier and email per person.",
        source=Files("users.csv"),
        required_values=("external_id",),
        fields=IDENTIFIER_FIELDS,
    ),
    FeedSpec(
        name="enrollments",
        entity=e.ENROLLMENT,
        description="Who is in which class, in which role (enrollments.csv).",
        source=Files("enrollments.csv"),
        fields=({
            "enrollment_id": col("sourcedId"), "class_id": col("classSourcedId"), "person_id": col("userSourcedId"),
            "school_id": col("schoolSourcedId"), "role": col("role", parse=ENROLLMENT_ROLE),
            "is_primary": col("primary", parse=boolean, rule="boolean"),
            "begin_date": col("beginDate", parse=DATE, rule="date"), "end_date": col("endDate", parse=DATE, rule="date"),
            "active": ACTIVE,
        },),
    ),
)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="OneRoster CSV",
    description="OneRoster 1.0/1.1/1.2 CSV bundles (zip or folder) handed over by a district or its SIS.",
    feeds=FEEDS,
    roster=True,
    manifest=ManifestRule("manifest.csv", "file.", {"bulk": "snapshot", "delta": "incremental", "absent": "absent"}),
)
