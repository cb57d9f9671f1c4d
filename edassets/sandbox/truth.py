"""What the warehouse must contain after syncing a district's platforms: the measured truth.

ARCHITECTURE decision 9: because the sandbox world is known, accuracy is measured, not
guessed. Each emulator says which rows a correct pipeline loads from its platform
(`Emulator.truth`); `expected_warehouse` gathers them for a district's platforms and
`compare` scores what was actually loaded against it.

Conventions every platform follows (the contract, stated once here; each emulator states
its platform's own):

* **Canonical ids are the roster source's ids** (`Emulator.id_scheme` of the district's
  roster platform): schools, sessions, courses, classes, persons and enrollments.
* **An enrollment without an id of its own** in that scheme is named
  ``f"{class id}:{person id}"``.
* **Deactivation, never deletion** (decision 5): withdrawn students, their guardians and
  the seats a transfer or withdrawal ended are rows with ``active`` False. The truth
  assumes each platform was synced on ``as_of`` and also while deleted records still
  existed (the world's first sync date, before any change): a bulk file or an API where
  deleted records are simply absent can only deactivate what it saw before.
* **Non-roster platforms** (assessments, activity) point at the canonical person found
  through the crosswalk. They are expected only when the district's roster is synced too:
  without it every record is unmatched and quarantined (decision 7), so nothing loads.

Deliberate simplifications: only the columns every platform filling an entity can fill
are compared (`COMPARED_COLUMNS`); vendor vocabularies the schema keeps verbatim are not.
Lineage, ``deactivated_at`` and ``source_platform`` of roster rows are the loader's business.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd

from edassets.sandbox import wire
from edassets.sandbox.world import STRING, World, WorldState
from edassets.schema.entities import ENTITIES_BY_NAME
from edassets.schema.model import Kind

__all__ = ["ACCURACY_COLUMNS", "COMPARED_COLUMNS", "compare", "expected_warehouse", "roster_truth"]

COMPARED_COLUMNS: dict[str, tuple[str, ...]] = {
    "school": ("district_id", "school_id", "name", "school_number", "parent_id", "active"),
    "academic_session": ("district_id", "session_id", "title", "start_date", "end_date", "active"),
    "course": ("district_id", "course_id", "title", "course_code", "active"),
    "class": ("district_id", "class_id", "title", "class_code", "course_id", "school_id", "term_ids", "grade_levels",
              "active"),
    "person": ("district_id", "person_id", "role", "given_name", "middle_name", "family_name", "email", "username",
               "sis_id", "state_id", "grade_level", "birth_date", "school_id", "active"),
    "enrollment": ("district_id", "enrollment_id", "class_id", "person_id", "school_id", "role", "is_primary",
                   "active"),
    "assessment_result": ("district_id", "source_platform", "result_id", "person_id", "source_person_id",
                          "assessment_name", "subject", "vendor", "assessment_window", "administered_at",
                          "grade_at_test", "scale_score", "scale_name", "scale_min", "scale_max", "raw_score",
                          "standard_error", "percentile", "performance_level", "grade_placement", "lexile",
                          "duration_minutes", "counts_for_growth"),
    "learning_activity": ("district_id", "source_platform", "event_id", "person_id", "source_person_id", "class_id",
                          "activity_type", "verb", "object_id", "object_name", "started_at", "ended_at",
                          "duration_seconds", "score_raw", "score_min", "score_max", "score_scaled", "completed",
                          "active"),
}
"""Per unified entity: its natural key, then the business columns every platform that fills
the entity can fill. Only these are expected and compared."""

ACCURACY_COLUMNS: tuple[str, ...] = (
    "entity", "records_expected", "loaded_correctly", "loaded_wrong", "missing", "unexpected", "accuracy",
    "wrong_columns",
)
"""Columns of the `compare` table."""

_FLOAT_TOLERANCE = 1e-6  # values travel through CSV text: "3.60" must equal 3.6


def expected_warehouse(world: World, district_id: str, as_of: date, platforms: Sequence[str]
                       ) -> dict[str, pd.DataFrame]:
    """The rows the warehouse must hold for one district after syncing ``platforms`` up to ``as_of``.

    Args:
        world: The sandbox world.
        district_id: The district.
        as_of: The last sync day.
        platforms: Platforms synced: the district's roster source and/or non-roster platforms.

    Returns:
        Per entity of `COMPARED_COLUMNS` (all of them, empty where no synced platform fills
        it), a frame of exactly those columns in the unified schema's dtypes, sorted by key.

    Raises:
        KeyError: If the world has no such district.
        ValueError: For a platform the sandbox does not emulate, or a roster platform that is
            not the district's roster source (its ids would not be canonical).
    """
    from edassets.sandbox.emulators import EMULATORS

    spec = world.spec(district_id)
    unknown = set(platforms) - set(EMULATORS)
    if unknown:
        raise ValueError(f"no truth for platforms {sorted(unknown)}; known: {sorted(EMULATORS)}")
    foreign = {p for p in platforms if EMULATORS[p].roster} - {spec.roster_source}
    if foreign:
        raise ValueError(f"{district_id}'s roster is {spec.roster_source}; {sorted(foreign)} cannot also be its roster")
    state = world.state(district_id, as_of)
    expected = {entity: _empty(entity) for entity in COMPARED_COLUMNS}
    if spec.roster_source in platforms:
        roster = EMULATORS[spec.roster_source]
        expected.update(roster.truth(state, roster.id_scheme))
        vendors: dict[str, list[pd.DataFrame]] = {}
        for platform in platforms:
            if not EMULATORS[platform].roster:
                for entity, frame in EMULATORS[platform].truth(state, roster.id_scheme).items():
                    vendors.setdefault(entity, []).append(_typed(entity, frame))
        # Several vendors fill one entity (MAP and another assessment's results): their rows add up.
        expected.update({entity: pd.concat(frames, ignore_index=True) for entity, frames in vendors.items()})
    return {entity: _typed(entity, frame) for entity, frame in expected.items()}


def compare(expected: Mapping[str, pd.DataFrame], actual: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Score loaded rows against the truth, entity by entity.

    Rows are matched on the entity's natural key. The entities scored are those of
    ``expected`` plus those of ``actual`` that `COMPARED_COLUMNS` covers (a loaded
    ``district`` or crosswalk table is not part of the truth). The columns compared are
    those of the expected frame; values are brought to the schema's dtypes first, so frames
    read back from SQLite or PostgreSQL compare equal to the truth. Floats match within
    1e-6, NA matches NA. Repeated keys in ``actual`` count once.

    Args:
        expected: `expected_warehouse` output (or any frames with those columns).
        actual: Loaded rows per entity (extra columns are ignored; a missing entity is empty).

    Returns:
        One row per entity (`ACCURACY_COLUMNS`): records_expected, loaded_correctly,
        loaded_wrong (key present, some compared column differs), missing, unexpected (in
        ``actual`` only), accuracy (loaded_correctly / records_expected, NaN when nothing is
        expected) and wrong_columns (``"column:count"`` for each column that differed).
    """
    rows = []
    for entity in dict.fromkeys([*expected, *(e for e in actual if e in COMPARED_COLUMNS)]):
        columns = list(expected[entity].columns) if entity in expected else list(COMPARED_COLUMNS[entity])
        key = list(ENTITIES_BY_NAME[entity].key)
        truth = _typed(entity, expected.get(entity, _empty(entity)), columns)
        loaded = _typed(entity, actual.get(entity, _empty(entity)), columns).drop_duplicates(key)
        merged = truth.merge(loaded, on=key, how="outer", suffixes=("", "__loaded"), indicator=True)
        both = (merged["_merge"] == "both").to_numpy()
        wrong = np.zeros(len(merged), dtype=bool)
        counts: dict[str, int] = {}
        for column in (c for c in columns if c not in key):
            differs = both & ~_same(merged[column], merged[f"{column}__loaded"])
            wrong |= differs
            if differs.any():
                counts[column] = int(differs.sum())
        n_expected = len(truth)
        correct = int((both & ~wrong).sum())
        rows.append({
            "entity": entity,
            "records_expected": n_expected,
            "loaded_correctly": correct,
            "loaded_wrong": int(wrong.sum()),
            "missing": int((merged["_merge"] == "left_only").sum()),
            "unexpected": int((merged["_merge"] == "right_only").sum()),
            "accuracy": correct / n_expected if n_expected else np.nan,
            "wrong_columns": ", ".join(f"{c}:{n}" for c, n in sorted(counts.items(), key=lambda i: (-i[1], i[0]))),
        })
    return pd.DataFrame(rows, columns=list(ACCURACY_COLUMNS))


