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
loops run over schools, bands or small pools, never over students.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
from faker import Faker

from edassets.demo.synthetic import GRADES

__all__ = [
    "GRADES",
    "ROSTER_SOURCES",
    "DistrictSpec",
    "World",
    "WorldOptions",
    "WorldState",
]

ROSTER_SOURCES: tuple[str, ...] = ("oneroster_rest", "clever", "oneroster_csv")
"""Platforms that can be a district's authoritative roster."""

STRING = pd.StringDtype("pyarrow")

MIN_STUDENTS, MAX_STUDENTS = 500, 50_000

# --- district shape -------------------------------------------------------------------------

# Indices into GRADES (PK=0, KG=1, "01"=2 … "12"=13). PK is a small cohort (partial-day,
# not universal); high-school cohorts shrink slightly with attrition.
_GRADE_WEIGHTS = np.array([0.3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.05, 1.0, 0.95, 0.9])
_GRADE_LABELS = ("Pre-Kindergarten", "Kindergarten", *(f"Grade {g}" for g in range(1, 13)))
_KG = 1
# (school type, first grade index, end grade index): elementary PK-05, middle 06-08, high 09-12.
_BANDS = (("Elementary School", 0, 7), ("Middle School", 7, 10), ("High School", 10, 14))
_BAND_OF_GRADE = np.array([b for b, (_, lo, hi) in enumerate(_BANDS) for _ in range(lo, hi)])
# Two elementary schools at least, so even the smallest district has somewhere to transfer to.
_MIN_SCHOOLS_PER_BAND = (2, 1, 1)
_STUDENTS_PER_SCHOOL = 500
_STUDENTS_PER_TEACHER = 18
_CLASS_SIZE = 25
_GUARDED_SHARE = 0.6  # students with guardians in the roster
_SECOND_GUARDIAN_SHARE = 0.5  # of those, students with two
_CO_TEACHER_SHARE = 0.05  # classes with a second, non-primary teacher
_MIDDLE_NAME_SHARE = 0.35
_NAME_POOL = 300  # Faker draws per name list; indexing the pools is what makes names fast

# (code, title). The first four are core subjects every student takes all year.
SUBJECTS: tuple[tuple[str, str], ...] = (
    ("MATH", "Mathematics"),
    ("ELA", "English Language Arts"),
    ("SCI", "Science"),
    ("SS", "Social Studies"),
    ("ART", "Art"),
    ("MUS", "Music"),
    ("PE", "Physical Education"),
    ("SPAN", "Spanish"),
    ("CS", "Computer Science"),
)
"""Subjects as (course-code stem, title); titles are what `subject` columns hold."""
_CORE = 4
_N_SUBJECTS = len(SUBJECTS)
# Electives per band (indices into SUBJECTS): elementary schools offer no languages or CS.
_ELECTIVES = ((4, 5, 6), (4, 5, 6, 7, 8), (4, 5, 6, 7, 8))
_MAX_ELECTIVES = 3  # students take 4 core + 0..3 electives = 4..7 classes

_YEAR, _FALL, _SPRING = 0, 1, 2  # term indices
_PERSON_ROLES = ("student", "teacher", "administrator", "guardian")
_GUARDIAN = 3

# --- NWEA MAP Growth (K12_FORMATS §1.8) ------------------------------------------------------

# (Subject, Course = RIT scale, TestName stem). Reading and Language Usage are courses of
# the "Language Arts" subject, as in the real sample.
_MAP_TESTS = (
    ("Mathematics", "Math K-12", "Math"),
    ("Language Arts", "Reading", "Reading"),
    ("Language Arts", "Language Usage", "Language"),
)
# Rough fall RIT mean and spread per grade index, shaped like NWEA norms, not copied (PK untested).
_RIT_MEAN = np.array([0, 146, 161, 175, 188, 198, 206, 211, 215, 219, 221, 223, 225, 226.0])
_RIT_SD = np.array([1, 11, 13, 14, 15, 15, 15, 15, 16, 16, 17, 17, 18, 18.0])
_RIT_RANGE = (140, 260)
_QUINTILES = ("Low", "LoAvg", "Avg", "HiAvg", "High")

# --- learning activity (xAPI, K12_FORMATS §1.4) ----------------------------------------------

XAPI_VERBS = "http://adlnet.gov/expapi/verbs/"
# (kind, verb, share, shortest and longest duration in seconds, score maximum; 0 = unscored)
_ACTIVITY_KINDS = (
    ("lesson", "completed", 0.35, 300, 1800, 0),
    ("video", "experienced", 0.20, 120, 900, 0),
    ("quiz", "passed", 0.25, 300, 1500, 20),  # "failed" below the pass mark
    ("practice", "attempted", 0.20, 120, 1200, 10),
)
_QUIZ, _PRACTICE = 2, 3  # indices of the scored kinds
_PASS_MARK = 0.7
_ITEMS_PER_KIND = 40  # activities per subject, grade and kind
_EVENTS_PER_SCHOOL_DAY = 0.6  # about three a week
_ACTIVITY_LEAD_DAYS = 7  # activity starts a week before the first sync
_ACTIVITY_HOST = "https://lms.example.org/xapi/activities"


# --- public types -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictSpec:
    """One district of the world.

    Attributes:
        district_id: Normalised registry id (``[a-z0-9_-]+``), e.g. ``"maple-usd"``.
        name: District name.
        students: Number of students, 500..50,000.
        roster_source: The district's authoritative roster platform (`ROSTER_SOURCES`).
        timezone: IANA zone of the district's wall clocks (assessment start times).
    """

    district_id: str
    name: str
    students: int
    roster_source: str
    timezone: str = "America/Chicago"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z0-9_-]+", self.district_id):
            raise ValueError(f"district_id must match [a-z0-9_-]+, got {self.district_id!r}")
        if not MIN_STUDENTS <= self.students <= MAX_STUDENTS:
            raise ValueError(f"students must be in {MIN_STUDENTS}..{MAX_STUDENTS}, got {self.students}")
        if self.roster_source not in ROSTER_SOURCES:
            raise ValueError(f"roster_source must be one of {ROSTER_SOURCES}, got {self.roster_source!r}")
        ZoneInfo(self.timezone)  # raises on an unknown zone


@dataclass(frozen=True)
class WorldOptions:
    """What to generate.

    Attributes:
        districts: The districts; ids must be unique.
        seed: Seed of every random draw.
        school_year: The spring year; 2026 means 2025-2026.
        sync_dates: The two roster syncs; transfers and withdrawals take effect after the
            first and on or before the second.
        transfer_rate: Share of students moving to another school of the same band
            between the two syncs.
        withdrawal_rate: Share of students leaving the district between the two syncs.
    """

    districts: tuple[DistrictSpec, ...]
    seed: int = 11
    school_year: int = 2026
    sync_dates: tuple[date, date] = (date(2026, 1, 12), date(2026, 1, 19))
    transfer_rate: float = 0.01
    withdrawal_rate: float = 0.01

    def __post_init__(self) -> None:
        ids = [d.district_id for d in self.districts]
        if not ids or len(set(ids)) != len(ids):
            raise ValueError(f"districts must be non-empty with unique ids, got {ids}")
        if not self.sync_dates[0] < self.sync_dates[1]:
            raise ValueError(f"sync_dates must be increasing, got {self.sync_dates}")
        if not 2000 <= self.school_year <= 2100:
            raise ValueError(f"school_year must be a spring year in 2000..2100, got {self.school_year}")
        # Above a fifth the "few changes between two syncs" story stops being a roster sync.
        for name in ("transfer_rate", "withdrawal_rate"):
            if not 0.0 <= getattr(self, name) <= 0.2:
                raise ValueError(f"{name} must be in [0, 0.2], got {getattr(self, name)}")


