"""How a district's history is stored: frames as created, plus dated changes applied on demand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from edassets.sandbox.world.spec import DistrictSpec, WorldState


@dataclass(frozen=True)
class Changes:
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
class DistrictHistory:
    """A district's complete history: frames as created, plus what changes when.

    ``enrollments`` holds every enrollment that ever exists, including those a transfer
    creates (``enrollment_appears`` is their first day, NaT for the others).
    ``result_day`` / ``activity_day`` are the local days results and events happen on.
    """

    spec: DistrictSpec
    frames: dict[str, pd.DataFrame]
    person_changes: Changes
    enrollment_changes: Changes
    enrollment_appears: np.ndarray
    result_day: np.ndarray
    activity_day: np.ndarray

    def state(self, as_of: date) -> WorldState:
        """The district as its source systems show it on ``as_of`` (see `World.state`)."""
        day = np.datetime64(as_of, "D")
        f = self.frames
        enrollments = self.enrollment_changes.apply(f["enrollments"], day)
        # NaT compares False, so records that always existed are kept.
        enrollments = rows_where(enrollments, ~(self.enrollment_appears > day))
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
            assessment_results=rows_where(f["assessment_results"], self.result_day <= day),
            learning_activity=rows_where(f["learning_activity"], self.activity_day <= day),
        )


def rows_where(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """The kept rows, re-indexed 0..n-1; the frame itself when all are kept (no copy)."""
    return frame if keep.all() else frame[keep].reset_index(drop=True)
