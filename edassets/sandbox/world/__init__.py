"""A deterministic synthetic K-12 world: the one ground truth every sandbox provider serves.

ARCHITECTURE decision 9: no vendor can be reached from here, so the sandbox *is* the
provider world. `World.generate` builds, for each district, a roster (schools, terms,
courses, classes, students, teachers, guardians, administrators, enrollments), fall NWEA
MAP Growth results and a few weeks of learning activity. Every record carries its id in
every scheme the vendors use, so each renderer (`render.py`) can show the same record the
way its platform would, and `truth.py` can say exactly what the warehouse must hold:

* ``*_key`` – our internal, stable key (never on the wire);
* ``sourced_id`` – the OneRoster sourcedId, a version-4 UUID (K12_FORMATS §1.1);
* ``clever_id`` – a Clever id, a 24-hex MongoDB ObjectId whose first four bytes are the
  creation second, so ascending ids follow creation time as Clever's paging does (§1.2);
* district ids – ``sis_id`` (6–8 digits: students 6, staff 7, guardians 8, so the three
  never collide), ``state_id`` (students and staff) and the school number.

Between the two sync dates of `WorldOptions` some students transfer to another school of
the same band and some withdraw. `World.state` shows the roster as the source systems show
it on a given day: only changes effective on or before that day are applied, and a
changed record's ``last_modified`` is the change's timestamp. Deleted records stay in the
frames with ``status == "tobedeleted"`` (OneRoster delta semantics); renderers whose
platform hides deletions (Clever, bulk CSV) leave them out.

Determinism: every random draw comes from a NumPy generator and a Faker instance seeded
from ``(options.seed, district_id)``, so the same options give identical frames, and adding
a district does not change the others. Names are synthetic (Faker ``en_US``) and every
e-mail address is on ``example.org`` (students, staff) or ``example.net`` (guardians).

Frames use ``string[pyarrow]`` text, ``datetime64[ns]`` dates (midnight, like the unified
schema) and ``datetime64[ns, UTC]`` instants. Generation is vectorised: the only Python
loops run over schools, bands or small pools, never over studen

Layout: `spec` (the public types and the grade/subject vocabulary), `generate` (`World`),
`roster` (organisation, catalogue, people, seats), `changes` (transfers and withdrawals),
`assessments` (MAP Growth results), `activity` (learning events), `history` (how changes
are stored and applied) and the helpers `columns`, `ids`, `names` and `school_year`.
"""

from edassets.sandbox.world.activity import XAPI_VERBS
from edassets.sandbox.world.generate import World
from edassets.sandbox.world.spec import (
    BENCHMARK_MAX_STUDENTS,
    GRADES,
    MAX_STUDENTS,
    MIN_STUDENTS,
    STRING,
    SUBJECTS,
    DistrictSpec,
    WorldOptions,
    WorldState,
)

__all__ = [
    "BENCHMARK_MAX_STUDENTS",
    "GRADES",
    "MAX_STUDENTS",
    "MIN_STUDENTS",
    "STRING",
    "SUBJECTS",
    "XAPI_VERBS",
    "DistrictSpec",
    "World",
    "WorldOptions",
    "WorldState",
]
