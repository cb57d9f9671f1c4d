"""Clever Secure Sync, Data API v3.0: the authoritative roster of districts that use Clever.

API: `{base}/v3.0/{districts|schools|users|sections|courses|terms}`; per-district bearer
token; envelope `{"data": [{"data": {...}, "uri": ...}], "links": [{"rel": "next", ...}]}`;
paging by `starting_after` cursor through `links[rel=next]`, `limit` up to 10000;
1200 requests/minute per token, 429 with `X-RateLimit-Reset` (K12_FORMATS §1.2).

No incremental listing in the data API (deltas are the separate Events API), so every
sync is a full snapshot: a record Clever no longer lists is deactivated. Quirks:
- users are unified; the role is whichever of `roles.student|teacher|staff|contact` is present;
- enrollments are implicit: a section lists its `students[]` and `teachers[]`; an
  enrollment id is `<section id>:<user id>` (the sandbox's ground truth uses the same);
- grades are an enum (`Kindergarten`, `PreKindergarten`, `1`…`13`, `Ungraded`) and `dob`
  is `M/D/YYYY`.
"""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.codes import code_map
from edassets.adapters.derive import first_present_key
from edassets.adapters.http import BearerAuth, CursorPaginator, RateLimit, RetryPolicy
from edassets.adapters.sources import Api, Endpoint
from edassets.adapters.spec import ApiSpec, Const, Derived, FeedSpec, ParseContext, PlatformSpec, col
from edassets.adapters.transforms import iso_or_us_date, lower_text, text
from edassets.schema import entities as e
from edassets.schema.grades import first_ceds_grade, to_ceds_grade_list

PLATFORM = "clever"
PAGE_SIZE = "1000"
ROLES = ("student", "teacher", "staff", "district_admin", "contact")


def _list(name: str, **params: str) -> Endpoint:
    return Endpoint(path=f"/v3.0/{name}", records_path="data", record_root="data", params={"limit": PAGE_SIZE, **params})


