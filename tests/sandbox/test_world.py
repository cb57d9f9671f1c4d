"""The synthetic world: deterministic, realistically shaped, consistent, and changing only on cue."""

import re
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from edassets.sandbox.world import GRADES, DistrictSpec, World, WorldOptions, WorldState

SYNC1, SYNC2 = date(2026, 1, 12), date(2026, 1, 19)
MAPLE = DistrictSpec("maple-usd", "Maple Unified School District", 1000, "oneroster_rest")
OAK = DistrictSpec("oak-isd", "Oak Independent School District", 500, "clever", timezone="America/New_York")
OPTIONS = WorldOptions(districts=(MAPLE, OAK), transfer_rate=0.02, withdrawal_rate=0.02)
FRAMES = ("district", "schools", "terms", "courses", "classes", "persons", "enrollments", "assessment_results",
          "learning_activity")
STRING = pd.StringDtype("pyarrow")


@pytest.fixture(scope="module")
def world() -> World:
    return World.generate(OPTIONS)


@pytest.fixture(scope="module")
def before(world: World) -> WorldState:
    return world.state(MAPLE.district_id, SYNC1)


@pytest.fixture(scope="module")
def after(world: World) -> WorldState:
    return world.state(MAPLE.district_id, SYNC2)


def _frames(state: WorldState) -> dict[str, pd.DataFrame]:
    return {name: getattr(state, name) for name in FRAMES}


def _students(state: WorldState) -> pd.DataFrame:
    return state.persons[state.persons["role"] == "student"]


# --- determinism ------------------------------------------------------------------------------------


def test_same_options_give_identical_frames(world: World) -> None:
    again = World.generate(OPTIONS)
    for district in (MAPLE, OAK):
        for day in (SYNC1, SYNC2):
            for name, frame in _frames(world.state(district.district_id, day)).items():
                pd.testing.assert_frame_equal(frame, getattr(again.state(district.district_id, day), name), obj=name)


def test_a_district_does_not_depend_on_the_others_or_its_roster_source(world: World) -> None:
    alone = World.generate(replace(OPTIONS, districts=(replace(OAK, roster_source="oneroster_csv"),)))
    for name, frame in _frames(world.state(OAK.district_id, SYNC2)).items():
        pd.testing.assert_frame_equal(frame, getattr(alone.state(OAK.district_id, SYNC2), name), obj=name)


def test_another_seed_gives_another_world(world: World) -> None:
    mine = world.state(OAK.district_id, SYNC1)
    other = World.generate(replace(OPTIONS, seed=12, districts=(OAK,))).state(OAK.district_id, SYNC1)
    assert not set(other.persons["sourced_id"]) & set(mine.persons["sourced_id"])
    assert not other.persons["given_name"].equals(mine.persons["given_name"])


# --- shape ----------------------------------------------------------------------------------------------


def test_frame_dtypes(after: WorldState) -> None:
    for name, frame in _frames(after).items():
        for column, dtype in frame.dtypes.items():
            if column.endswith(("_key", "_id", "_name")) or column in {"status", "role", "email"}:
                assert dtype == STRING, (name, column, dtype)
        for column in ("last_modified", "administered_at", "started_at", "ended_at"):
            if column in frame:
                assert frame[column].dtype == pd.DatetimeTZDtype("ns", "UTC"), (name, column)
        for column in ("start_date", "end_date", "begin_date", "birth_date"):
            if column in frame:
                assert frame[column].dtype == np.dtype("datetime64[ns]"), (name, column)


def test_grade_mix(before: WorldState) -> None:
    shares = _students(before)["grade"].value_counts(normalize=True)
    assert set(shares.index) == set(GRADES)
    assert shares["PK"] < 0.04  # a few PK
    assert shares.drop("PK").between(0.04, 0.11).all()


