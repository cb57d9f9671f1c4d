"""The truth: what the warehouse must hold, and the accuracy table that scores a load against it.

Two syncs of the sandbox (before and after the transfers and withdrawals) are read with the
real OneRoster CSV and NWEA platform specs and loaded the way the warehouse loads (upsert on
the natural key, snapshot deactivation); the result must equal the truth exactly. A small
Clever mapping written here shows the Clever conventions of `truth.py` are reachable from
what Clever serves.
"""

from collections.abc import Callable, Sequence
from datetime import date
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.mapping import map_feed
from edassets.adapters.spec import FeedSpec, ParseContext
from edassets.checks.validation import validate_batch
from edassets.platforms import nwea_map, oneroster_csv
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.truth import ACCURACY_COLUMNS, COMPARED_COLUMNS, compare, expected_warehouse
from edassets.sandbox.world import DistrictSpec, World, WorldOptions
from edassets.schema.entities import ENTITIES_BY_NAME
from edassets.schema.grades import to_ceds_grade

SYNC1, SYNC2 = date(2026, 1, 12), date(2026, 1, 19)
CSV_DISTRICT = DistrictSpec("cedar-usd", "Cedar Unified School District", 500, "oneroster_csv")
CLEVER_DISTRICT = DistrictSpec("pine-isd", "Pine Independent School District", 500, "clever",
                               timezone="America/Denver")
ROSTER_ENTITIES = ("school", "academic_session", "course", "class", "person", "enrollment")

Loaded = dict[str, pd.DataFrame]


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(WorldOptions(districts=(CSV_DISTRICT, CLEVER_DISTRICT), withdrawal_rate=0.02))


@pytest.fixture(scope="module")
def csv_truth(world: World) -> Loaded:
    return expected_warehouse(world, CSV_DISTRICT.district_id, SYNC2, ["oneroster_csv", "nwea_map"])


def _load(loaded: Loaded, batch: Loaded, snapshot: Sequence[str]) -> Loaded:
    """What the warehouse loader does: upsert on the natural key; a snapshot deactivates the rows it lacks."""
    out = dict(loaded)
    for entity, rows in batch.items():
        key = list(ENTITIES_BY_NAME[entity].key)
        before = loaded.get(entity, rows.iloc[:0])
        kept = before[~before.set_index(key).index.isin(rows.set_index(key).index)]
        if entity in snapshot:
            kept = kept.assign(active=False)
        out[entity] = pd.concat([rows, kept], ignore_index=True)
    return out


def _platform_rows(files: dict[str, bytes], feeds: Sequence[FeedSpec], district: DistrictSpec, platform: str,
                   person_lookup: Callable[[pd.Series, tuple[str, ...]], pd.Series] | None = None,
                   warehouse: Loaded | None = None) -> Loaded:
    """Every feed parsed and validated by the platform spec; nothing may be quarantined.

    References resolve against the batch and the rows already in ``warehouse``.
    """
    tables = {name.lower(): read_csv_text(data) for name, data in files.items()}
    context = ParseContext(district_id=district.district_id, timezone=ZoneInfo(district.timezone), platform=platform)
    batches = {f.name: map_feed(f, tables, context=context, archive_key=f"sandbox/{f.file}", run_id="test",
                                sync_mode="snapshot") for f in feeds}
    frames = {f.entity.name: batches[f.name].frame for f in feeds}
    for entity, frame in (warehouse or {}).items():
        frames[entity] = pd.concat([frames[entity], frame]) if entity in frames else frame

    def exists(entity: str, column: str | None, values: pd.Series) -> pd.Series:
        known = frames.get(entity)
        column = column or ENTITIES_BY_NAME[entity].id_column
        return values.isin(set(known[column].dropna()) if known is not None and column in known else set())

    rows = {}
    for feed in feeds:
        validated = validate_batch(feed, batches[feed.name], person_lookup=person_lookup,
                                   reference_exists=exists)
        assert validated.quarantined == 0, (feed.name, validated.summary_by_rule())
        rows[feed.entity.name] = validated.rows
    return rows