def _role(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    # Every Clever role object carries legacy_id; multi-role users exist, and the first
    # present role in ROLES order is the primary one.
    canonical = {"student": "student", "teacher": "teacher", "staff": "staff",
                 "district_admin": "administrator", "contact": "guardian"}
    role = pd.Series(pd.NA, index=source.index, dtype=pd.StringDtype("pyarrow"))
    for clever_role in ROLES:
        present = text(source[f"roles.{clever_role}.legacy_id"]).notna()
        role = role.mask(role.isna() & present, canonical[clever_role])
    return role


def _first_of(*paths: str) -> Derived:
    def derive(source: pd.DataFrame, _: ParseContext) -> pd.Series:
        value = pd.Series(pd.NA, index=source.index, dtype=pd.StringDtype("pyarrow"))
        for path in paths:
            value = value.fillna(text(source[path]))
        return value

    return Derived(sources=tuple((p,) for p in paths), fn=derive, rule="text", may_be_empty=True)


def _auth(credentials: Mapping[str, str], _: str) -> BearerAuth:
    return BearerAuth(credentials["token"])


ROLE_FIELDS = tuple(f"roles.{r}.legacy_id" for r in ROLES)
SIS_ID = _first_of("roles.student.sis_id", "roles.teacher.sis_id", "roles.staff.sis_id", "roles.contact.sis_id")
SCHOOL = _first_of("roles.student.school", "roles.teacher.school", "roles.staff.school")
MEMBER_ROLE = code_map({"students": "student", "teachers": "teacher"}, "Clever section membership")

FEEDS = (
    FeedSpec(
        name="districts",
        entity=e.DISTRICT,
        description="The district as Clever knows it.",
        source=Api(_list("districts")),
        fields=({"name": col("name"), "source_id": col("id"), "state_id": col("nces_id")},),
    ),
    FeedSpec(
        name="schools",
        entity=e.SCHOOL,
        description="Schools.",
        source=Api(_list("schools")),
        # Clever's only orgs are districts and schools (K12_FORMATS §1.2).
        fields=({"school_id": col("id"), "name": col("name"), "org_type": Const("school"),
                 "school_number": col("school_number"), "parent_id": col("district")},),
    ),
    FeedSpec(
        name="academic_sessions",
        entity=e.ACADEMIC_SESSION,
        description="Terms.",
        source=Api(_list("terms")),
        fields=({"session_id": col("id"), "title": col("name"), "session_type": Const("term"),
                 "start_date": col("start_date", parse=iso_or_us_date, rule="date"),
                 "end_date": col("end_date", parse=iso_or_us_date, rule="date")},),
    ),
    FeedSpec(
        name="courses",
        entity=e.COURSE,
        description="Courses.",
        source=Api(_list("courses")),
        fields=({"course_id": col("id"), "title": col("name"), "course_code": col("number")},),
    ),
    FeedSpec(
        name="classes",
        entity=e.CLASS,
        description="Sections, with course, school and term.",
        source=Api(_list("sections")),
        fields=({
            "class_id": col("id"), "title": col("name"), "class_code": col("section_number"),
            "course_id": col("course"), "school_id": col("school"), "term_ids": col("term_id"),
            "grade_levels": col("grade", parse=to_ceds_grade_list, rule="CEDS grade levels"),
            "subjects": col("subject"), "location": col("period"),
        },),
    ),
    FeedSpec(
        name="persons",
        entity=e.PERSON,
        description="Students, teachers, staff and contacts (guardians) from the unified users endpoint.",
        source=Api(_list("users")),
        fields=({
            "person_id": col("id"),
            "role": Derived(sources=tuple((f,) for f in ROLE_FIELDS), fn=_role, rule="Clever user role"),
            "given_name": col("name.first"), "middle_name": col("name.middle"), "family_name": col("name.last"),
            "email": col("email", parse=lower_text),
            "username": _first_of(*(f"roles.{r}.credentials.district_username" for r in ("student", "teacher", "staff"))),
            "sis_id": SIS_ID, "state_id": _first_of(*(f"roles.{r}.state_id" for r in ("student", "teacher", "staff"))),
            "grade_level": col("roles.student.grade", parse=first_ceds_grade, rule="CEDS grade level"),
            "birth_date": col("roles.student.dob", parse=iso_or_us_date, rule="date"),
            "school_id": SCHOOL,
        },),
    ),
    FeedSpec(
        name="person_identifiers",
        entity=e.PERSON_IDENTIFIER,
        description="Identity crosswalk rows: Clever id, SIS id and email per user.",
        source=Api(_list("users")),
        required_values=("external_id",),
        fields=tuple(
            {"person_id": col("id"), "id_type": Const(id_type), "external_id": source}
            for id_type, source in (
                ("platform_id", col("id")),
                ("sis_id", SIS_ID),
                ("email", col("email", parse=lower_text)),
            )
        ),
    ),
    FeedSpec(
        name="enrollments",
        entity=e.ENROLLMENT,
        description="Implicit enrollments: each student and teacher a section lists.",
        source=Api(Endpoint(path="/v3.0/sections", records_path="data", record_root="data", params={"limit": PAGE_SIZE},
                            explode={"students": "students", "teachers": "teachers"})),
        fields=({
            "enrollment_id": first_present_key(("id", "member")),
            "class_id": col("id"), "person_id": col("member"), "school_id": col("school"),
            "role": col("member_of", parse=MEMBER_ROLE),
            "is_primary": Derived(sources=(("member",), ("teacher",)), rule="primary teacher", may_be_empty=True,
                                  fn=lambda s, _: (text(s["member"]) == text(s["teacher"])).astype("boolean")),
        },),
    ),
)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="Clever",
    description="Clever Secure Sync Data API v3.0 (per-district bearer token).",
    feeds=FEEDS,
    roster=True,
    api=ApiSpec(
        auth=_auth,
        credentials=("token",),
        # Resume after the last id received, not where the link points: a page cut short in
        # transit would otherwise skip the records it lost.
        paginator=lambda: CursorPaginator(cursor_param="starting_after", next_link_rel="next", links_path="links",
                                          last_record_id="data.id"),
        # 1200 requests per minute per token: stay under it rather than bounce off 429s.
        rate_limit=RateLimit(requests_per_second=18, concurrency=1),
        retry=RetryPolicy(max_attempts=8, max_elapsed_s=180),
        default_base_url="https://api.clever.com",
    ),
)
