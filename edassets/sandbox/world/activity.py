"""Learning activity (xAPI-style, K12_FORMATS §1.4): a few events per student per school week."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edassets.sandbox.world.changes import Moves
from edassets.sandbox.world.columns import local_to_utc, pick
from edassets.sandbox.world.roster import Roster
from edassets.sandbox.world.spec import GRADE_LABELS, GRADES, N_SUBJECTS, SUBJECTS

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
_ACTIVITY_HOST = "https://lms.example.org/xapi/activities"


def learning_activity(roster: Roster, moves: Moves) -> tuple[pd.DataFrame, np.ndarray]:
    """A few xAPI-style events per student per school week, in classes they attend that day.

    Args:
        roster: The built roster (its generator continues where the last step left it).
        moves: The transfers and withdrawals: events follow a mover and stop for a leaver.

    Returns:
        The events in time order and the local day of each (datetime64[D]).
    """
    rng, n, tz = roster.rng, roster.spec.students, roster.spec.timezone
    days = roster.cal.activity_days
    per_student = rng.poisson(_EVENTS_PER_SCHOOL_DAY * days.size, n)
    student = np.repeat(np.arange(n), per_student)
    day = rng.choice(days, size=student.size)

    # The class: one of the student's seats that runs that day (final begin/end dates,
    # so a mover's events follow them and a leaver's stop). A few redraws find one.
    enrollments, changes, seat_student = moves.all_enrollments, moves.enrollments, moves.seat_student
    seats = np.flatnonzero(seat_student >= 0)
    begin = enrollments["begin_date"].to_numpy().astype("datetime64[D]")
    end = enrollments["end_date"].to_numpy().astype("datetime64[D]")
    end[changes.rows] = changes.values["end_date"].to_numpy().astype("datetime64[D]")
    by_student = seats[np.argsort(seat_student[seats], kind="stable")]
    offsets = np.searchsorted(seat_student[by_student], np.arange(n + 1))
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
    klass = moves.enrollment_class[seat]

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
    event_ids = roster.ids.uuids(m)

    # An LRS lists statements in time order; sort before building the text columns.
    order = np.lexsort((seconds, day))
    (student, day, klass, kind, duration, seconds, score_max, raw, item) = (
        a[order] for a in (student, day, klass, kind, duration, seconds, score_max, raw, item))
    started = local_to_utc(day, seconds, tz)
    scored = score_max > 0
    scaled = np.where(scored, np.round(raw / np.where(scored, score_max, 1), 4), np.nan)
    failed = (kind == _QUIZ) & (scaled < _PASS_MARK)
    verbs = [XAPI_VERBS + k[1] for k in _ACTIVITY_KINDS] + [XAPI_VERBS + "failed"]
    # Objects are few (subject x grade x kind x item): format each once, then index.
    obj = ((roster.class_subject[klass] * len(GRADES) + roster.class_grade[klass]) * len(_ACTIVITY_KINDS)
           + kind) * _ITEMS_PER_KIND + item
    objects, obj_index = np.unique(obj, return_inverse=True)
    o_subject, o_grade, o_kind, o_item = np.unravel_index(
        objects, (N_SUBJECTS, len(GRADES), len(_ACTIVITY_KINDS), _ITEMS_PER_KIND))
    object_ids = [f"{_ACTIVITY_HOST}/{SUBJECTS[s][0].lower()}/{GRADES[g]}/{_ACTIVITY_KINDS[k][0]}-{i + 1}"
                  for s, g, k, i in zip(o_subject.tolist(), o_grade.tolist(), o_kind.tolist(), o_item.tolist(), strict=True)]
    object_names = [f"{SUBJECTS[s][1]} {GRADE_LABELS[g]}: {_ACTIVITY_KINDS[k][0]} {i + 1}"
                    for s, g, k, i in zip(o_subject.tolist(), o_grade.tolist(), o_kind.tolist(), o_item.tolist(), strict=True)]
    events = pd.DataFrame({
        "event_key": event_ids,
        "person_key": pick(roster.person_keys, student),
        "class_key": pick(roster.class_keys, klass),
        "verb": pick(verbs, np.where(failed, len(_ACTIVITY_KINDS), kind)),
        "object_id": pick(object_ids, obj_index),
        "object_name": pick(object_names, obj_index),
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