@dataclass(frozen=True)
class WorldState:
    """One district's roster and data as the source systems show it on ``as_of``.

    Treat the frames as read-only: `World.state` caches and shares them.

    Attributes:
        spec: The district.
        as_of: The day the state describes.
        district: One row: district_key, sourced_id, clever_id, name, nces_id, timezone, last_modified.
        schools: school_key, sourced_id, clever_id, name, school_number, low_grade, high_grade,
            status, last_modified.
        terms: term_key, sourced_id, clever_id, title, session_type, start_date, end_date,
            parent_key, school_year, status, last_modified.
        courses: course_key, sourced_id, clever_id, school_key, title, course_code, subject,
            grade_levels, status, last_modified.
        classes: class_key, sourced_id, clever_id, course_key, school_key, term_keys, title,
            class_code, period, subject, grade, status, last_modified.
        persons: person_key, sourced_id, clever_id, role, given_name, middle_name, family_name,
            gender, email, username, sis_id, state_id, grade, birth_date, school_key,
            guardian_of, status, last_modified.
        enrollments: enrollment_key, sourced_id, class_key, person_key, role, is_primary,
            begin_date, end_date, status, last_modified.
        assessment_results: result_key, test_id, person_key, school_key (school when tested),
            subject, course, test_name, term_name, administered_at, local_date, local_time,
            duration_minutes, rit_score, standard_error, percentile, quintile, grade_at_test.
        learning_activity: event_key, person_key, class_key, verb, object_id, object_name,
            started_at, ended_at, duration_seconds, score_raw, score_min, score_max,
            score_scaled, completed.
    """

    spec: DistrictSpec
    as_of: date
    district: pd.DataFrame
    schools: pd.DataFrame
    terms: pd.DataFrame
    courses: pd.DataFrame
    classes: pd.DataFrame
    persons: pd.DataFrame
    enrollments: pd.DataFrame
    assessment_results: pd.DataFrame
    learning_activity: pd.DataFrame


class World:
    """Every district of the world, generated once; `state` derives a day's view."""

    _STATE_CACHE = 16  # states kept per world; a server asks for the same few days repeatedly

    def __init__(self, options: WorldOptions, districts: dict[str, _DistrictWorld]) -> None:
        """Use `World.generate`; this only stores what it built."""
        self.options = options
        self._districts = districts
        self._states: OrderedDict[tuple[str, date], WorldState] = OrderedDict()

    @classmethod
    def generate(cls, options: WorldOptions) -> World:
        """Generate every district of ``options``.

        Args:
            options: What to generate.

        Returns:
            The world; the same options always give identical frames.
        """
        return cls(options, {spec.district_id: _generate_district(options, spec) for spec in options.districts})

    def spec(self, district_id: str) -> DistrictSpec:
        """The spec of one district.

        Raises:
            KeyError: If the world has no such district.
        """
        return self._district(district_id).spec

    def state(self, district_id: str, as_of: date) -> WorldState:
        """The district as its source systems show it on ``as_of``.

        Changes (transfers, withdrawals) effective on or before ``as_of`` are applied;
        assessment results and learning events are those that happened by the end of that
        local day. States are cached, so repeated calls are cheap.

        Args:
            district_id: The district.
            as_of: The day.

        Returns:
            The state (read-only frames).

        Raises:
            KeyError: If the world has no such district.
        """
        key = (district_id, as_of)
        cached = self._states.get(key)
        if cached is None:
            cached = self._district(district_id).state(as_of)
            self._states[key] = cached
            if len(self._states) > self._STATE_CACHE:
                self._states.popitem(last=False)
        else:
            self._states.move_to_end(key)
        return cached

    def _district(self, district_id: str) -> _DistrictWorld:
        try:
            return self._districts[district_id]
        except KeyError:
            raise KeyError(f"no district {district_id!r} in this world; it has {sorted(self._districts)}") from None


# --- how a district's history is stored --------------------------------------------------------


@dataclass(frozen=True)
class _Changes:
    """Updates to some rows of a frame, each effective from a day on.

    Attributes:
        rows: positions of the changed rows in the frame.
        day: local day each change takes effect (datetime64[D]).
        at: UTC instant of each change: the rows' new ``last_modified``.
        values: new value per column, aligned with ``rows``.
    """

    rows: np.ndarray
    day: np.ndarray
    at: pd.Series
    values: dict[str, pd.Series]

    def apply(self, frame: pd.DataFrame, as_of: np.datetime64) -> pd.DataFrame:
        """The frame with the changes effective on or before ``as_of``."""
        effective = self.day <= as_of
        if not effective.any():
            return frame
        out = frame.copy()
        rows = self.rows[effective]
        for column, values in {**self.values, "last_modified": self.at}.items():
            updated = out[column].copy()
            updated.iloc[rows] = values[effective].to_numpy()
            out[column] = updated
        return out


@dataclass(frozen=True)
class _DistrictWorld:
    """A district's complete history: frames as created, plus what changes when.

    ``enrollments`` holds every enrollment that ever exists, including those a transfer
    creates (``enrollment_appears`` is their first day, NaT for the others).
    ``result_day`` / ``activity_day`` are the local days results and events happen on.
    """

    spec: DistrictSpec
    frames: dict[str, pd.DataFrame]
    person_changes: _Changes
    enrollment_changes: _Changes
    enrollment_appears: np.ndarray
    result_day: np.ndarray
    activity_day: np.ndarray

    def state(self, as_of: date) -> WorldState:
        day = np.datetime64(as_of, "D")
        f = self.frames
        enrollments = self.enrollment_changes.apply(f["enrollments"], day)
        # NaT compares False, so records that always existed are kept.
        enrollments = _rows_where(enrollments, ~(self.enrollment_appears > day))
        return WorldState(
            spec=self.spec,
            as_of=as_of,
            district=f["district"],
            schools=f["schools"],
            terms=f["terms"],
            courses=f["courses"],
            classes=f["classes"],
            persons=self.person_changes.apply(f["persons"], day),
            enrollments=enrollments,
            assessment_results=_rows_where(f["assessment_results"], self.result_day <= day),
            learning_activity=_rows_where(f["learning_activity"], self.activity_day <= day),
        )


