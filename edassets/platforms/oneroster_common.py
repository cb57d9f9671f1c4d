"""The OneRoster vocabulary shared by the CSV and REST bindings (1EdTech OneRoster 1.1/1.2).

Status, role, session and class-type codes mean the same in both bindings; only where
the values sit differs (flat `courseSourcedId` columns vs nested GUIDRef objects).
"""

import pandas as pd

from edassets.adapters.codes import code_map
from edassets.adapters.spec import Const, Derived, FieldSource, ParseContext, col
from edassets.adapters.transforms import lower_text, text
from edassets.schema.entities import ORG_TYPES


def _active(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    status = text(source["status"]).str.casefold()
    active = status.map({"active": True, "tobedeleted": False, "inactive": False}).astype("boolean")
    # A blank status is normal: the spec leaves it empty in bulk files.
    return active.mask(status.isna(), True)


ACTIVE = Derived(sources=(("status",),), fn=_active, rule="OneRoster status: active, tobedeleted or inactive")

USER_ROLE = code_map(
    {
        "student": "student", "teacher": "teacher", "administrator": "administrator",
        "aide": "staff", "proctor": "staff", "counselor": "staff",
        "guardian": "guardian", "parent": "guardian", "relative": "guardian",
        # OneRoster 1.2 role vocabulary
        "districtAdministrator": "administrator", "principal": "administrator",
        "siteAdministrator": "administrator", "systemAdministrator": "administrator",
    },
    "OneRoster user role",
)
ENROLLMENT_ROLE = code_map(
    {"student": "student", "teacher": "teacher", "administrator": "administrator", "proctor": "proctor", "aide": "aide"},
    "OneRoster enrollment role",
)
SESSION_TYPE = code_map(
    {"schoolYear": "schoolYear", "semester": "semester", "term": "term", "gradingPeriod": "gradingPeriod"},
    "OneRoster session type",
)
CLASS_TYPE = code_map({"homeroom": "homeroom", "scheduled": "scheduled"}, "OneRoster class type")

# Org types are district, school, department, local, state and national (K12_FORMATS §1.1,
# moodle's VALID_ORG_TYPES). The district org is the `district` row; every other org is a
# `school` row that keeps its type: a 1.2 bundle whose only org is a department once loaded
# nothing, and every user and class pointing at it was quarantined as "no such school".
DISTRICT_ORG_TYPES = frozenset({"district"})
SCHOOL_ORG_TYPES = frozenset(ORG_TYPES)
ORG_TYPE = code_map({org_type: org_type for org_type in ORG_TYPES}, "OneRoster org type")


# Crosswalk rows a OneRoster user yields in either binding: one per id the other platforms
# may know the person by (MAP's StudentID is the SIS `identifier`).
IDENTIFIER_FIELDS: tuple[dict[str, FieldSource], ...] = tuple(
    {"person_id": col("sourcedId"), "id_type": Const(id_type), "external_id": source, "active": ACTIVE}
    for id_type, source in (
        ("sourced_id", col("sourcedId")),
        ("sis_id", col("identifier")),
        ("email", col("email", parse=lower_text)),
    )
)
