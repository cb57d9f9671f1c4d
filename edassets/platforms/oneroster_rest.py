"""OneRoster 1.1 REST (rostering service): the authoritative roster of districts whose SIS exposes it.

API: `{base}/ims/oneroster/v1p1/{orgs|academicSessions|courses|classes|users|enrollments|demographics}`,
JSON envelopes keyed by the plural collection name (`{"users": [...]}`), references as
GUIDRef objects (`{"href", "sourcedId", "type"}`). Auth: OAuth 2.0 client credentials
(many 1.1 vendors offer it beside OAuth 1.0a; K12_FORMATS §1.1). Paging: `limit`/`offset`
with `X-Total-Count` and an RFC 5988 `Link` header.

Incremental: `filter=dateLastModified>'<cursor>'` returns changed records only, deletions
included as `status: "tobedeleted"`; the first sync (no cursor yet) is a full listing and
is treated as a snapshot. Quirks: `enabledUser` and `primary` are strings ("true");
`userIds` is a list of typed ids (`{"type": "state", "identifier": ...}`); `grades` is a list.
Orgs of every type but district (department, local, state, national as well as school) are
`school` rows with their `org_type`, as in the CSV binding.
"""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.codes import json_field, json_fields
from edassets.adapters.http import OAuth2ClientCredentials, OffsetPaginator, RateLimit, RetryPolicy
from edassets.adapters.sources import Api, Endpoint, Incremental
from edassets.adapters.spec import ApiSpec, Derived, FeedSpec, Join, ParseContext, PlatformSpec, col
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

PLATFORM = "oneroster_rest"
API_ROOT = "/ims/oneroster/v1p1"
# Vendors default to 100 per page; 1000 keeps a 50k-student district at a few hundred requests.
PAGE_SIZE = 1000
CHANGED_SINCE = Incremental(cursor_field="dateLastModified", param="filter", template="dateLastModified>'{value}'")


def _collection(name: str, *, incremental: bool = True) -> Endpoint:
    return Endpoint(path=f"{API_ROOT}/{name}", records_path=name, incremental=CHANGED_SINCE if incremental else None)


def _state_id(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    # userIds is flattened to sorted-key JSON: [{"identifier":"S1","type":"state"}, ...]
    found = source["userIds"].str.extract(r'"identifier":"([^"]*)","type":"(?i:state|stateid)"', expand=False)
    return found.astype(pd.StringDtype("pyarrow"))


def _auth(credentials: Mapping[str, str], base_url: str) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        token_url=f"{base_url}/oauth/token",
        client_id=credentials["client_id"],
        client_secret=credentials["client_secret"],
        scope="https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly",
    )


REF = json_field("sourcedId")
DATE = iso_or_us_date

