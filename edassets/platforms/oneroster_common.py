"""The OneRoster vocabulary shared by the CSV and REST bindings (1EdTech OneRoster 1.1/1.2).

Status, role, session and class-type codes mean the same in both bindings; only where
the values sit differs (flat `courseSourcedId` columns vs nested GUIDRef objects).
"""

import pandas as pd

from edassets.adapters.codes import code_map
from edassets.adapters.spec import Derived, ParseContext
from edassets.adapters.transforms import text


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
