"""Fall NWEA MAP Growth results (K12_FORMATS §1.8): 1-3 tests per student from kindergarten up."""

from __future__ import annotations

import numpy as np
import pandas as pd

from edassets.sandbox.world.columns import as_text, decimals, local_to_utc, pick, repeat, serial_keys
from edassets.sandbox.world.roster import Roster
from edassets.sandbox.world.spec import GRADES, KG

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


def _percentile(score: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    # Logistic approximation of the normal CDF (under one point off); avoids scipy.
    return np.clip(np.rint(100.0 / (1.0 + np.exp(-1.702 * (score - mean) / sd))), 1, 99).astype(np.int64)



def assessment_results(roster: Roster) -> tuple[pd.DataFrame, np.ndarray]:
    """1-3 fall MAP Growth tests per student from kindergarten up (K12_FORMATS §1.8).

    Args:
        roster: The built roster (its generator continues where the last step left it).

    Returns:
        The results and the local day each was taken on (datetime64[D]).
    """
    rng, tz = roster.rng, roster.spec.timezone
    tested = np.flatnonzero(roster.grade >= KG)
    n_tests = rng.integers(1, len(_MAP_TESTS) + 1, tested.size)
    order = np.argsort(rng.random((tested.size, len(_MAP_TESTS))), axis=1)
    rank = np.argsort(order, axis=1)
    who, kind = np.nonzero(rank < n_tests[:, None])
    student = tested[who]
    m = student.size
    g = roster.grade[student]
    # One ability per student, shared by subjects (a strong reader is often strong at maths).
    ability = rng.standard_normal(roster.spec.students)[student]
    mean, sd = _RIT_MEAN[g], _RIT_SD[g]
    rit = np.clip(np.rint(mean + sd * (0.8 * ability + 0.6 * rng.standard_normal(m))), *_RIT_RANGE)
    percentile = _percentile(rit, mean, sd)
    day = rng.choice(roster.cal.map_days, size=m)
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
        "result_key": serial_keys("res-", m),
        "test_id": as_text(decimals(test_id)),
        "person_key": pick(roster.person_keys, student),
        "school_key": pick(roster.school_keys, roster.school[student]),
        "subject": pick([t[0] for t in _MAP_TESTS], kind),
        "course": pick([t[1] for t in _MAP_TESTS], kind),
        "test_name": pick(test_names, kind * 3 + form),
        "term_name": repeat(f"Fall {roster.cal.fall_year}-{roster.options.school_year}", m),
        "administered_at": local_to_utc(day, seconds, tz),
        "local_date": pick([d.strftime("%m/%d/%Y") for d in days.astype(object)], day_index),
        "local_time": pick([f"{c // 3600:02d}:{c // 60 % 60:02d}:{c % 60:02d}" for c in clocks.tolist()],
                            clock_index),
        "duration_minutes": rng.integers(20, 61, m),
        "rit_score": rit.astype(np.int64),
        "standard_error": np.round(3.0 + 0.1 * rng.integers(0, 8, m), 2),
        "percentile": percentile,
        # NWEA bands: Low < 21, LoAvg 21-40, Avg 41-60, HiAvg 61-80, High > 80.
        "quintile": pick(_QUINTILES, np.searchsorted([21, 41, 61, 81], percentile, side="right")),
        "grade_at_test": pick(GRADES, g),
    })
    return results, day