def test_schools_by_band_and_size(before: WorldState) -> None:
    schools = before.schools
    assert len(schools) == max(4, round(MAPLE.students / 500))
    assert set(zip(schools["low_grade"], schools["high_grade"], strict=True)) == {("PK", "05"), ("06", "08"),
                                                                                  ("09", "12")}
    assert schools["name"].str.endswith(("Elementary School", "Middle School", "High School")).all()
    students = _students(before).merge(schools, left_on="school_key", right_on="school_key")
    position = {g: i for i, g in enumerate(GRADES)}
    grade = students["grade"].map(position)
    assert grade.between(students["low_grade"].map(position), students["high_grade"].map(position)).all()


def test_people_counts(before: WorldState) -> None:
    roles = before.persons["role"].value_counts()
    assert roles["student"] == MAPLE.students
    assert 1 / 22 < roles["teacher"] / roles["student"] < 1 / 15  # about 1 per 18
    assert roles["administrator"] >= 2
    guardians = before.persons[before.persons["role"] == "guardian"]
    per_child = guardians["guardian_of"].value_counts()
    assert 0.52 < len(per_child) / MAPLE.students < 0.68  # about 60% of students
    assert set(per_child) == {1, 2}
    assert set(guardians["guardian_of"]) <= set(_students(before)["person_key"])
    assert guardians["grade"].isna().all() and guardians["birth_date"].isna().all()


def test_schedules(before: WorldState) -> None:
    seats = before.enrollments
    per_student = seats[seats["role"] == "student"]["person_key"].value_counts()
    assert len(per_student) == MAPLE.students
    assert per_student.between(4, 7).all()
    assert 5.0 < per_student.mean() < 6.0
    teachers = seats[seats["role"] == "teacher"]
    assert (teachers.groupby("class_key")["is_primary"].sum() == 1).all()
    assert set(teachers["class_key"]) == set(before.classes["class_key"])  # every class has its teacher
    assert not seats.loc[seats["role"] == "student", "is_primary"].any()


def test_references_resolve_and_stay_in_school(before: WorldState) -> None:
    seats = before.enrollments.merge(before.classes[["class_key", "school_key", "grade"]], on="class_key")
    assert len(seats) == len(before.enrollments)
    people = before.persons.set_index("person_key")
    assert seats["person_key"].isin(people.index).all()
    # A student's and a teacher's classes are in their school, a student's at their grade.
    assert (seats["school_key"].to_numpy() == people.loc[seats["person_key"], "school_key"].to_numpy()).all()
    students = seats[seats["role"] == "student"]
    assert (students["grade"].to_numpy() == people.loc[students["person_key"], "grade"].to_numpy()).all()
    classes = before.classes.merge(before.courses[["course_key", "school_key"]], on="course_key", suffixes=("", "_c"))
    assert len(classes) == len(before.classes) and (classes["school_key"] == classes["school_key_c"]).all()
    term_keys = set(before.terms["term_key"])
    assert before.classes["term_keys"].str.split(",").explode().isin(term_keys).all()


def test_ids_unique_per_scheme(world: World) -> None:
    everything = [world.state(d.district_id, SYNC2) for d in (MAPLE, OAK)]
    frames = [f for state in everything for f in _frames(state).values()]
    sourced = pd.concat([f["sourced_id"] for f in frames if "sourced_id" in f])
    clever = pd.concat([f["clever_id"] for f in frames if "clever_id" in f])
    assert sourced.is_unique and clever.is_unique
    assert sourced.str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}").all()
    assert clever.str.fullmatch(r"[0-9a-f]{24}").all()
    for state in everything:
        for name, frame in _frames(state).items():
            key = next(c for c in frame.columns if c.endswith("_key"))
            assert frame[key].is_unique, name
        persons = state.persons
        assert persons["sis_id"].is_unique and persons["sis_id"].str.fullmatch(r"\d{6,8}").all()
        assert persons["state_id"].dropna().is_unique and persons["username"].is_unique
        assert state.schools["school_number"].is_unique
        assert state.assessment_results["test_id"].is_unique
        assert state.assessment_results["test_id"].str.fullmatch(r"\d+").all()


def test_clever_ids_follow_creation_time(after: WorldState) -> None:
    persons = after.persons
    created = pd.to_datetime(persons["clever_id"].str.slice(0, 8).map(lambda h: int(h, 16)), unit="s", utc=True)
    unchanged = persons["last_modified"] < pd.Timestamp(SYNC1, tz="UTC")
    assert (created[unchanged] == persons.loc[unchanged, "last_modified"].dt.floor("s")).all()


