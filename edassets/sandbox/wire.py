"""Wire-format building blocks every emulator renders with: vectorised text, dates and CSV.

Emulators (``edassets/sandbox/emulators/``) turn a `WorldState` into a vendor's bytes. What
they share is here: ISO instants and dates formatted without per-row ``strftime``, NA-aware
text columns, grouped lists, and the two CSV layouts vendors write (quoted only where
needed, or every value quoted). Nothing here knows a vendor.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from edassets.sandbox.world import STRING, WorldState

_T = TypeVar("_T")
_DIGITS = np.uint8(ord("0"))


def _put(buffer: np.ndarray, column: int, values: np.ndarray, width: int) -> None:
    """Write zero-padded decimal ``values`` into ``buffer[:, column:column + width]``."""
    for k in range(width):
        buffer[:, column + width - 1 - k] = _DIGITS + (values // 10**k % 10).astype(np.uint8)


def instants(values: pd.Series) -> list[str]:
    """UTC instants as ``2025-08-05T02:10:56.152Z`` (OneRoster and Clever timestamps).

    Built digit by digit in one buffer: timestamps are nearly all distinct, so formatting
    the unique values would not help, and strftime costs a microsecond a row.
    """
    ms = values.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[ms]")
    days = ms.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    of_day = (ms - days).astype(np.int64)
    buffer = np.zeros((len(ms), 24), dtype=np.uint8)
    for column, char in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")):
        buffer[:, column] = ord(char)
    _put(buffer, 0, months.astype("datetime64[Y]").astype(np.int64) + 1970, 4)
    _put(buffer, 5, months.astype(np.int64) % 12 + 1, 2)
    _put(buffer, 8, (days - months).astype(np.int64) + 1, 2)
    _put(buffer, 11, of_day // 3_600_000, 2)
    _put(buffer, 14, of_day // 60_000 % 60, 2)
    _put(buffer, 17, of_day // 1000 % 60, 2)
    _put(buffer, 20, of_day % 1000, 3)
    return pa.array(buffer.view("S24").ravel()).cast(pa.string()).to_pylist()


def days(values: pd.Series, fmt: Callable[[date], str] = date.isoformat) -> list[str]:
    """Dates formatted once per distinct value ("" for NaT): a roster has few distinct days."""
    codes, uniques = pd.factorize(values)
    text = np.array([fmt(d) for d in uniques.date] + [""], dtype=object)
    return text[codes].tolist()  # code -1 (NaT) picks the trailing ""


def us_date(day: date) -> str:
    """Clever's dob form, ``M/D/YYYY`` without zero padding (K12_FORMATS §1.2)."""
    return f"{day.month}/{day.day}/{day.year}"


def texts(values: pd.Series) -> list[str]:
    """A text column as Python strings, "" for NA (OneRoster JSON and CSV write blanks)."""
    return values.fillna("").tolist()


def nullable(values: pd.Series) -> list[str | None]:
    """A text column as Python strings, None for NA (Clever writes JSON null)."""
    return values.astype(object).where(values.notna(), None).tolist()


def lookup(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """``frame[value]`` indexed by ``frame[key]``: for mapping internal keys to wire ids."""
    return pd.Series(frame[value].array, index=pd.Index(frame[key].array))


def sorted_by(frame: pd.DataFrame, by: str) -> pd.DataFrame:
    """The frame sorted by one column (stable), with a fresh index."""
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


def group_lists(owners: pd.Series, values: Sequence[_T], wanted: pd.Series) -> list[list[_T]]:
    """For each of ``wanted`` (unique), the ``values`` whose owner it is, in their given order.

    A stable sort and list slices: pandas' ``groupby().agg(list)`` builds a Series per group,
    which costs seconds for a district's 100,000 users.
    """
    position = pd.Index(wanted.to_numpy()).get_indexer(owners.to_numpy())
    kept = np.flatnonzero(position >= 0)
    order = kept[np.argsort(position[kept], kind="stable")]
    ordered = [values[i] for i in order.tolist()]
    ends = np.cumsum(np.bincount(position[kept], minlength=len(wanted))).tolist()
    return [ordered[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]


def term_ids(state: WorldState, term_keys: pd.Series, scheme: str) -> pd.Series:
    """Classes' comma-separated term keys as comma-separated ``scheme`` ids (few distinct cells)."""
    ids = dict(zip(state.terms["term_key"], state.terms[scheme], strict=True))
    codes, cells = pd.factorize(term_keys)
    mapped = [",".join(ids[key] for key in cell.split(",")) for cell in cells]
    return pd.Series(np.array(mapped, dtype=object)[codes], index=term_keys.index, dtype=STRING)


def records(columns: Mapping[str, Sequence[object]]) -> list[dict[str, object]]:
    """Column lists -> one dict per row (a comprehension is several times faster than to_dict)."""
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def active(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows still active: what platforms that hide deletions show."""
    return frame[frame["status"] == "active"]


def csv_column(values: Iterable[object] | pd.Series | str, rows: int) -> pa.Array:
    """One CSV column as Arrow text, blanks for NA, quoted only where the value needs it.

    Real OneRoster files quote just the multi-value cells (``"a,b"``); Arrow's CSV writer
    quotes every string, so the lines are built with Arrow string kernels instead.
    """
    if isinstance(values, str):
        needs_quotes = any(c in values for c in '",\r\n')
        cell = '"' + values.replace('"', '""') + '"' if needs_quotes else values
        return pa.repeat(pa.scalar(cell, pa.string()), rows)
    text = pc.fill_null(pa.array(pd.Series(values).reset_index(drop=True).astype(STRING)).cast(pa.string()), "")
    special = pc.match_substring_regex(text, '[",\r\n]')
    if not pc.any(special).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(special, quoted, text)


def csv(table: dict[str, Iterable[object] | pd.Series | str], header: tuple[str, ...], rows: int) -> bytes:
    """A CSV file (LF line ends) of the header's columns; columns not in ``table`` are blank."""
    columns = [csv_column(table.get(name, ""), rows) for name in header]
    lines = pc.binary_join_element_wise(*columns, ",").to_pylist() if rows else []
    return "\n".join([",".join(header), *lines]).encode("utf-8") + b"\n"


def quoted_csv(table: dict[str, pd.Series | list[str]], header: tuple[str, ...], rows: int) -> bytes:
    """The layout of vendors that quote everything: an unquoted header line, then every value quoted (blanks as ``""``)."""
    blank = pa.array([""] * rows, type=pa.string())
    arrays = [pa.array(pd.Series(table[c]).astype(STRING).fillna("").tolist(), type=pa.string()) if c in table
              else blank for c in header]
    out = io.BytesIO()
    out.write((",".join(header) + "\n").encode("utf-8"))
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    pa_csv.write_csv(pa.Table.from_arrays(arrays, names=list(header)), out, options)
    return out.getvalue()

