"""The unified schema: every entity every platform is normalised into, declared once.

Natural keys start with `district_id` because one warehouse serves every district. Roster
entities (school … enrollment) take their ids from the district's authoritative roster
(OneRoster sourcedId, Clever id); activity and results keep the vendor's own id under
`source_platform` and point at canonical persons through the crosswalk.
"""

from edassets.schema.grades import CEDS_GRADE_LEVELS
from edassets.schema.model import Entity, Field, Kind, Reference, district_field, source_platform_field

PERSON_ROLES: tuple[str, ...] = ("student", "teacher", "staff", "administrator", "guardian")
ENROLLMENT_ROLES: tuple[str, ...] = ("student", "teacher", "administrator", "proctor", "aide")
ID_TYPES: tuple[str, ...] = ("sourced_id", "sis_id", "state_id", "email", "username", "local", "platform_id")
ORG_TYPES: tuple[str, ...] = ("school", "department", "local", "state", "national")
"""Org types of the `school` entity: every OneRoster org type except district (K12_FORMATS §1.1)."""


def _org_reference(field: str) -> Reference:
    """A reference to any org: a row of `school` (whatever its org type) or the district org itself.

    OneRoster lets users, classes and courses point at any org: a 1.2 bundle may have only a
    department, and district staff and district-wide courses belong to the district org.
    """
    return Reference(field, "school", also=(("district", "source_id"),))


DISTRICT = Entity(
    name="district",
    description="A school district (local education agency) as named by its authoritative roster.",
    key=("district_id",),
    fields=(
        district_field(),
        Field("name", Kind.STRING, "District name", required=True),
        Field("source_id", Kind.STRING, "The roster's id for the district org"),
        Field("state_id", Kind.STRING, "State or NCES identifier"),
        source_platform_field(),
    ),
    soft_delete=True,
)

SCHOOL = Entity(
    name="school",
    description=(
        "An organisation below or beside the district that people and classes belong to: a school, "
        "or a OneRoster department, local, state or national org (org_type says which)."
    ),
    key=("district_id", "school_id"),
    fields=(
        district_field(),
        Field("school_id", Kind.STRING, "The roster's id for the org", required=True),
        Field("name", Kind.STRING, "Org name", required=True),
        Field("org_type", Kind.STRING, "school, department, local, state or national", required=True,
              choices=ORG_TYPES),
        Field("school_number", Kind.STRING, "Human identifier (state or SIS school number)"),
        Field("parent_id", Kind.STRING, "The roster's id of the parent org: another org or the district org"),
        source_platform_field(),
    ),
    references=(_org_reference("parent_id"),),
    soft_delete=True,
)

ACADEMIC_SESSION = Entity(
    name="academic_session",
    description="A school year, semester, term or grading period.",
    key=("district_id", "session_id"),
    fields=(
        district_field(),
        Field("session_id", Kind.STRING, "The roster's id for the session", required=True),
        Field("title", Kind.STRING, "Session title", required=True),
        Field("session_type", Kind.STRING, "schoolYear, semester, term or gradingPeriod", required=True,
              choices=("schoolYear", "semester", "term", "gradingPeriod")),
        Field("start_date", Kind.DATE, "First day", required=True),
        Field("end_date", Kind.DATE, "Last day", required=True),
        Field("parent_id", Kind.STRING, "Enclosing session"),
        Field("school_year", Kind.INTEGER, "Ending calendar year of the school year", minimum=1990, maximum=2100),
        source_platform_field(),
    ),
    # A term's parent is usually another session of the same file: a self-reference.
    references=(Reference("parent_id", "academic_session"),),
    soft_delete=True,
)

COURSE = Entity(
    name="course",
    description="A course in the catalogue (Algebra I), taught through classes.",
    key=("district_id", "course_id"),
    fields=(
        district_field(),
        Field("course_id", Kind.STRING, "The roster's id for the course", required=True),
        Field("title", Kind.STRING, "Course title", required=True),
        Field("course_code", Kind.STRING, "Catalogue code"),
        Field("school_year_id", Kind.STRING, "Academic session (school year) of the catalogue entry"),
        Field("org_id", Kind.STRING, "Owning org (a school-level org or the district org)"),
        Field("grade_levels", Kind.STRING, "CEDS grade codes, comma separated"),
        Field("subjects", Kind.STRING, "Subjects, comma separated"),
        source_platform_field(),
    ),
    references=(_org_reference("org_id"),),
    soft_delete=True,
)

