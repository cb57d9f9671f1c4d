"""Declarations of the unified schema that other stages rely on: org types, org references, tombstones."""

import pandas as pd
import pytest

from edassets.schema.entities import (
    ACADEMIC_SESSION,
    ASSESSMENT_RESULT,
    CLASS,
    COURSE,
    ENROLLMENT,
    ENTITIES,
    LEARNING_ACTIVITY,
    ORG_TYPES,
    PERSON,
    SCHOOL,
)
from edassets.schema.model import Entity

LINEAGE = ("lineage_archive_key", "lineage_record_index", "lineage_run_id")


def test_every_oneroster_org_type_but_district_is_a_school_org_type() -> None:
    assert {*ORG_TYPES, "district"} == {"district", "school", "department", "local", "state", "national"}
    assert SCHOOL.field("org_type").choices == ORG_TYPES
    assert SCHOOL.field("org_type").required


@pytest.mark.parametrize(("entity", "field"), [(PERSON, "school_id"), (CLASS, "school_id"), (COURSE, "org_id"),
                                               (SCHOOL, "parent_id")])
def test_an_org_reference_names_any_org_or_the_district_org(entity: Entity, field: str) -> None:
    (reference,) = [r for r in entity.references if r.field == field]

    assert reference.targets == (("school", None), ("district", "source_id"))


def test_a_session_parent_is_another_session() -> None:
    assert [(r.field, r.targets) for r in ACADEMIC_SESSION.references] == [
        ("parent_id", (("academic_session", None),))]


@pytest.mark.parametrize("entity", [e for e in ENTITIES if e.soft_delete], ids=lambda e: e.name)
def test_a_tombstone_needs_its_key_and_lineage_only(entity: Entity) -> None:
    assert entity.tombstone_required == (*entity.key, *LINEAGE)
    assert all(entity.field(name).required for name in entity.tombstone_required)


def test_a_tombstone_of_a_person_does_not_need_a_role() -> None:
    assert "role" not in PERSON.tombstone_required
    assert PERSON.tombstone_required == ("district_id", "person_id", *LINEAGE)
    assert ENROLLMENT.tombstone_required == ("district_id", "enrollment_id", *LINEAGE)


def test_facts_that_are_never_deactivated_have_no_tombstones() -> None:
    frame = pd.DataFrame({"result_id": ["r1"]})

    assert ASSESSMENT_RESULT.tombstone_required == ()
    assert ASSESSMENT_RESULT.tombstones(frame).tolist() == [False]


def test_a_withdrawn_learning_event_is_soft_deleted_and_none_starts_in_the_future() -> None:
    # xAPI voiding statements and practice apps' deleted_at withdraw events; a start after tomorrow is corrupt.
    assert LEARNING_ACTIVITY.soft_delete
    assert LEARNING_ACTIVITY.tombstone_required == ("district_id", "source_platform", "event_id", *LINEAGE)
    assert LEARNING_ACTIVITY.field("started_at").not_future


def test_tombstones_are_the_rows_whose_active_is_false() -> None:
    frame = pd.DataFrame({"active": pd.array([True, False, None], dtype="boolean")}, index=[10, 11, 12])

    mask = PERSON.tombstones(frame)

    # An unparsable status (NA) is not a deletion: it is quarantined for its status.
    assert mask.tolist() == [False, True, False]
    assert list(mask.index) == [10, 11, 12]