def test_names_and_emails_are_synthetic(after: WorldState) -> None:
    persons = after.persons
    assert (persons["email"] == persons["email"].str.lower()).all()
    domain = persons["email"].str.extract(r"@(.+)$", expand=False)
    assert set(domain[persons["role"] == "guardian"]) == {"example.net"}
    assert set(domain[persons["role"] != "guardian"]) == {"example.org"}
    assert persons["given_name"].nunique() > 100 and persons["family_name"].nunique() > 100


def test_birth_dates_match_grades(before: WorldState) -> None:
    students = _students(before)
    grade_index = students["grade"].map({g: i for i, g in enumerate(GRADES)})
    # Age on 1 September 2025 is 4 in PK, 5 in KG … 17 in grade 12.
    age = 2025 - students["birth_date"].dt.year - (students["birth_date"].dt.strftime("%m-%d") > "09-01")
    assert (age == grade_index + 4).all()


# --- changes between the syncs ----------------------------------------------------------------------


def test_nothing_changes_before_the_first_sync(before: WorldState) -> None:
    for name in ("persons", "enrollments", "schools", "classes"):
        frame = getattr(before, name)
        assert (frame["status"] == "active").all(), name
        assert (frame["last_modified"] < pd.Timestamp(SYNC1, tz="UTC")).all(), name


def test_withdrawals(before: WorldState, after: WorldState) -> None:
    gone = after.persons[after.persons["status"] == "tobedeleted"]
    students = gone[gone["role"] == "student"]
    assert len(students) == round(0.02 * MAPLE.students)
    # Their guardians go with them, at the same moment, and nobody else does.
    assert set(gone.loc[gone["role"] == "guardian", "guardian_of"]) <= set(students["person_key"])
    assert set(gone["role"]) == {"student", "guardian"}
    assert gone["last_modified"].between(pd.Timestamp(SYNC1, tz="UTC") + pd.Timedelta(days=1),
                                         pd.Timestamp(SYNC2, tz="UTC") + pd.Timedelta(days=1)).all()
    seats = after.enrollments[after.enrollments["person_key"].isin(students["person_key"])]
    assert (seats["status"] == "tobedeleted").all()
    changed_at = students.set_index("person_key")["last_modified"]
    assert (seats["last_modified"].to_numpy() == changed_at.loc[seats["person_key"]].to_numpy()).all()
    assert (seats["end_date"] < changed_at.loc[seats["person_key"]].dt.tz_localize(None).to_numpy()).all()
    # The same records, unchanged apart from status and time, were active at the first sync.
    was = before.persons.set_index("person_key").loc[gone["person_key"]]
    assert (was["status"] == "active").all()
    assert (was["email"].to_numpy() == gone["email"].to_numpy()).all()


def test_transfers(before: WorldState, after: WorldState) -> None:
    old = before.persons.set_index("person_key")["school_key"]
    new = after.persons.set_index("person_key")["school_key"]
    moved = new.index[(old != new).fillna(False).to_numpy()]
    assert len(moved) == round(0.02 * MAPLE.students)
    band = after.schools.set_index("school_key")["low_grade"]
    assert (band.loc[old.loc[moved]].to_numpy() == band.loc[new.loc[moved]].to_numpy()).all()  # same band
    seats = after.enrollments[after.enrollments["person_key"].isin(moved)].merge(
        after.classes[["class_key", "school_key"]], on="class_key")
    at_new_school = seats["school_key"].to_numpy() == new.loc[seats["person_key"]].to_numpy()
    assert (seats.loc[~at_new_school, "status"] == "tobedeleted").all()
    assert (seats.loc[at_new_school, "status"] == "active").all()
    fresh = seats[at_new_school]
    assert set(fresh["person_key"]) == set(moved)
    assert (fresh["last_modified"] > pd.Timestamp(SYNC1, tz="UTC")).all()
    assert not fresh["sourced_id"].isin(before.enrollments["sourced_id"]).any()  # created by the move
    assert len(after.enrollments) == len(before.enrollments) + len(fresh)