def _rows_where(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, re-indexed 0..n-1; the frame itself when all are kept (no copy)."""
    return frame if keep.all() else frame[keep].reset_index(drop=True)


# --- vectorised building blocks ------------------------------------------------------------------

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _text(values: np.ndarray | Sequence[str | None]) -> pd.Series:
    """Python strings (None for missing) as a ``string[pyarrow]`` Series."""
    return pd.Series(values, dtype=STRING)


def _pick(choices: np.ndarray | Sequence[str], index: np.ndarray) -> pd.Series:
    """``choices[index]`` as strings, NA where the index is negative.

    An Arrow take: far cheaper than converting n Python strings when choices are few.
    """
    index = np.asarray(index, dtype=np.int64)
    taken = pa.array(choices, type=pa.string()).take(pa.array(index, mask=index < 0))
    return pd.Series(pd.array(taken, dtype=STRING))


def _repeat(value: str, n: int) -> pd.Series:
    """One string n times."""
    return _pick([value], np.zeros(n, dtype=np.int64))


def _ascii_rows(buffer: np.ndarray) -> pd.Series:
    """An (n, width) uint8 array of ASCII codes as n strings, without a Python loop."""
    width = buffer.shape[1]
    fixed = np.ascontiguousarray(buffer).view(f"S{width}").ravel()
    return pd.Series(pd.array(pa.array(fixed).cast(pa.string()), dtype=STRING))


def _hex(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes to their (n, 2k) lower-case hex ASCII codes."""
    out = np.empty((raw.shape[0], 2 * raw.shape[1]), dtype=np.uint8)
    out[:, 0::2] = _HEX_DIGITS[raw >> 4]
    out[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return out


def _keys(prefix: str, n: int, start: int = 1) -> pd.Series:
    """Internal keys ``prefix000001``… (zero-padded so they sort in creation order)."""
    numbers = pd.Series(np.arange(start, start + n)).astype(STRING).str.zfill(7)
    return prefix + numbers


def _digits(values: np.ndarray) -> np.ndarray:
    """Integers as an object array of decimal strings (Arrow's cast is the fast route)."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string()).to_numpy(zero_copy_only=False)


def _utc(instants: np.ndarray) -> pd.Series:
    """Naive datetime64 values meaning UTC as a ``datetime64[ns, UTC]`` Series."""
    return pd.Series(instants.astype("datetime64[ns]")).dt.tz_localize("UTC")


def _dates(days: np.ndarray) -> pd.Series:
    """datetime64[D] days as a ``datetime64[ns]`` Series of midnights (the schema's DATE)."""
    return pd.Series(days.astype("datetime64[ns]"))


def _local_to_utc(days: np.ndarray, seconds: np.ndarray, tz: str) -> pd.Series:
    """Local wall-clock (day + seconds after midnight) in ``tz`` as UTC instants.

    The autumn DST hour is read as standard time and spring's skipped hour moves forward;
    the world never schedules anything between 01:00 and 03:00 anyway.
    """
    wall = pd.DatetimeIndex(days.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
    local = wall.tz_localize(tz, ambiguous=np.zeros(len(wall), dtype=bool), nonexistent="shift_forward")
    return pd.Series(local.tz_convert("UTC").as_unit("ns"))


def _created(rng: np.random.Generator, n: int, start: date, days: int) -> np.ndarray:
    """Random creation instants (UTC, millisecond precision) within ``days`` from ``start``."""
    offsets = rng.integers(0, days * 86_400_000, n).astype("timedelta64[ms]")
    return np.datetime64(start, "ms") + offsets


def _school_days(first: date, last: date) -> np.ndarray:
    """Weekdays from ``first`` to ``last`` inclusive (datetime64[D])."""
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    return days[np.is_busday(days)]


def _percentile(score: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    # Logistic approximation of the normal CDF (under one point off); avoids scipy.
    return np.clip(np.rint(100.0 / (1.0 + np.exp(-1.702 * (score - mean) / sd))), 1, 99).astype(np.int64)


def _rank_within(groups: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Each element's 0-based rank inside its group, in random (``noise``) order."""
    order = np.lexsort((noise, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    ranks = np.empty(len(groups), dtype=np.int64)
    ranks[order] = np.arange(len(groups)) - run_start
    return ranks


class _Ids:
    """Fresh ids of every scheme, drawn from the district's generator."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        # ObjectId layout: 4-byte creation second, 5 random "machine" bytes, 3-byte counter.
        # One machine value per district and a running counter make every id unique.
        self._machine = np.frombuffer(rng.bytes(5), dtype=np.uint8)
        self._counter = int(rng.integers(0, 1 << 23))

    def uuids(self, n: int) -> pd.Series:
        """Version-4 UUID strings (the OneRoster sourcedId shape)."""
        raw = np.frombuffer(self._rng.bytes(16 * n), dtype=np.uint8).reshape(n, 16).copy()
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40  # version 4
        raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80  # RFC 4122 variant
        digits = _hex(raw)
        text = np.full((n, 36), ord("-"), dtype=np.uint8)
        for src, dst, width in ((0, 0, 8), (8, 9, 4), (12, 14, 4), (16, 19, 4), (20, 24, 12)):
            text[:, dst : dst + width] = digits[:, src : src + width]
        return _ascii_rows(text)

    def object_ids(self, created: np.ndarray) -> pd.Series:
        """Clever ids (24 lower-case hex digits) for records created at ``created`` (UTC)."""
        n = len(created)
        raw = np.empty((n, 12), dtype=np.uint8)
        seconds = created.astype("datetime64[s]").astype(np.int64).astype(">u4")
        raw[:, :4] = seconds.view(np.uint8).reshape(n, 4)
        raw[:, 4:9] = self._machine
        counter = ((self._counter + np.arange(n)) & 0xFFFFFF).astype(">u4")
        raw[:, 9:] = counter.view(np.uint8).reshape(n, 4)[:, 1:]
        self._counter += n
        return _ascii_rows(_hex(raw))

    def numbers(self, n: int, digits: int) -> np.ndarray:
        """``n`` distinct random integers with exactly ``digits`` digits."""
        low = 10 ** (digits - 1)
        return self._rng.choice(9 * low, size=n, replace=False) + low


def _district_seed(seed: int, district_id: str) -> list[int]:
    # A digest, not hash(): Python salts str hashes per process.
    digest = hashlib.blake2b(district_id.encode(), digest_size=8).digest()
    return [seed, int.from_bytes(digest, "big")]


# --- the generator ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """The school year's dates."""

    fall_year: int
    term_starts: np.ndarray  # datetime64[D] per term index (year, fall, spring)
    term_ends: np.ndarray
    change_days: np.ndarray  # days transfers and withdrawals may happen on
    activity_days: np.ndarray  # school days with learning activity
    map_days: np.ndarray  # the fall MAP testing window

    @classmethod
    def of(cls, options: WorldOptions) -> _Calendar:
        fy, sy = options.school_year - 1, options.school_year
        first_sync, second_sync = options.sync_dates
        between = np.arange(np.datetime64(first_sync + timedelta(days=1), "D"), np.datetime64(second_sync, "D") + 1)
        weekdays = between[np.is_busday(between)]
        return cls(
            fall_year=fy,
            term_starts=np.array([date(fy, 8, 18), date(fy, 8, 18), date(sy, 1, 5)], dtype="datetime64[D]"),
            term_ends=np.array([date(sy, 5, 29), date(fy, 12, 19), date(sy, 5, 29)], dtype="datetime64[D]"),
            # Offices process transfers on weekdays; a weekend-only gap still gets its changes.
            change_days=weekdays if weekdays.size else between,
            activity_days=_school_days(first_sync - timedelta(days=_ACTIVITY_LEAD_DAYS), second_sync),
            map_days=_school_days(date(fy, 9, 2), date(fy, 10, 10)),
        )


@dataclass(frozen=True)
class _Names:
    """Faker name pools, indexed with NumPy to name thousands of people at once."""

    female: np.ndarray
    male: np.ndarray
    family: np.ndarray
    school_stems: tuple[str, ...]

    @classmethod
    def draw(cls, seed: list[int], schools: int) -> _Names:
        fake = Faker("en_US")
        fake.seed_instance(seed[0] * 1_000_003 + seed[1])
        stems: list[str] = []
        while len(stems) < schools:  # one pass per school: a handful of schools, not students
            stem = fake.last_name()
            if stem not in stems:
                stems.append(stem)
        return cls(
            female=np.array([fake.first_name_female() for _ in range(_NAME_POOL)], dtype=object),
            male=np.array([fake.first_name_male() for _ in range(_NAME_POOL)], dtype=object),
            family=np.array([fake.last_name() for _ in range(2 * _NAME_POOL)], dtype=object),
            school_stems=tuple(stems),
        )

    def people(self, rng: np.random.Generator, female: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(given, middle or None, family) names for people of the given sexes."""
        n = len(female)
        given = np.where(female, self.female[rng.integers(0, _NAME_POOL, n)], self.male[rng.integers(0, _NAME_POOL, n)])
        middle_pool = np.where(female, self.female[rng.integers(0, _NAME_POOL, n)],
                               self.male[rng.integers(0, _NAME_POOL, n)])
        middle = np.where(rng.random(n) < _MIDDLE_NAME_SHARE, middle_pool, np.full(n, None, dtype=object))
        family = self.family[rng.integers(0, len(self.family), n)]
        return given, middle, family


def _usernames(given: np.ndarray, family: np.ndarray) -> pd.Series:
    """``given.family`` in lower case, with 2, 3… appended to repeats so each is unique."""
    base = (_text(given) + "." + _text(family)).str.lower().str.replace(r"[^a-z.]", "", regex=True)
    repeat = base.groupby(base, sort=False).cumcount()
    # A base has no digits, so a numbered name can never collide with another base.
    return base + (repeat + 1).astype(STRING).where(repeat > 0, "")


def _school_counts(students_per_band: np.ndarray, students: int) -> np.ndarray:
    total = max(sum(_MIN_SCHOOLS_PER_BAND), round(students / _STUDENTS_PER_SCHOOL))
    share = students_per_band / students_per_band.sum()
    return np.maximum(_MIN_SCHOOLS_PER_BAND, np.rint(total * share).astype(np.int64))


def _generate_district(options: WorldOptions, spec: DistrictSpec) -> _DistrictWorld:
    seed = _district_seed(options.seed, spec.district_id)
    return _Builder(options, spec, seed).build()


class _Builder:
    """Builds one district.

    The steps run in a fixed order on one generator, so the draws are reproducible; each
    step leaves the index arrays later steps need on ``self`` (student grade and school,
    class school/grade/subject/section/term, seats, person keys…).
    """

    def __init__(self, options: WorldOptions, spec: DistrictSpec, seed: list[int]) -> None:
        self.options, self.spec, self.seed = options, spec, seed
        self.rng = np.random.default_rng(seed)
        self.ids = _Ids(self.rng)
        self.cal = _Calendar.of(options)

    def build(self) -> _DistrictWorld:
        rng, n = self.rng, self.spec.students
        self.grade = rng.choice(len(GRADES), size=n, p=_GRADE_WEIGHTS / _GRADE_WEIGHTS.sum())
        band_students = np.bincount(_BAND_OF_GRADE[self.grade], minlength=len(_BANDS))
        self.schools_per_band = _school_counts(band_students, n)
        self.n_schools = int(self.schools_per_band.sum())
        self.names = _Names.draw(self.seed, self.n_schools)

        district = self._district()
        schools = self._schools()
        terms = self._terms()
        self._place_students()
        courses, classes = self._catalogue()
        persons = self._persons()
        enrollments = self._enrollments()
        person_changes, enrollment_changes, appears, enrollments = self._changes(persons, enrollments)
        results, result_day = self._assessment_results()
        activity, activity_day = self._learning_activity(enrollments, enrollment_changes)
        return _DistrictWorld(
            spec=self.spec,
            frames={
                "district": district, "schools": schools, "terms": terms, "courses": courses,
                "classes": classes, "persons": persons, "enrollments": enrollments,
                "assessment_results": results, "learning_activity": activity,
            },
            person_changes=person_changes,
            enrollment_changes=enrollment_changes,
            enrollment_appears=appears,
            result_day=result_day,
            activity_day=activity_day,
        )

    # --- organisation ------------------------------------------------------------------------

    def _district(self) -> pd.DataFrame:
        created = np.array([np.datetime64(date(self.cal.fall_year, 6, 1), "ms") + np.timedelta64(14, "h")])
        # NCES LEA ids are 2-digit state FIPS + 5 digits; FIPS 99 belongs to no state.
        nces = f"99{int(self.rng.integers(0, 100_000)):05d}"
        return pd.DataFrame({
            "district_key": _text([f"dist-{self.spec.district_id}"]),
            "sourced_id": self.ids.uuids(1),
            "clever_id": self.ids.object_ids(created),
            "name": _text([self.spec.name]),
            "nces_id": _text([nces]),
            "timezone": _text([self.spec.timezone]),
            "last_modified": _utc(created),
        })

    def _schools(self) -> pd.DataFrame:
        n = self.n_schools
        self.school_band = np.repeat(np.arange(len(_BANDS)), self.schools_per_band)
        created = _created(self.rng, n, date(self.cal.fall_year, 6, 2), 5)
        names = [f"{stem} {_BANDS[b][0]}" for stem, b in zip(self.names.school_stems, self.school_band, strict=True)]
        low = np.array([GRADES[_BANDS[b][1]] for b in range(len(_BANDS))], dtype=object)
        high = np.array([GRADES[_BANDS[b][2] - 1] for b in range(len(_BANDS))], dtype=object)
        self.school_keys = _keys("sch-", n).to_numpy(dtype=object)
        return pd.DataFrame({
            "school_key": _text(self.school_keys),
            "sourced_id": self.ids.uuids(n),
            "clever_id": self.ids.object_ids(created),
            "name": _text(names),
            "school_number": _text(_digits(101 + np.arange(n))),
            "low_grade": _text(low[self.school_band]),
            "high_grade": _text(high[self.school_band]),
            "status": _repeat("active", n),
            "last_modified": _utc(created),
        })

    def _terms(self) -> pd.DataFrame:
        fy, sy = self.cal.fall_year, self.options.school_year
        created = _created(self.rng, 3, date(fy, 6, 9), 1)
        self.term_keys = np.array([f"term-{sy}", f"term-{sy}-fall", f"term-{sy}-spring"], dtype=object)
        return pd.DataFrame({
            "term_key": _text(self.term_keys),
            "sourced_id": self.ids.uuids(3),
            "clever_id": self.ids.object_ids(created),
            "title": _text([f"{fy}-{sy} School Year", f"Fall {fy} Semester", f"Spring {sy} Semester"]),
            "session_type": _text(["schoolYear", "semester", "semester"]),
            "start_date": _dates(self.cal.term_starts),
            "end_date": _dates(self.cal.term_ends),
            "parent_key": _text([None, self.term_keys[_YEAR], self.term_keys[_YEAR]]),
            "school_year": np.full(3, sy, dtype=np.int64),
            "status": _text(["active"] * 3),
            "last_modified": _utc(created),
        })

    def _place_students(self) -> None:
        """Each student attends one school of their grade's band; schools differ in size."""
        rng, n = self.rng, self.spec.students
        band_first = np.r_[0, np.cumsum(self.schools_per_band)[:-1]]
        pull = rng.uniform(0.7, 1.3, self.n_schools)  # some schools draw more families
        school = np.empty(n, dtype=np.int64)
        band = _BAND_OF_GRADE[self.grade]
        for b in range(len(_BANDS)):  # three bands
            members = np.flatnonzero(band == b)
            local = pull[band_first[b] : band_first[b] + self.schools_per_band[b]]
            school[members] = band_first[b] + rng.choice(local.size, size=members.size, p=local / local.sum())
        self.school = school
        self.band_first = band_first
        self.populated = np.bincount(school * len(GRADES) + self.grade,
                                     minlength=self.n_schools * len(GRADES)).reshape(self.n_schools, len(GRADES)) > 0

    # --- courses, classes and schedules --------------------------------------------------------

    def _catalogue(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng, n = self.rng, self.spec.students
        n_grades = len(GRADES)
        in_band = np.zeros((len(_BANDS), _N_SUBJECTS), dtype=bool)
        in_band[:, :_CORE] = True
        for b, electives in enumerate(_ELECTIVES):
            in_band[b, list(electives)] = True

        # Student schedules: the four core subjects plus 0..3 electives of their band.
        band = _BAND_OF_GRADE[self.grade]
        elective_table = np.full((len(_BANDS), max(map(len, _ELECTIVES))), -1)
        for b, electives in enumerate(_ELECTIVES):
            elective_table[b, : len(electives)] = electives
        offered = elective_table[band]
        keys = np.where(offered >= 0, rng.random(offered.shape), np.inf)
        picked = np.argsort(np.argsort(keys, axis=1), axis=1) < rng.integers(0, _MAX_ELECTIVES + 1, n)[:, None]
        e_student, e_col = np.nonzero(picked)
        student = np.r_[np.repeat(np.arange(n), _CORE), e_student]
        subject = np.r_[np.tile(np.arange(_CORE), n), offered[e_student, e_col]]

        # Cells (school, grade, subject): a course wherever the school's band teaches it,
        # sections wherever the school has students of that grade.
        cell = (self.school[student] * n_grades + self.grade[student]) * _N_SUBJECTS + subject
        n_cells = self.n_schools * n_grades * _N_SUBJECTS
        demand = np.bincount(cell, minlength=n_cells)
        same_band = self.school_band[:, None, None] == _BAND_OF_GRADE[None, :, None]
        has_course = same_band & in_band[self.school_band][:, None, :]
        has_classes = (has_course & self.populated[:, :, None]).ravel()
        sections = np.where(has_classes, np.maximum(1, -(-demand // _CLASS_SIZE)), 0)
        self.sections_of_cell = sections

        course_cells = np.flatnonzero(has_course.ravel())
        course_of_cell = np.full(n_cells, -1)
        course_of_cell[course_cells] = np.arange(course_cells.size)
        c_school, c_grade, c_subject = np.unravel_index(course_cells, (self.n_schools, n_grades, _N_SUBJECTS))
        codes = np.array([s[0] for s in SUBJECTS], dtype=object)
        titles = np.array([s[1] for s in SUBJECTS], dtype=object)
        grades = np.array(GRADES, dtype=object)
        labels = np.array(_GRADE_LABELS, dtype=object)
        course_titles = titles[c_subject] + " " + labels[c_grade]
        course_codes = codes[c_subject] + "-" + grades[c_grade]
        n_courses = course_cells.size
        course_created = _created(rng, n_courses, date(self.cal.fall_year, 6, 10), 20)
        self.course_keys = _keys("crs-", n_courses).to_numpy(dtype=object)
        courses = pd.DataFrame({
            "course_key": _text(self.course_keys),
            "sourced_id": self.ids.uuids(n_courses),
            "clever_id": self.ids.object_ids(course_created),
            "school_key": _pick(self.school_keys, c_school),
            "title": _text(course_titles),
            "course_code": _text(course_codes),
            "subject": _text(titles[c_subject]),
            "grade_levels": _text(grades[c_grade]),
            "status": _repeat("active", n_courses),
            "last_modified": _utc(course_created),
        })

        # Classes: one row per section, cells in (school, grade, subject) order.
        class_cell = np.repeat(np.arange(n_cells), sections)
        n_classes = class_cell.size
        self.first_class_of_cell = np.r_[0, np.cumsum(sections)[:-1]]
        section = np.arange(n_classes) - self.first_class_of_cell[class_cell]
        k_school, k_grade, k_subject = np.unravel_index(class_cell, (self.n_schools, n_grades, _N_SUBJECTS))
        # Core subjects run all year; electives alternate semesters by section.
        term = np.where(k_subject < _CORE, _YEAR, _FALL + (k_subject + section) % 2)
        fall, spring = self.term_keys[_FALL], self.term_keys[_SPRING]
        # A year-long class lists both semesters, as real exports do (a quoted multi-value cell).
        term_keys = np.array([f"{fall},{spring}", fall, spring], dtype=object)[term]
        period = np.where(k_subject < _CORE, k_subject + 1, 5 + (k_subject - _CORE) % 3)
        number = _digits(section + 1)
        number = np.where(section + 1 < 10, "0" + number, number)
        class_created = _created(rng, n_classes, date(self.cal.fall_year, 7, 1), 31)
        self.class_school, self.class_grade, self.class_subject = k_school, k_grade, k_subject
        self.class_section, self.class_term = section, term
        self.class_keys = _keys("cls-", n_classes).to_numpy(dtype=object)
        classes = pd.DataFrame({
            "class_key": _text(self.class_keys),
            "sourced_id": self.ids.uuids(n_classes),
            "clever_id": self.ids.object_ids(class_created),
            "course_key": _text(self.course_keys[course_of_cell[class_cell]]),
            "school_key": _pick(self.school_keys, k_school),
            "term_keys": _text(term_keys),
            "title": _text(course_titles[course_of_cell[class_cell]] + " - Section " + _digits(section + 1)),
            "class_code": _text(course_codes[course_of_cell[class_cell]] + "-" + number),
            "period": _text(_digits(period)),
            "subject": _text(titles[k_subject]),
            "grade": _text(grades[k_grade]),
            "status": _repeat("active", n_classes),
            "last_modified": _utc(class_created),
        })

        # Seats: students of a cell are dealt round the cell's sections in random order.
        rank = _rank_within(cell, rng.random(cell.size))
        self.seat_student = student
        self.seat_class = self.first_class_of_cell[cell] + rank % sections[cell]
        return courses, classes

    # --- people ------------------------------------------------------------------------------------

    def _persons(self) -> pd.DataFrame:
        rng, n, fy = self.rng, self.spec.students, self.cal.fall_year
        per_school = np.bincount(self.school, minlength=self.n_schools)
        self.teachers_per_school = np.maximum(1, np.rint(per_school / _STUDENTS_PER_TEACHER).astype(np.int64))
        n_teachers = int(self.teachers_per_school.sum())
        n_admins = 2 + n // 10_000  # district office: superintendent, curriculum and data leads
        guarded = np.flatnonzero(rng.random(n) < _GUARDED_SHARE)
        two = rng.random(guarded.size) < _SECOND_GUARDIAN_SHARE
        child = np.r_[guarded, guarded[two]]
        n_guardians = child.size
        self.n_teachers, self.n_admins, self.guardian_child = n_teachers, n_admins, child
        staff = n + np.arange(n_teachers + n_admins)
        guardians = n + n_teachers + n_admins + np.arange(n_guardians)
        total = n + n_teachers + n_admins + n_guardians

        role = np.repeat(np.arange(len(_PERSON_ROLES)), [n, n_teachers, n_admins, n_guardians])
        female = rng.random(total) < 0.5
        # A second guardian is usually the other parent: opposite sex to the first.
        first_guardians = guardians[: guarded.size]
        female[guardians[guarded.size :]] = ~female[first_guardians[two]]
        given, middle, family = self.names.people(rng, female)
        family[guardians] = np.where(rng.random(n_guardians) < 0.85, family[child], family[guardians])
        usernames = _usernames(given, family)
        domain = _pick(["@example.org", "@example.net"], (role == _GUARDIAN).astype(np.int64))

        sis = np.empty(total, dtype=object)
        sis[:n] = _digits(self.ids.numbers(n, 6))
        sis[staff] = _digits(self.ids.numbers(staff.size, 7))
        sis[guardians] = _digits(self.ids.numbers(n_guardians, 8))
        state = np.full(total, None, dtype=object)
        # State ids with a "999" prefix, which no real state assigns.
        state[:n] = "999" + _digits(self.ids.numbers(n, 7))
        state[staff] = "998" + _digits(self.ids.numbers(staff.size, 6))

        grade = np.full(total, -1)
        grade[:n] = self.grade
        # On 1 September of the fall a student of grade index g is 4 + g (4 in PK, 5 in KG):
        # born within the year that starts on 2 September, 5 + g years before.
        first_birthday = np.array([date(fy - 5 - g, 9, 2) for g in range(len(GRADES))], dtype="datetime64[D]")
        birth = np.full(total, np.datetime64("NaT"), dtype="datetime64[D]")
        birth[:n] = first_birthday[self.grade] + rng.integers(0, 365, n).astype("timedelta64[D]")

        teacher_school = np.repeat(np.arange(self.n_schools), self.teachers_per_school)
        school = np.full(total, -1)
        school[:n] = self.school
        school[n : n + n_teachers] = teacher_school
        self.teacher_first = np.r_[0, np.cumsum(self.teachers_per_school)[:-1]]

        created = np.empty(total, dtype="datetime64[ms]")
        created[:n] = _created(rng, n, date(fy, 7, 1), 45)
        created[staff] = _created(rng, staff.size, date(fy, 6, 15), 45)
        created[guardians] = created[child] + rng.integers(0, 2 * 86_400_000, n_guardians).astype("timedelta64[ms]")
        keys = _keys("per-", total).to_numpy(dtype=object)
        guardian_of = np.full(total, -1)
        guardian_of[guardians] = child
        self.person_keys = keys
        return pd.DataFrame({
            "person_key": _text(keys),
            "sourced_id": self.ids.uuids(total),
            "clever_id": self.ids.object_ids(created),
            "role": _pick(_PERSON_ROLES, role),
            "given_name": _text(given),
            "middle_name": _text(middle),
            "family_name": _text(family),
            "gender": _pick(["F", "M"], (~female).astype(np.int64)),
            "email": usernames + domain,
            "username": usernames,
            "sis_id": _text(sis),
            "state_id": _text(state),
            "grade": _pick(GRADES, grade),
            "birth_date": _dates(birth),
            "school_key": _pick(self.school_keys, school),
            "guardian_of": _pick(keys, guardian_of),
            "status": _repeat("active", total),
            "last_modified": _utc(created),
        })

    def _enrollments(self) -> pd.DataFrame:
        rng, n = self.rng, self.spec.students
        n_classes = self.class_keys.size
        # Primary teachers: a school's classes are split into contiguous blocks, one per
        # teacher. Elementary blocks follow grade and section (one teacher, many subjects),
        # secondary blocks follow subject (a maths teacher teaches maths).
        elementary = self.school_band[self.class_school] == 0
        section = self.class_section
        block_key = np.where(elementary, (self.class_grade * 100 + section) * 100 + self.class_subject,
                             (self.class_subject * 100 + self.class_grade) * 100 + section)
        order = np.lexsort((block_key, self.class_school))
        rank = np.empty(n_classes, dtype=np.int64)
        starts = np.searchsorted(self.class_school[order], np.arange(self.n_schools))
        rank[order] = np.arange(n_classes) - starts[self.class_school[order]]
        classes_per_school = np.bincount(self.class_school, minlength=self.n_schools)
        teachers = self.teachers_per_school[self.class_school]
        local = rank * teachers // classes_per_school[self.class_school]
        primary = n + self.teacher_first[self.class_school] + local
        co_classes = np.flatnonzero((rng.random(n_classes) < _CO_TEACHER_SHARE) & (teachers > 1))
        co_count = teachers[co_classes]
        # Any other teacher of the school: an offset of 1..count-1 from the primary one.
        co_offset = 1 + rng.integers(0, 1 << 30, co_classes.size) % (co_count - 1)
        co_local = (local[co_classes] + co_offset) % co_count
        co_teacher = n + self.teacher_first[self.class_school[co_classes]] + co_local

        klass = np.r_[self.seat_class, np.arange(n_classes), co_classes]
        self.enrollment_class = klass
        person = np.r_[self.seat_student, primary, co_teacher]
        m_students = self.seat_class.size
        m = klass.size
        role = (np.arange(m) >= m_students).astype(np.int64)
        is_primary = np.zeros(m, dtype=bool)
        is_primary[m_students : m_students + n_classes] = True
        term = self.class_term[klass]
        created = _created(rng, m, date(self.cal.fall_year, 8, 1), 14)
        return pd.DataFrame({
            "enrollment_key": _keys("enr-", m),
            "sourced_id": self.ids.uuids(m),
            "class_key": _pick(self.class_keys, klass),
            "person_key": _pick(self.person_keys, person),
            "role": _pick(["student", "teacher"], role),
            "is_primary": is_primary,
            "begin_date": _dates(self.cal.term_starts[term]),
            "end_date": _dates(self.cal.term_ends[term]),
            "status": _repeat("active", m),
            "last_modified": _utc(created),
        })

    # --- what happens between the two syncs ----------------------------------------------------

    def _changes(self, persons: pd.DataFrame, enrollments: pd.DataFrame
                 ) -> tuple[_Changes, _Changes, np.ndarray, pd.DataFrame]:
        """Draw withdrawals and transfers; add the enrollments transfers create.

        Returns:
            person changes, enrollment changes, the first day of every enrollment (NaT for
            enrollments that exist from the start) and the enrollments with the new ones.
        """
        rng, n, tz = self.rng, self.spec.students, self.spec.timezone
        withdrawn = np.sort(rng.choice(n, size=round(self.options.withdrawal_rate * n), replace=False))
        movers, targets = self._transfers(withdrawn)
        changed = np.r_[withdrawn, movers]
        change_day = rng.choice(self.cal.change_days, size=changed.size)
        change_at = _local_to_utc(change_day, rng.integers(8 * 3600, 17 * 3600, changed.size), tz)
        slot = np.full(n, -1)
        slot[changed] = np.arange(changed.size)

        def day_of(students: np.ndarray) -> np.ndarray:
            return change_day[slot[students]]

        def at_of(students: np.ndarray) -> pd.Series:
            return change_at.iloc[slot[students]].reset_index(drop=True)

        # Persons: withdrawn students and their guardians go; movers change school.
        guardian_rows = n + self.n_teachers + self.n_admins + np.arange(self.guardian_child.size)
        leaving_guardians = np.isin(self.guardian_child, withdrawn)
        gone = np.r_[withdrawn, guardian_rows[leaving_guardians]]
        owner = np.r_[withdrawn, self.guardian_child[leaving_guardians], movers]
        person_changes = _Changes(
            rows=np.r_[gone, movers],
            day=day_of(owner),
            at=at_of(owner),
            values={
                "status": _text(np.r_[np.full(gone.size, "tobedeleted", dtype=object),
                                      np.full(movers.size, "active", dtype=object)]),
                "school_key": _text(np.r_[persons["school_key"].to_numpy(dtype=object)[gone],
                                          self.school_keys[targets]]),
            },
        )

        # Enrollments: every seat of a leaving student ends the day before and is deleted.
        seat_person = np.r_[self.seat_student, np.full(len(enrollments) - self.seat_student.size, -1)]
        ended = np.flatnonzero(np.isin(seat_person, changed))
        end_day = day_of(seat_person[ended])
        begin = enrollments["begin_date"].to_numpy()[ended].astype("datetime64[D]")
        old_end = enrollments["end_date"].to_numpy()[ended].astype("datetime64[D]")
        enrollment_changes = _Changes(
            rows=ended,
            day=end_day,
            at=at_of(seat_person[ended]),
            values={
                "status": _repeat("tobedeleted", ended.size),
                "end_date": _dates(np.maximum(begin, np.minimum(old_end, end_day - 1))),
            },
        )

        # New seats at the target school: same subjects, a section running on the change day.
        target = np.full(n, -1)
        target[movers] = targets
        moved_seats = np.flatnonzero(np.isin(self.seat_student, movers))
        who = self.seat_student[moved_seats]
        subject = self.class_subject[self.seat_class[moved_seats]]
        cell = (target[who] * len(GRADES) + self.grade[who]) * _N_SUBJECTS + subject
        count = self.sections_of_cell[cell]
        start_day = day_of(who)
        pick = rng.integers(0, 1 << 30, who.size) % count
        chosen = np.full(who.size, -1)
        for step in range(2):  # a neighbouring section runs in the other semester
            candidate = self.first_class_of_cell[cell] + (pick + step) % count
            term = self.class_term[candidate]
            running = (self.cal.term_starts[term] <= start_day) & (start_day <= self.cal.term_ends[term])
            chosen = np.where((chosen < 0) & running, candidate, chosen)
        keep = chosen >= 0
        who, chosen, start_day = who[keep], chosen[keep], start_day[keep]
        m_new = who.size
        new_rows = pd.DataFrame({
            "enrollment_key": _keys("enr-", m_new, start=len(enrollments) + 1),
            "sourced_id": self.ids.uuids(m_new),
            "class_key": _pick(self.class_keys, chosen),
            "person_key": _pick(self.person_keys, who),
            "role": _repeat("student", m_new),
            "is_primary": np.zeros(m_new, dtype=bool),
            "begin_date": _dates(start_day),
            "end_date": _dates(self.cal.term_ends[self.class_term[chosen]]),
            "status": _repeat("active", m_new),
            "last_modified": at_of(who),
        })
        self.seat_student_all = np.r_[seat_person, who]
        self.enrollment_class = np.r_[self.enrollment_class, chosen]
        appears = np.r_[np.full(len(enrollments), np.datetime64("NaT"), dtype="datetime64[D]"), start_day]
        all_enrollments = pd.concat([enrollments, new_rows], ignore_index=True)
        return person_changes, enrollment_changes, appears, all_enrollments

    def _transfers(self, withdrawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Movers (student indices, sorted) and their target schools.

        A mover needs another school of the same band that teaches their grade, so PK
        students (few, in few schools) and one-school bands are left out.
        """
        rng, n = self.rng, self.spec.students
        band = _BAND_OF_GRADE[self.grade]
        eligible = (self.grade >= _KG) & ~np.isin(np.arange(n), withdrawn)
        # Another school of the band with this grade exists: its count of such schools > 1.
        schools_with_grade = np.zeros((len(_BANDS), len(GRADES)), dtype=np.int64)
        np.add.at(schools_with_grade, self.school_band, self.populated.astype(np.int64))
        eligible &= schools_with_grade[band, self.grade] > 1
        candidates = np.flatnonzero(eligible)
        count = min(round(self.options.transfer_rate * n), candidates.size)
        movers = np.sort(rng.choice(candidates, size=count, replace=False))
        targets = np.empty(count, dtype=np.int64)
        for b in range(len(_BANDS)):  # three bands
            mine = np.flatnonzero(band[movers] == b)
            if mine.size == 0:
                continue
            first, width = self.band_first[b], self.schools_per_band[b]
            options = self.populated[first : first + width][:, self.grade[movers[mine]]].T.copy()
            options[np.arange(mine.size), self.school[movers[mine]] - first] = False
            keys = np.where(options, rng.random(options.shape), -1.0)
            targets[mine] = first + keys.argmax(axis=1)
        return movers, targets

    # --- data the platforms report ---------------------------------------------------------------

    def _assessment_results(self) -> tuple[pd.DataFrame, np.ndarray]:
        """1-3 fall MAP Growth tests per student from kindergarten up (K12_FORMATS §1.8)."""
        rng, tz = self.rng, self.spec.timezone
        tested = np.flatnonzero(self.grade >= _KG)
        n_tests = rng.integers(1, len(_MAP_TESTS) + 1, tested.size)
        order = np.argsort(rng.random((tested.size, len(_MAP_TESTS))), axis=1)
        rank = np.argsort(order, axis=1)
        who, kind = np.nonzero(rank < n_tests[:, None])
        student = tested[who]
        m = student.size
        g = self.grade[student]
        # One ability per student, shared by subjects (a strong reader is often strong at maths).
        ability = rng.standard_normal(self.spec.students)[student]
        mean, sd = _RIT_MEAN[g], _RIT_SD[g]
        rit = np.clip(np.rint(mean + sd * (0.8 * ability + 0.6 * rng.standard_normal(m))), *_RIT_RANGE)
        percentile = _percentile(rit, mean, sd)
        day = rng.choice(self.cal.map_days, size=m)
        seconds = rng.integers(8 * 3600, 15 * 3600, m)
        # Few distinct days and clock times: format each once (NWEA writes MM/DD/YYYY, HH:MM:SS).
        clocks, clock_index = np.unique(seconds, return_inverse=True)
        days, day_index = np.unique(day, return_inverse=True)
        # MAP test forms come in K-2, 2-5 and 6+ versions.
        form = np.searchsorted([GRADES.index("02"), GRADES.index("05")], g, side="right")
        test_names = [f"Growth: {t[2]} {f} CCSS 2010" for t in _MAP_TESTS for f in ("K-2", "2-5", "6+")]
        # Increasing with random gaps: unique without a lookup, yet not a plain counter.
        test_id = 710_000_000 + 7 * np.arange(m) + rng.integers(0, 7, m)
        results = pd.DataFrame({
            "result_key": _keys("res-", m),
            "test_id": _text(_digits(test_id)),
            "person_key": _pick(self.person_keys, student),
            "school_key": _pick(self.school_keys, self.school[student]),
            "subject": _pick([t[0] for t in _MAP_TESTS], kind),
            "course": _pick([t[1] for t in _MAP_TESTS], kind),
            "test_name": _pick(test_names, kind * 3 + form),
            "term_name": _repeat(f"Fall {self.cal.fall_year}-{self.options.school_year}", m),
            "administered_at": _local_to_utc(day, seconds, tz),
            "local_date": _pick([d.strftime("%m/%d/%Y") for d in days.astype(object)], day_index),
            "local_time": _pick([f"{c // 3600:02d}:{c // 60 % 60:02d}:{c % 60:02d}" for c in clocks.tolist()],
                                clock_index),
            "duration_minutes": rng.integers(20, 61, m),
            "rit_score": rit.astype(np.int64),
            "standard_error": np.round(3.0 + 0.1 * rng.integers(0, 8, m), 2),
            "percentile": percentile,
            # NWEA bands: Low < 21, LoAvg 21-40, Avg 41-60, HiAvg 61-80, High > 80.
            "quintile": _pick(_QUINTILES, np.searchsorted([21, 41, 61, 81], percentile, side="right")),
            "grade_at_test": _pick(GRADES, g),
        })
        return results, day

    def _learning_activity(self, enrollments: pd.DataFrame, changes: _Changes) -> tuple[pd.DataFrame, np.ndarray]:
        """A few xAPI-style events per student per school week, in classes they attend that day."""
        rng, n, tz = self.rng, self.spec.students, self.spec.timezone
        days = self.cal.activity_days
        per_student = rng.poisson(_EVENTS_PER_SCHOOL_DAY * days.size, n)
        student = np.repeat(np.arange(n), per_student)
        day = rng.choice(days, size=student.size)

        # The class: one of the student's seats that runs that day (final begin/end dates,
        # so a mover's events follow them and a leaver's stop). A few redraws find one.
        seats = np.flatnonzero(self.seat_student_all >= 0)
        begin = enrollments["begin_date"].to_numpy().astype("datetime64[D]")
        end = enrollments["end_date"].to_numpy().astype("datetime64[D]")
        end[changes.rows] = changes.values["end_date"].to_numpy().astype("datetime64[D]")
        by_student = seats[np.argsort(self.seat_student_all[seats], kind="stable")]
        offsets = np.searchsorted(self.seat_student_all[by_student], np.arange(n + 1))
        count = offsets[student + 1] - offsets[student]
        seat = np.full(student.size, -1)
        for _ in range(8):
            open_ = seat < 0
            draw = by_student[offsets[student] + (rng.random(student.size) * count).astype(np.int64)]
            running = (begin[draw] <= day) & (day <= end[draw])
            seat = np.where(open_ & running, draw, seat)
        keep = seat >= 0
        student, day, seat = student[keep], day[keep], seat[keep]
        m = student.size
        klass = self.enrollment_class[seat]

        shares = np.array([k[2] for k in _ACTIVITY_KINDS])
        kind = rng.choice(len(_ACTIVITY_KINDS), size=m, p=shares / shares.sum())
        shortest = np.array([k[3] for k in _ACTIVITY_KINDS])[kind]
        longest = np.array([k[4] for k in _ACTIVITY_KINDS])[kind]
        duration = rng.integers(shortest, longest + 1)
        # Two thirds in school hours, the rest as homework in the evening.
        school_hours = rng.random(m) < 2 / 3
        seconds = np.where(school_hours, rng.integers(8 * 3600, 15 * 3600, m), rng.integers(16 * 3600, 21 * 3600, m))
        score_max = np.array([k[5] for k in _ACTIVITY_KINDS], dtype=float)[kind]
        skill = rng.beta(5, 2, n)[student]  # each student's typical share of points
        raw = rng.binomial(score_max.astype(np.int64), skill).astype(float)
        item = rng.integers(0, _ITEMS_PER_KIND, m)
        event_ids = self.ids.uuids(m)

        # An LRS lists statements in time order; sort before building the text columns.
        order = np.lexsort((seconds, day))
        (student, day, klass, kind, duration, seconds, score_max, raw, item) = (
            a[order] for a in (student, day, klass, kind, duration, seconds, score_max, raw, item))
        started = _local_to_utc(day, seconds, tz)
        scored = score_max > 0
        scaled = np.where(scored, np.round(raw / np.where(scored, score_max, 1), 4), np.nan)
        failed = (kind == _QUIZ) & (scaled < _PASS_MARK)
        verbs = [XAPI_VERBS + k[1] for k in _ACTIVITY_KINDS] + [XAPI_VERBS + "failed"]
        # Objects are few (subject x grade x kind x item): format each once, then index.
        obj = ((self.class_subject[klass] * len(GRADES) + self.class_grade[klass]) * len(_ACTIVITY_KINDS)
               + kind) * _ITEMS_PER_KIND + item
        objects, obj_index = np.unique(obj, return_inverse=True)
        o_subject, o_grade, o_kind, o_item = np.unravel_index(
            objects, (_N_SUBJECTS, len(GRADES), len(_ACTIVITY_KINDS), _ITEMS_PER_KIND))
        object_ids = [f"{_ACTIVITY_HOST}/{SUBJECTS[s][0].lower()}/{GRADES[g]}/{_ACTIVITY_KINDS[k][0]}-{i + 1}"
                      for s, g, k, i in zip(o_subject.tolist(), o_grade.tolist(), o_kind.tolist(), o_item.tolist(), strict=True)]
        object_names = [f"{SUBJECTS[s][1]} {_GRADE_LABELS[g]}: {_ACTIVITY_KINDS[k][0]} {i + 1}"
                        for s, g, k, i in zip(o_subject.tolist(), o_grade.tolist(), o_kind.tolist(), o_item.tolist(), strict=True)]
        events = pd.DataFrame({
            "event_key": event_ids,
            "person_key": _pick(self.person_keys, student),
            "class_key": _pick(self.class_keys, klass),
            "verb": _pick(verbs, np.where(failed, len(_ACTIVITY_KINDS), kind)),
            "object_id": _pick(object_ids, obj_index),
            "object_name": _pick(object_names, obj_index),
            "started_at": started,
            "ended_at": started + pd.to_timedelta(duration, unit="s"),
            "duration_seconds": duration.astype(np.int64),
            "score_raw": pd.array(np.where(scored, raw, np.nan), dtype="Float64"),
            "score_min": pd.array(np.where(scored, 0.0, np.nan), dtype="Float64"),
            "score_max": pd.array(np.where(scored, score_max, np.nan), dtype="Float64"),
            "score_scaled": pd.array(scaled, dtype="Float64"),
            "completed": pd.array(kind != _PRACTICE, dtype="boolean"),
        })
        return events, day