# --- the truth, per entity --------------------------------------------------------------------------


def roster_truth(state: WorldState, scheme: str) -> dict[str, pd.DataFrame]:
    """The roster a district loads from a platform showing ``scheme`` ids, before its own conventions.

    Every person keeps the ids and username the world gives them and the school they attend
    (NA for guardians and district staff); classes list all their terms. A roster emulator
    adjusts what its platform cannot say (`Emulator.truth`).
    """
    district_id = state.spec.district_id
    district_org = state.district[scheme].iloc[0]
    school_id = wire.lookup(state.schools, "school_key", scheme)
    person_id = wire.lookup(state.persons, "person_key", scheme)
    class_id = wire.lookup(state.classes, "class_key", scheme)
    schools, terms, courses, classes, persons, seats = (
        state.schools, state.terms, state.courses, state.classes, state.persons, state.enrollments)
    seat_class = seats["class_key"].map(class_id)
    seat_person = seats["person_key"].map(person_id)
    seat_school = seats["class_key"].map(wire.lookup(classes, "class_key", "school_key")).map(school_id)
    enrollment_id = seats[scheme] if scheme in seats.columns else seat_class + ":" + seat_person
    return {
        "school": pd.DataFrame({
            "district_id": district_id, "school_id": schools[scheme], "name": schools["name"],
            "school_number": schools["school_number"], "parent_id": district_org, "active": _active(schools),
        }),
        "academic_session": pd.DataFrame({
            "district_id": district_id, "session_id": terms[scheme], "title": terms["title"],
            "start_date": terms["start_date"], "end_date": terms["end_date"], "active": _active(terms),
        }),
        "course": pd.DataFrame({
            "district_id": district_id, "course_id": courses[scheme], "title": courses["title"],
            "course_code": courses["course_code"], "active": _active(courses),
        }),
        "class": pd.DataFrame({
            "district_id": district_id, "class_id": classes[scheme], "title": classes["title"],
            "class_code": classes["class_code"],
            "course_id": classes["course_key"].map(wire.lookup(courses, "course_key", scheme)),
            "school_id": classes["school_key"].map(school_id),
            "term_ids": wire.term_ids(state, classes["term_keys"], scheme),
            "grade_levels": classes["grade"], "active": _active(classes),
        }),
        "person": pd.DataFrame({
            "district_id": district_id, "person_id": persons[scheme], "role": persons["role"],
            "given_name": persons["given_name"], "middle_name": persons["middle_name"],
            "family_name": persons["family_name"], "email": persons["email"], "username": persons["username"],
            "sis_id": persons["sis_id"], "state_id": persons["state_id"], "grade_level": persons["grade"],
            "birth_date": persons["birth_date"], "school_id": persons["school_key"].map(school_id),
            "active": _active(persons),
        }),
        "enrollment": pd.DataFrame({
            "district_id": district_id, "enrollment_id": enrollment_id, "class_id": seat_class,
            "person_id": seat_person, "school_id": seat_school, "role": seats["role"],
            "is_primary": seats["is_primary"], "active": _active(seats),
        }),
    }