def _csv_sync(world: World, day: date) -> Loaded:
    state = world.state(CSV_DISTRICT.district_id, day)
    rows = _platform_rows(EMULATORS["oneroster_csv"].render(state), oneroster_csv.SPEC.feeds, CSV_DISTRICT,
                          oneroster_csv.PLATFORM)
    return {entity: frame for entity, frame in rows.items() if entity in ROSTER_ENTITIES}


# --- the truth itself ------------------------------------------------------------------------------


@pytest.mark.parametrize("day", [SYNC1, SYNC2])
@pytest.mark.parametrize("district", [CSV_DISTRICT, CLEVER_DISTRICT])
def test_counts_match_the_state(world: World, district: DistrictSpec, day: date) -> None:
    truth = expected_warehouse(world, district.district_id, day, [district.roster_source, "nwea_map"])
    state = world.state(district.district_id, day)
    frames = {"school": state.schools, "academic_session": state.terms, "course": state.courses,
              "class": state.classes, "person": state.persons, "enrollment": state.enrollments}
    for entity, frame in frames.items():
        assert len(truth[entity]) == len(frame), entity
        assert truth[entity]["active"].sum() == (frame["status"] == "active").sum(), entity
        assert list(truth[entity].columns) == list(COMPARED_COLUMNS[entity])
        key = list(ENTITIES_BY_NAME[entity].key)
        assert not truth[entity].duplicated(key).any() and truth[entity][key].notna().all().all()
    assert len(truth["assessment_result"]) == len(state.assessment_results)
    assert (truth["person"]["district_id"] == district.district_id).all()


def test_dtypes_are_the_schema_dtypes(csv_truth: Loaded) -> None:
    for entity, frame in csv_truth.items():
        spec = ENTITIES_BY_NAME[entity]
        assert {c: frame[c].dtype for c in frame} == {c: spec.field(c).kind.pandas_dtype for c in frame}, entity


def test_canonical_ids_are_the_roster_sources(world: World, csv_truth: Loaded) -> None:
    state = world.state(CSV_DISTRICT.district_id, SYNC2)
    assert set(csv_truth["person"]["person_id"]) == set(state.persons["sourced_id"])
    assert set(csv_truth["enrollment"]["enrollment_id"]) == set(state.enrollments["sourced_id"])
    clever = expected_warehouse(world, CLEVER_DISTRICT.district_id, SYNC2, ["clever"])
    clever_state = world.state(CLEVER_DISTRICT.district_id, SYNC2)
    assert set(clever["class"]["class_id"]) == set(clever_state.classes["clever_id"])
    section, user = clever["enrollment"]["enrollment_id"].str.split(":", expand=True).T.to_numpy()
    assert (section == clever["enrollment"]["class_id"]).all() and (user == clever["enrollment"]["person_id"]).all()
    # OneRoster puts guardians under the district org; Clever contacts have no school.
    guardians = csv_truth["person"][csv_truth["person"]["role"] == "guardian"]
    assert set(guardians["school_id"]) == {state.district["sourced_id"].iloc[0]}
    assert clever["person"].loc[clever["person"]["role"] == "guardian", "school_id"].isna().all()


def test_results_need_the_roster(world: World) -> None:
    alone = expected_warehouse(world, CSV_DISTRICT.district_id, SYNC2, ["nwea_map"])
    assert all(frame.empty for frame in alone.values())  # unmatched: quarantined, not loaded
    with pytest.raises(ValueError, match="cannot also be its roster"):
        expected_warehouse(world, CSV_DISTRICT.district_id, SYNC2, ["clever"])
    with pytest.raises(ValueError, match="no truth for platforms"):
        expected_warehouse(world, CSV_DISTRICT.district_id, SYNC2, ["canvas"])


