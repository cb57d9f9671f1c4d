"""Vectorised column builders: Arrow-backed text, keys, hex ids and UTC instants without Python loops over rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from edassets.sandbox.world.spec import STRING

_HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def as_text(values: np.ndarray | Sequence[str | None]) -> pd.Series:
    """Python strings (None for missing) as a ``string[pyarrow]`` Series."""
    return pd.Series(values, dtype=STRING)


def pick(choices: np.ndarray | Sequence[str], index: np.ndarray) -> pd.Series:
    """``choices[index]`` as strings, NA where the index is negative.

    An Arrow take: far cheaper than converting n Python strings when choices are few.
    """
    index = np.asarray(index, dtype=np.int64)
    taken = pa.array(choices, type=pa.string()).take(pa.array(index, mask=index < 0))
    return pd.Series(pd.array(taken, dtype=STRING))


def repeat(value: str, n: int) -> pd.Series:
    """One string n times."""
    return pick([value], np.zeros(n, dtype=np.int64))


def ascii_rows(buffer: np.ndarray) -> pd.Series:
    """An (n, width) uint8 array of ASCII codes as n strings, without a Python loop."""
    width = buffer.shape[1]
    fixed = np.ascontiguousarray(buffer).view(f"S{width}").ravel()
    return pd.Series(pd.array(pa.array(fixed).cast(pa.string()), dtype=STRING))


def hex_ascii(raw: np.ndarray) -> np.ndarray:
    """(n, k) bytes to their (n, 2k) lower-case hex ASCII codes."""
    out = np.empty((raw.shape[0], 2 * raw.shape[1]), dtype=np.uint8)
    out[:, 0::2] = _HEX_DIGITS[raw >> 4]
    out[:, 1::2] = _HEX_DIGITS[raw & 0x0F]
    return out


def serial_keys(prefix: str, n: int, start: int = 1) -> pd.Series:
    """Internal keys ``prefix000001``… (zero-padded so they sort in creation order)."""
    numbers = pd.Series(np.arange(start, start + n)).astype(STRING).str.zfill(7)
    return prefix + numbers


def decimals(values: np.ndarray) -> np.ndarray:
    """Integers as an object array of decimal strings (Arrow's cast is the fast route)."""
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string()).to_numpy(zero_copy_only=False)


def utc(instants: np.ndarray) -> pd.Series:
    """Naive datetime64 values meaning UTC as a ``datetime64[ns, UTC]`` Series."""
    return pd.Series(instants.astype("datetime64[ns]")).dt.tz_localize("UTC")


def midnights(days: np.ndarray) -> pd.Series:
    """datetime64[D] days as a ``datetime64[ns]`` Series of midnights (the schema's DATE)."""
    return pd.Series(days.astype("datetime64[ns]"))


def local_to_utc(days: np.ndarray, seconds: np.ndarray, tz: str) -> pd.Series:
    """Local wall-clock (day + seconds after midnight) in ``tz`` as UTC instants.

    The autumn DST hour is read as standard time and spring's skipped hour moves forward;
    the world never schedules anything between 01:00 and 03:00 anyway.
    """
    wall = pd.DatetimeIndex(days.astype("datetime64[s]") + seconds.astype("timedelta64[s]"))
    local = wall.tz_localize(tz, ambiguous=np.zeros(len(wall), dtype=bool), nonexistent="shift_forward")
    return pd.Series(local.tz_convert("UTC").as_unit("ns"))


def random_instants(rng: np.random.Generator, n: int, start: date, days: int) -> np.ndarray:
    """Random creation instants (UTC, millisecond precision) within ``days`` from ``start``."""
    offsets = rng.integers(0, days * 86_400_000, n).astype("timedelta64[ms]")
    return np.datetime64(start, "ms") + offsets


def school_days(first: date, last: date) -> np.ndarray:
    """Weekdays from ``first`` to ``last`` inclusive (datetime64[D])."""
    days = np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)
    return days[np.is_busday(days)]



def rank_within(groups: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Each element's 0-based rank inside its group, in random (``noise``) order."""
    order = np.lexsort((noise, groups))
    sorted_groups = groups[order]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    ranks = np.empty(len(groups), dtype=np.int64)
    ranks[order] = np.arange(len(groups)) - run_start
    return ranks