CLASS = Entity(
    name="class",
    description="A class (section): one course taught to a group of students in a term.",
    key=("district_id", "class_id"),
    fields=(
        district_field(),
        Field("class_id", Kind.STRING, "The roster's id for the class", required=True),
        Field("title", Kind.STRING, "Class title", required=True),
        Field("class_code", Kind.STRING, "Section code"),
        Field("class_type", Kind.STRING, "homeroom or scheduled", choices=("homeroom", "scheduled")),
        Field("course_id", Kind.STRING, "Course the class teaches", required=True),
        Field("school_id", Kind.STRING, "Org the class belongs to (a school-level org or the district org)",
              required=True),
        Field("term_ids", Kind.STRING, "Academic sessions, comma separated"),
        Field("grade_levels", Kind.STRING, "CEDS grade codes, comma separated"),
        Field("subjects", Kind.STRING, "Subjects, comma separated"),
        Field("location", Kind.STRING, "Room"),
        source_platform_field(),
    ),
    references=(Reference("course_id", "course"), _org_reference("school_id")),
    soft_delete=True,
)

PERSON = Entity(
    name="person",
    description="A student, teacher, staff member, administrator or guardian: the canonical identity.",
    key=("district_id", "person_id"),
    fields=(
        district_field(),
        Field("person_id", Kind.STRING, "Canonical id: the authoritative roster's id", required=True),
        Field("role", Kind.STRING, "Primary role", required=True, choices=PERSON_ROLES),
        Field("given_name", Kind.STRING, "Given (first) name"),
        Field("middle_name", Kind.STRING, "Middle name"),
        Field("family_name", Kind.STRING, "Family (last) name"),
        Field("email", Kind.STRING, "Email address, lower-cased", pattern=r"[^@\s]+@[^@\s]+"),
        Field("username", Kind.STRING, "Login name"),
        Field("sis_id", Kind.STRING, "Student information system id"),
        Field("state_id", Kind.STRING, "State-assigned id"),
        Field("grade_level", Kind.STRING, "Current CEDS grade level", choices=CEDS_GRADE_LEVELS),
        Field("birth_date", Kind.DATE, "Date of birth", not_future=True),
        Field("school_id", Kind.STRING, "Primary org: a school-level org, or the district org for district staff"),
        source_platform_field(),
    ),
    # District staff belong to the district org itself, not to a school.
    references=(_org_reference("school_id"),),
    soft_delete=True,
)

PERSON_IDENTIFIER = Entity(
    name="person_identifier",
    description="The identity crosswalk: one platform's id for a person, mapped to the canonical person.",
    key=("district_id", "source_platform", "id_type", "external_id"),
    fields=(
        district_field(),
        source_platform_field(),
        Field("id_type", Kind.STRING, "What kind of id the external id is", required=True, choices=ID_TYPES),
        Field("external_id", Kind.STRING, "The id as the platform writes it (emails lower-cased)", required=True),
        Field("person_id", Kind.STRING, "Canonical person", required=True),
    ),
    references=(Reference("person_id", "person"),),
    soft_delete=True,
)

ENROLLMENT = Entity(
    name="enrollment",
    description="A person's membership in a class, with role and dates.",
    key=("district_id", "enrollment_id"),
    fields=(
        district_field(),
        Field("enrollment_id", Kind.STRING, "The roster's id for the enrollment", required=True),
        Field("class_id", Kind.STRING, "Class", required=True),
        Field("person_id", Kind.STRING, "Person", required=True),
        Field("school_id", Kind.STRING, "School"),
        Field("role", Kind.STRING, "Role in the class", required=True, choices=ENROLLMENT_ROLES),
        Field("is_primary", Kind.BOOLEAN, "Primary teacher of the class"),
        Field("begin_date", Kind.DATE, "First day of the enrollment"),
        Field("end_date", Kind.DATE, "Last day of the enrollment"),
        source_platform_field(),
    ),
    references=(Reference("class_id", "class"), Reference("person_id", "person")),
    soft_delete=True,
)