def test_two_vendors_filling_one_entity_add_up(world: World, csv_truth: Loaded,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    class SecondVendor(EMULATORS["nwea_map"]):  # type: ignore[misc, valid-type]
        platform = "second_vendor"

    monkeypatch.setitem(EMULATORS, "second_vendor", SecondVendor)

    both = expected_warehouse(world, CSV_DISTRICT.district_id, SYNC2, ["oneroster_csv", "nwea_map", "second_vendor"])

    results = both["assessment_result"]
    assert results["source_platform"].value_counts().to_dict() == {
        "nwea_map": len(csv_truth["assessment_result"]), "second_vendor": len(csv_truth["assessment_result"])}


# --- the accuracy table -------------------------------------------------------------------------------------


def test_truth_against_itself_is_all_correct(csv_truth: Loaded) -> None:
    table = compare(csv_truth, csv_truth)
    assert list(table.columns) == list(ACCURACY_COLUMNS)
    assert list(table["entity"]) == list(COMPARED_COLUMNS)
    assert (table["loaded_correctly"] == table["records_expected"]).all()
    assert (table[["loaded_wrong", "missing", "unexpected"]] == 0).all().all()
    # No activity platform is synced here: an entity nothing fills has no accuracy to speak of.
    filled = table["records_expected"] > 0
    assert (table.loc[filled, "accuracy"] == 1.0).all() and table.loc[~filled, "accuracy"].isna().all()
    assert (table["wrong_columns"] == "").all()


def test_a_perturbed_copy_is_scored_row_by_row(csv_truth: Loaded) -> None:
    persons = csv_truth["person"]
    wrong = persons.iloc[10:12].assign(email="someone.else@example.org")
    wrong.loc[wrong.index[0], "grade_level"] = "Other"
    extra = persons.iloc[20:24].assign(person_id=lambda f: "extra-" + f["person_id"])
    loaded = pd.concat([persons.iloc[3:10], wrong, persons.iloc[12:], extra, persons.iloc[[30]]])  # 3 lost, 1 twice
    table = compare(csv_truth, {**csv_truth, "person": loaded}).set_index("entity")
    assert table.loc["person"].to_dict() == {
        "records_expected": len(persons), "loaded_correctly": len(persons) - 5, "loaded_wrong": 2, "missing": 3,
        "unexpected": 4, "accuracy": (len(persons) - 5) / len(persons), "wrong_columns": "email:2, grade_level:1",
    }
    assert table.loc["enrollment", "accuracy"] == 1.0
    # An entity nobody loaded is all missing; extra loaded tables outside the truth are ignored.
    table = compare(csv_truth, {"district": persons}).set_index("entity")
    assert (table["missing"] == table["records_expected"]).all() and "district" not in table.index


def test_frames_read_back_from_a_database_compare_equal(csv_truth: Loaded) -> None:
    """Drivers hand back objects: text dates, naive UTC timestamps, 0/1 booleans, extra columns."""
    def as_read_back(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.astype(object).assign(loaded_at="2026-01-19 06:00:00")
        for column in frame:
            kind = frame[column].dtype
            if kind == "datetime64[ns]":
                out[column] = frame[column].dt.strftime("%Y-%m-%d").astype(object)
            elif isinstance(kind, pd.DatetimeTZDtype):
                out[column] = frame[column].dt.tz_localize(None).astype(str)
            elif kind == "boolean":
                out[column] = frame[column].astype("Int64").astype(object)
        return out

    table = compare(csv_truth, {entity: as_read_back(frame) for entity, frame in csv_truth.items()})
    assert (table.loc[table["records_expected"] > 0, "accuracy"] == 1.0).all(), table.to_string()


# --- the truth is what a correct pipeline loads ---------------------------------------------------------------


def test_two_csv_syncs_load_exactly_the_truth(world: World, csv_truth: Loaded) -> None:
    loaded = _load({}, _csv_sync(world, SYNC1), snapshot=ROSTER_ENTITIES)
    loaded = _load(loaded, _csv_sync(world, SYNC2), snapshot=ROSTER_ENTITIES)
    state = world.state(CSV_DISTRICT.district_id, SYNC2)
    lookup = pd.Series(state.persons["sourced_id"].array, index=pd.Index(state.persons["sis_id"].array))
    results = _platform_rows(EMULATORS["nwea_map"].render(state), nwea_map.SPEC.feeds, CSV_DISTRICT, nwea_map.PLATFORM,
                             person_lookup=lambda ids, _: ids.map(lookup), warehouse=loaded)
    loaded = _load(loaded, results, snapshot=())

    table = compare(csv_truth, loaded)
    assert (table["accuracy"].fillna(1.0) == 1.0).all() and (table["unexpected"] == 0).all(), table.to_string()
    persons = loaded["person"]
    assert (~persons["active"]).sum() == (state.persons["status"] == "tobedeleted").sum() > 0


def _clever_rows(world: World, day: date) -> Loaded:
    """Clever's class, person and enrollment rows under the conventions `truth.py` states."""
    state = world.state(CLEVER_DISTRICT.district_id, day)
    sections = EMULATORS["clever"].render(state, "sections")
    users = EMULATORS["clever"].render(state, "users")
    roles = {"student": "student", "teacher": "teacher", "contact": "guardian", "district_admin": "administrator"}
    people = []
    for user in users:
        (role, body), = user["roles"].items()
        dob = body.get("dob")
        people.append({
            "person_id": user["id"], "role": roles[role], "given_name": user["name"]["first"],
            "middle_name": user["name"]["middle"], "family_name": user["name"]["last"], "email": user["email"],
            "username": body.get("credentials", {}).get("district_username"), "sis_id": body.get("sis_id"),
            "state_id": body.get("state_id"), "grade_level": body.get("grade"), "school_id": body.get("school"),
            "birth_date": pd.to_datetime(dob, format="%m/%d/%Y") if dob else pd.NaT,
        })
    person = pd.DataFrame(people).assign(grade_level=lambda f: to_ceds_grade(f["grade_level"].astype("string")))
    seats = [{"enrollment_id": f"{s['id']}:{u}", "class_id": s["id"], "person_id": u, "school_id": s["school"],
              "role": role, "is_primary": role == "teacher" and u == s["teacher"]}
             for s in sections for role, members in (("student", s["students"]), ("teacher", s["teachers"]))
             for u in members]
    classes = pd.DataFrame({
        "class_id": [s["id"] for s in sections], "title": [s["name"] for s in sections],
        "class_code": [s["section_number"] for s in sections], "course_id": [s["course"] for s in sections],
        "school_id": [s["school"] for s in sections], "term_ids": [s["term_id"] for s in sections],
        "grade_levels": to_ceds_grade(pd.Series([s["grade"] for s in sections], dtype="string")),
    })
    common = {"district_id": CLEVER_DISTRICT.district_id, "active": True}
    return {"class": classes.assign(**common), "person": person.assign(**common),
            "enrollment": pd.DataFrame(seats).assign(**common)}


def test_clever_conventions_are_reachable_from_what_clever_serves(world: World) -> None:
    entities = ("class", "person", "enrollment")
    loaded = _load({}, _clever_rows(world, SYNC1), snapshot=entities)
    loaded = _load(loaded, _clever_rows(world, SYNC2), snapshot=entities)
    truth = expected_warehouse(world, CLEVER_DISTRICT.district_id, SYNC2, ["clever"])
    table = compare({entity: truth[entity] for entity in entities}, loaded)
    assert (table["accuracy"].fillna(1.0) == 1.0).all() and (table["unexpected"] == 0).all(), table.to_string()
    assert (~loaded["enrollment"]["active"]).sum() > 0
