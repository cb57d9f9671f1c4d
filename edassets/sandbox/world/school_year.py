"""The school year's dates: terms, the days changes, tests and learning activity happen on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from edassets.sandbox.world.columns import school_days
from edassets.sandbox.world.spec import WorldOptions

_ACTIVITY_LEAD_DAYS = 7  # activity starts a week before the first sync


@dataclass(frozen=True)
class Calendar:
    """The school year's dates."""

    fall_year: int
    term_starts: np.ndarray  # datetime64[D] per term index (year, fall, spring)
    term_ends: np.ndarray
    change_days: np.ndarray  # days transfers and withdrawals may happen on
    activity_days: np.ndarray  # school days with learning activity
    map_days: np.ndarray  # the fall MAP testing window

    @classmethod
    def of(cls, options: WorldOptions) -> Calendar:
        """The dates of ``options``' school year and sync window."""
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
            activity_days=school_days(first_sync - timedelta(days=_ACTIVITY_LEAD_DAYS), second_sync),
            map_days=school_days(date(fy, 9, 2), date(fy, 10, 10)),
        )