FEEDS = (
    FeedSpec(
        name="districts",
        entity=e.DISTRICT,
        description="The district org (orgs of type district).",
        source=Api(_collection("orgs")),
        where=("type", DISTRICT_ORG_TYPES),
        fields=({"name": col("name"), "source_id": col("sourcedId"), "state_id": col("identifier"), "active": ACTIVE},),
    ),
    FeedSpec(
        name="schools",
        entity=e.SCHOOL,
        description="Schools and every other org below or beside the district (orgs of any type but district).",
        source=Api(_collection("orgs")),
        where=("type", SCHOOL_ORG_TYPES),
        fields=({
            "school_id": col("sourcedId"), "name": col("name"), "org_type": col("type", parse=ORG_TYPE),
            "school_number": col("identifier"),
            "parent_id": col("parent.sourcedId"), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="academic_sessions",
        entity=e.ACADEMIC_SESSION,
        description="School years, semesters, terms and grading periods.",
        source=Api(_collection("academicSessions")),
        fields=({
            "session_id": col("sourcedId"), "title": col("title"), "session_type": col("type", parse=SESSION_TYPE),
            "start_date": col("startDate", parse=DATE, rule="date"), "end_date": col("endDate", parse=DATE, rule="date"),
            "parent_id": col("parent.sourcedId"), "school_year": col("schoolYear", parse=integer, rule="year"),
            "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="courses",
        entity=e.COURSE,
        description="The course catalogue.",
        source=Api(_collection("courses")),
        fields=({
            "course_id": col("sourcedId"), "title": col("title"), "course_code": col("courseCode"),
            "school_year_id": col("schoolYear.sourcedId"), "org_id": col("org.sourcedId"),
            "grade_levels": col("grades", parse=to_ceds_grade_list, rule="CEDS grade levels"),
            "subjects": col("subjects", parse=multi_value), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="classes",
        entity=e.CLASS,
        description="Classes (sections) with their course, school and terms.",
        source=Api(_collection("classes")),
        fields=({
            "class_id": col("sourcedId"), "title": col("title"), "class_code": col("classCode"),
            "class_type": col("classType", parse=CLASS_TYPE), "course_id": col("course.sourcedId"),
            "school_id": col("school.sourcedId"), "term_ids": col("terms", parse=json_fields("sourcedId"), rule="GUIDRef list"),
            "grade_levels": col("grades", parse=to_ceds_grade_list, rule="CEDS grade levels"),
            "subjects": col("subjects", parse=multi_value), "location": col("location"), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="persons",
        entity=e.PERSON,
        description="Students, teachers and guardians (users, birth dates from demographics).",
        source=Api(_collection("users")),
        joins=(Join("demographics", on=(("sourcedId", "sourcedId"),), keep=("birthDate",),
                    endpoint=_collection("demographics", incremental=False)),),
        fields=({
            "person_id": col("sourcedId"), "role": col("role", parse=USER_ROLE),
            "given_name": col("givenName"), "middle_name": col("middleName"), "family_name": col("familyName"),
            "email": col("email", parse=lower_text), "username": col("username"), "sis_id": col("identifier"),
            "state_id": Derived(sources=(("userIds",),), fn=_state_id, rule="OneRoster userIds", may_be_empty=True),
            "grade_level": col("grades", parse=first_ceds_grade, rule="CEDS grade level"),
            "birth_date": col("demographics.birthDate", parse=DATE, rule="date"),
            "school_id": col("orgs", parse=REF, rule="GUIDRef list"), "active": ACTIVE,
        },),
    ),
    FeedSpec(
        name="person_identifiers",
        entity=e.PERSON_IDENTIFIER,
        description="Identity crosswalk rows: sourcedId, SIS identifier and email per person.",
        source=Api(_collection("users")),
        required_values=("external_id",),
        fields=IDENTIFIER_FIELDS,
    ),
    FeedSpec(
        name="enrollments",
        entity=e.ENROLLMENT,
        description="Who is in which class, in which role.",
        source=Api(_collection("enrollments")),
        fields=({
            "enrollment_id": col("sourcedId"), "class_id": col("class.sourcedId"), "person_id": col("user.sourcedId"),
            "school_id": col("school.sourcedId"), "role": col("role", parse=ENROLLMENT_ROLE),
            "is_primary": col("primary", parse=boolean, rule="boolean"),
            "begin_date": col("beginDate", parse=DATE, rule="date"), "end_date": col("endDate", parse=DATE, rule="date"),
            "active": ACTIVE,
        },),
    ),
)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="OneRoster REST",
    description="OneRoster 1.1 rostering API of a district's SIS (OAuth 2.0 client credentials).",
    feeds=FEEDS,
    roster=True,
    api=ApiSpec(
        auth=_auth,
        credentials=("client_id", "client_secret"),
        # Advancing by the sourcedIds not seen before keeps a page that repeats rows and
        # arrives cut short in the same response from silently skipping the rest.
        paginator=lambda: OffsetPaginator(limit=PAGE_SIZE, total_header="X-Total-Count", record_id="sourcedId"),
        rate_limit=RateLimit(requests_per_second=20, concurrency=1),
        retry=RetryPolicy(max_attempts=6, max_elapsed_s=120),
    ),
)