def _active(frame: pd.DataFrame) -> pd.Series:
    return frame["status"] == "active"


# --- dtypes and equality -------------------------------------------------------------------------------


def _empty(entity: str) -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COMPARED_COLUMNS[entity]})


def _as_kind(values: pd.Series, kind: Kind) -> pd.Series:
    """Values in the schema dtype of ``kind``, whatever a database driver handed back."""
    if kind is Kind.STRING:
        return values.astype(STRING)
    if kind is Kind.DATE:
        parsed = pd.to_datetime(values, errors="coerce")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_localize(None)
        return parsed.dt.normalize().astype("datetime64[ns]")
    if kind is Kind.TIMESTAMP:
        # SQLite returns naive text; the warehouse stores UTC, so naive means UTC.
        return pd.to_datetime(values, utc=True, errors="coerce").astype(kind.pandas_dtype)
    if kind in (Kind.FLOAT, Kind.INTEGER):
        return pd.to_numeric(values, errors="coerce").astype(kind.pandas_dtype)
    return values.astype(kind.pandas_dtype)


def _typed(entity: str, frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The frame's ``columns`` (default: the compared ones) in schema dtypes, sorted by key.

    A column the frame lacks comes back all NA, so it counts as wrong rather than crashing.
    """
    spec = ENTITIES_BY_NAME[entity]
    columns = list(columns if columns is not None else COMPARED_COLUMNS[entity])
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in columns:
        values = frame[column].reset_index(drop=True) if column in frame else pd.Series(pd.NA, index=out.index)
        out[column] = _as_kind(values, spec.field(column).kind)
    return out.sort_values(list(spec.key), kind="stable").reset_index(drop=True)


def _same(left: pd.Series, right: pd.Series) -> np.ndarray:
    """Element-wise equality where NA equals NA and floats match within a tolerance."""
    both_missing = (left.isna() & right.isna()).to_numpy()
    if pd.api.types.is_float_dtype(left.dtype):
        a = left.to_numpy(dtype=float, na_value=np.nan)
        b = right.to_numpy(dtype=float, na_value=np.nan)
        return both_missing | np.isclose(a, b, rtol=0.0, atol=_FLOAT_TOLERANCE)
    equal = (left == right).fillna(False).to_numpy(dtype=bool)
    return both_missing | equal