def test_changes_apply_on_their_day(world: World, after: WorldState) -> None:
    changed = after.persons[after.persons["last_modified"] >= pd.Timestamp(SYNC1, tz="UTC")]
    local_day = changed["last_modified"].dt.tz_convert(MAPLE.timezone).dt.date
    middle = sorted(set(local_day))[len(set(local_day)) // 2]
    state = world.state(MAPLE.district_id, middle)
    applied = state.persons.set_index("person_key").loc[changed["person_key"], "last_modified"]
    assert ((applied.to_numpy() == changed["last_modified"].to_numpy()) == (local_day <= middle).to_numpy()).all()
    seats = state.enrollments
    assert (seats["begin_date"].dt.date <= middle).all()


def test_a_state_is_cached(world: World, after: WorldState) -> None:
    assert world.state(MAPLE.district_id, SYNC2) is after


# --- assessment results and activity ------------------------------------------------------------------------


def test_map_results(after: WorldState) -> None:
    results = after.assessment_results
    students = _students(after).set_index("person_key")
    per_student = results.groupby("person_key").size()
    assert per_student.between(1, 3).all()
    assert set(per_student.index) == set(students.index[students["grade"] != "PK"])
    assert (results["grade_at_test"].to_numpy() == students.loc[results["person_key"], "grade"].to_numpy()).all()
    local = results["administered_at"].dt.tz_convert(MAPLE.timezone)
    assert (local.dt.strftime("%m/%d/%Y") == results["local_date"]).all()
    assert (local.dt.strftime("%H:%M:%S") == results["local_time"]).all()
    assert local.dt.month.isin([9, 10]).all() and (results["term_name"] == "Fall 2025-2026").all()
    assert results["rit_score"].between(140, 260).all() and results["percentile"].between(1, 99).all()
    assert not results.duplicated(["person_key", "course"]).any()


def test_learning_activity(before: WorldState, after: WorldState) -> None:
    events = after.learning_activity
    assert events["event_key"].is_unique
    assert events["verb"].str.startswith("http://adlnet.gov/expapi/verbs/").all()
    assert (events["ended_at"] - events["started_at"]).dt.total_seconds().eq(events["duration_seconds"]).all()
    scored = events["score_max"].notna()
    assert events.loc[scored, "score_raw"].between(0, events.loc[scored, "score_max"]).all()
    # A few a week: the window is the week before the first sync and the week after.
    assert 2 < len(events) / MAPLE.students / 2 < 4
    # Each event is in a class the student had a seat in on that day.
    seats = after.enrollments.merge(events[["event_key", "person_key", "class_key", "started_at"]],
                                    on=["person_key", "class_key"])
    day = seats["started_at"].dt.tz_convert(MAPLE.timezone).dt.tz_localize(None).dt.normalize()
    seated = seats[(seats["begin_date"] <= day) & (day <= seats["end_date"])]
    assert set(seated["event_key"]) == set(events["event_key"])
    assert len(before.learning_activity) < len(events)  # events of the second week appear later


@pytest.mark.parametrize(
    ("change", "message"),
    [({"district_id": "Maple USD"}, "district_id"), ({"students": 499}, "students"),
     ({"students": 50_001}, "students"), ({"students": 400_001, "benchmark_scale": True}, "students"),
     ({"roster_source": "canvas"}, "roster_source")],
)
def test_district_spec_is_validated(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(MAPLE, **change)


def test_only_a_benchmark_district_may_exceed_a_real_district() -> None:
    assert replace(MAPLE, students=400_000, benchmark_scale=True).students == 400_000


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="unique"):
        WorldOptions(districts=(MAPLE, MAPLE))
    with pytest.raises(ValueError, match="increasing"):
        WorldOptions(districts=(MAPLE,), sync_dates=(SYNC2, SYNC1))


def test_unknown_district(world: World) -> None:
    with pytest.raises(KeyError, match=re.escape("no district 'elm'")):
        world.state("elm", SYNC1)
