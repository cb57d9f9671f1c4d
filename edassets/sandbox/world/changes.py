"""What happens between the two syncs: withdrawals, and transfers with the seats they create."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from edassets.sandbox.world.columns import as_text, local_to_utc, midnights, pick, repeat, serial_keys
from edassets.sandbox.world.history import Changes
from edassets.sandbox.world.roster import Roster
from edassets.sandbox.world.spec import BAND_OF_GRADE, BANDS, GRADES, KG, N_SUBJECTS


@dataclass(frozen=True)
class Moves:
    """Everything the withdrawals and transfers between the two syncs change.

    Attributes:
        persons: Withdrawn students and their guardians deleted; movers' new school.
        enrollments: The seats of leavers and movers ended the day before and deleted.
        all_enrollments: Every enrollment that ever exists: the roster's, then the seats
            movers take at their new school.
        appears: First day of each row of ``all_enrollments`` (NaT for the roster's).
        seat_student: Student index of each row of ``all_enrollments`` (-1 for teachers).
        enrollment_class: Class index of each row of ``all_enrollments``.
    """

    persons: Changes
    enrollments: Changes
    all_enrollments: pd.DataFrame
    appears: np.ndarray
    seat_student: np.ndarray
    enrollment_class: np.ndarray


def draw_moves(roster: Roster, persons: pd.DataFrame, enrollments: pd.DataFrame) -> Moves:
    """Draw withdrawals and transfers from the roster's generator; add the seats transfers create.

    Args:
        roster: The built roster (its generator continues where the roster left it).
        persons: The roster's persons frame.
        enrollments: The roster's enrollments frame.

    Returns:
        The changes and the enrollments they add.
    """
    rng, n, tz = roster.rng, roster.spec.students, roster.spec.timezone
    withdrawn = np.sort(rng.choice(n, size=round(roster.options.withdrawal_rate * n), replace=False))
    movers, targets = _transfers(roster, withdrawn)
    changed = np.r_[withdrawn, movers]
    change_day = rng.choice(roster.cal.change_days, size=changed.size)
    change_at = local_to_utc(change_day, rng.integers(8 * 3600, 17 * 3600, changed.size), tz)
    slot = np.full(n, -1)
    slot[changed] = np.arange(changed.size)

    def day_of(students: np.ndarray) -> np.ndarray:
        return change_day[slot[students]]

    def at_of(students: np.ndarray) -> pd.Series:
        return change_at.iloc[slot[students]].reset_index(drop=True)

    # Persons: withdrawn students and their guardians go; movers change school.
    guardian_rows = n + roster.n_teachers + roster.n_admins + np.arange(roster.guardian_child.size)
    leaving_guardians = np.isin(roster.guardian_child, withdrawn)
    gone = np.r_[withdrawn, guardian_rows[leaving_guardians]]
    owner = np.r_[withdrawn, roster.guardian_child[leaving_guardians], movers]
    person_changes = Changes(
        rows=np.r_[gone, movers],
        day=day_of(owner),
        at=at_of(owner),
        values={
            "status": as_text(np.r_[np.full(gone.size, "tobedeleted", dtype=object),
                                  np.full(movers.size, "active", dtype=object)]),
            "school_key": as_text(np.r_[persons["school_key"].to_numpy(dtype=object)[gone],
                                      roster.school_keys[targets]]),
        },
    )

    # Enrollments: every seat of a leaving student ends the day before and is deleted.
    seat_person = np.r_[roster.seat_student, np.full(len(enrollments) - roster.seat_student.size, -1)]
    ended = np.flatnonzero(np.isin(seat_person, changed))
    end_day = day_of(seat_person[ended])
    begin = enrollments["begin_date"].to_numpy()[ended].astype("datetime64[D]")
    old_end = enrollments["end_date"].to_numpy()[ended].astype("datetime64[D]")
    enrollment_changes = Changes(
        rows=ended,
        day=end_day,
        at=at_of(seat_person[ended]),
        values={
            "status": repeat("tobedeleted", ended.size),
            "end_date": midnights(np.maximum(begin, np.minimum(old_end, end_day - 1))),
        },
    )

    # New seats at the target school: same subjects, a section running on the change day.
    target = np.full(n, -1)
    target[movers] = targets
    moved_seats = np.flatnonzero(np.isin(roster.seat_student, movers))
    who = roster.seat_student[moved_seats]
    subject = roster.class_subject[roster.seat_class[moved_seats]]
    cell = (target[who] * len(GRADES) + roster.grade[who]) * N_SUBJECTS + subject
    count = roster.sections_of_cell[cell]
    start_day = day_of(who)
    offset = rng.integers(0, 1 << 30, who.size) % count
    chosen = np.full(who.size, -1)
    for step in range(2):  # a neighbouring section runs in the other semester
        candidate = roster.first_class_of_cell[cell] + (offset + step) % count
        term = roster.class_term[candidate]
        running = (roster.cal.term_starts[term] <= start_day) & (start_day <= roster.cal.term_ends[term])
        chosen = np.where((chosen < 0) & running, candidate, chosen)
    keep = chosen >= 0
    who, chosen, start_day = who[keep], chosen[keep], start_day[keep]
    m_new = who.size
    new_rows = pd.DataFrame({
        "enrollment_key": serial_keys("enr-", m_new, start=len(enrollments) + 1),
        "sourced_id": roster.ids.uuids(m_new),
        "class_key": pick(roster.class_keys, chosen),
        "person_key": pick(roster.person_keys, who),
        "role": repeat("student", m_new),
        "is_primary": np.zeros(m_new, dtype=bool),
        "begin_date": midnights(start_day),
        "end_date": midnights(roster.cal.term_ends[roster.class_term[chosen]]),
        "status": repeat("active", m_new),
        "last_modified": at_of(who),
    })
    return Moves(
        persons=person_changes,
        enrollments=enrollment_changes,
        all_enrollments=pd.concat([enrollments, new_rows], ignore_index=True),
        appears=np.r_[np.full(len(enrollments), np.datetime64("NaT"), dtype="datetime64[D]"), start_day],
        seat_student=np.r_[seat_person, who],
        enrollment_class=np.r_[roster.enrollment_class, chosen],
    )

def _transfers(roster: Roster, withdrawn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Movers (student indices, sorted) and their target schools.

    A mover needs another school of the same band that teaches their grade, so PK
    students (few, in few schools) and one-school bands are left out.
    """
    rng, n = roster.rng, roster.spec.students
    band = BAND_OF_GRADE[roster.grade]
    eligible = (roster.grade >= KG) & ~np.isin(np.arange(n), withdrawn)
    # Another school of the band with this grade exists: its count of such schools > 1.
    schools_with_grade = np.zeros((len(BANDS), len(GRADES)), dtype=np.int64)
    np.add.at(schools_with_grade, roster.school_band, roster.populated.astype(np.int64))
    eligible &= schools_with_grade[band, roster.grade] > 1
    candidates = np.flatnonzero(eligible)
    count = min(round(roster.options.transfer_rate * n), candidates.size)
    movers = np.sort(rng.choice(candidates, size=count, replace=False))
    targets = np.empty(count, dtype=np.int64)
    for b in range(len(BANDS)):  # three bands
        mine = np.flatnonzero(band[movers] == b)
        if mine.size == 0:
            continue
        first, width = roster.band_first[b], roster.schools_per_band[b]
        options = roster.populated[first : first + width][:, roster.grade[movers[mine]]].T.copy()
        options[np.arange(mine.size), roster.school[movers[mine]] - first] = False
        keys = np.where(options, rng.random(options.shape), -1.0)
        targets[mine] = first + keys.argmax(axis=1)
    return movers, targets