LEARNING_ACTIVITY = Entity(
    name="learning_activity",
    description="One learning event (a lesson, a practice session, an xAPI/Caliper statement).",
    key=("district_id", "source_platform", "event_id"),
    fields=(
        district_field(),
        source_platform_field(),
        Field("event_id", Kind.STRING, "The platform's event id (xAPI statement id, Caliper urn:uuid)", required=True),
        Field("person_id", Kind.STRING, "Canonical person", required=True),
        Field("source_person_id", Kind.STRING, "The platform's own id for the person"),
        Field("class_id", Kind.STRING, "Class, when the platform knows it"),
        Field("activity_type", Kind.STRING, "Kind of activity (lesson, quiz, video…)"),
        Field("verb", Kind.STRING, "What the person did (xAPI verb IRI or Caliper action)", required=True),
        Field("object_id", Kind.STRING, "What it was done to (activity IRI or id)", required=True),
        Field("object_name", Kind.STRING, "Display name of the object"),
        # An event that has not happened yet is a corrupted clock or record, as a test taken tomorrow is.
        Field("started_at", Kind.TIMESTAMP, "Start (UTC)", not_future=True),
        Field("ended_at", Kind.TIMESTAMP, "End (UTC)"),
        Field("duration_seconds", Kind.FLOAT, "Duration", minimum=0),
        Field("score_raw", Kind.FLOAT, "Raw score"),
        Field("score_min", Kind.FLOAT, "Lowest possible score"),
        Field("score_max", Kind.FLOAT, "Highest possible score"),
        Field("score_scaled", Kind.FLOAT, "Score scaled to -1..1 (xAPI) or 0..1", minimum=-1, maximum=1),
        Field("completed", Kind.BOOLEAN, "Whether the activity was completed"),
    ),
    references=(Reference("person_id", "person"), Reference("class_id", "class")),
    # Vendors withdraw events: xAPI voiding statements, practice apps' `deleted_at`
    # (K12_FORMATS §3 #5, #20). A withdrawn event is kept inactive, never deleted (decision 5).
    soft_delete=True,
)

ASSESSMENT_RESULT = Entity(
    name="assessment_result",
    description="One scored administration of an assessment (MAP Growth, Star, i-Ready…).",
    key=("district_id", "source_platform", "result_id"),
    fields=(
        district_field(),
        source_platform_field(),
        Field("result_id", Kind.STRING, "The vendor's result id, or a key built from its natural key", required=True),
        Field("person_id", Kind.STRING, "Canonical person", required=True),
        Field("source_person_id", Kind.STRING, "The vendor's own id for the student", required=True),
        Field("assessment_name", Kind.STRING, "Test name", required=True),
        Field("subject", Kind.STRING, "Subject", required=True),
        Field("vendor", Kind.STRING, "Assessment vendor", required=True),
        Field("assessment_window", Kind.STRING, "Window or term name (Fall 2025-2026)"),
        Field("administered_at", Kind.TIMESTAMP, "Test start (UTC)", required=True, not_future=True),
        Field("grade_at_test", Kind.STRING, "CEDS grade level when tested", choices=CEDS_GRADE_LEVELS),
        Field("scale_score", Kind.FLOAT, "Scale score", required=True),
        Field("scale_name", Kind.STRING, "Scale of the score (RIT, Star SS…)", required=True),
        Field("scale_min", Kind.FLOAT, "Lowest score of the scale, where the vendor says (Star Reading 0)"),
        Field("scale_max", Kind.FLOAT, "Highest score of the scale, where the vendor says (Star Reading 1400)"),
        Field("raw_score", Kind.FLOAT, "Items right or raw points, where the vendor reports them", minimum=0),
        Field("standard_error", Kind.FLOAT, "Standard error of measurement", minimum=0),
        Field("percentile", Kind.FLOAT, "National percentile rank", minimum=0, maximum=100),
        Field("performance_level", Kind.STRING, "Performance level or quintile as the vendor names it"),
        Field("grade_placement", Kind.FLOAT,
              "Grade placement when tested (Star 4.05 = grade 4, first month): the student's point in the year, "
              "never the grade level", minimum=-1, maximum=13),
        Field("lexile", Kind.STRING, "Lexile measure as written (820L, BR400L)"),
        Field("quantile", Kind.STRING, "Quantile measure as written (275Q)"),
        Field("duration_minutes", Kind.FLOAT, "Testing time", minimum=0),
        Field("counts_for_growth", Kind.BOOLEAN, "The one result per student, term and subject used for growth"),
        Field("growth_json", Kind.STRING, "Vendor growth fields (projected/observed growth…) as JSON"),
        Field("goals_json", Kind.STRING, "Per-goal (strand) scores as JSON"),
    ),
    references=(Reference("person_id", "person"),),
)

ENTITIES: tuple[Entity, ...] = (
    DISTRICT,
    SCHOOL,
    ACADEMIC_SESSION,
    COURSE,
    CLASS,
    PERSON,
    PERSON_IDENTIFIER,
    ENROLLMENT,
    LEARNING_ACTIVITY,
    ASSESSMENT_RESULT,
)

ENTITIES_BY_NAME: dict[str, Entity] = {e.name: e for e in ENTITIES}
