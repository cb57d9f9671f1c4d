"""Vectorised transforms that turn raw vendor strings into typed columns.

Every transform takes a Series of strings (``string[pyarrow]`` or pandas' default ``str``;
missing values are NA) and returns a Series of the parsed type with the same index. The
contract, shared by all of them:

* Missing, empty and whitespace-only inputs come back as NA.
* A value that is present but cannot be parsed also comes back as NA. Nothing is ever
  raised for a bad value and no default is filled in, so a caller finds the failures as
  ``is_present(raw) & result.isna()`` and reports the *original* values.
* No Python loop over rows: the work is done by pandas/pyarrow string kernels, regexes
  via ``.str.extract`` and lookups on dictionaries of the (few) unique values.

Result dtypes match the storage kinds of ``edassets.schema.model``: ``string[pyarrow]``,
``Int64``, ``Float64``, ``boolean``, ``datetime64[ns]`` for dates (a midnight timestamp,
since pandas has no nullable date dtype; the warehouse column is a SQL DATE) and
``datetime64[ns, UTC]`` for instants.
"""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

STRING_DTYPE = pd.StringDtype("pyarrow")
DATE_DTYPE = np.dtype("datetime64[ns]")
TIMESTAMP_DTYPE = pd.DatetimeTZDtype(unit="ns", tz="UTC")

# The span datetime64[ns] can hold is 1677-09-21..2262-04-11; whole years inside it are
# accepted. A year outside it in K-12 data is a typo ("0201", "20201"), reported as unparsable.
_MIN_YEAR = 1678
_MAX_YEAR = 2261

_BOOLEAN_SPELLINGS: dict[str, bool] = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}

# At most 18 digits always fits int64, so the cast below cannot overflow. A ".0" tail is
# allowed because spreadsheets and float-typed exports write whole numbers as "12.0".
_INTEGER = r"^(?P<sign>[+-]?)(?P<digits>\d{1,18})(?:\.0*)?$"

# Plain decimal literals only: no thousands separators, percent signs, "nan" or "inf".
_DECIMAL = r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$"

# The date part of an ISO 8601 value. An optional time (and offset) is accepted and
# ignored, because JSON serialisers write plain dates as "2023-05-01T00:00:00Z".
_ISO_DATE = (
    r"(?P<iso_year>\d{4})-(?P<iso_month>\d{1,2})-(?P<iso_day>\d{1,2})"
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# The US convention, month first: "8/17/2020" is 17 August. Excel rewrites ISO dates into
# this form when a CSV is opened and saved ("9/16/2013"), so it is common in SIS exports.
_US_DATE = r"(?P<us_month>\d{1,2})/(?P<us_day>\d{1,2})/(?P<us_year>\d{4})"

_ISO_TIMESTAMP = (
    r"^(?P<year>\d{4})-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"
    r"(?P<offset>Z|[+-]\d{2}(?::?\d{2})?)?$"
)

# "08:05", "08:05:00", "8:05:00 AM", "8:05 p.m." and SQL Server's time(7) "08:05:00.0000000".
_CLOCK = (
    r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,9}))?)?"
    r"\s*(?:(?P<meridiem>[ap])\.?m\.?)?$"
)


def _clean(values: pd.Series) -> pd.Series:
    """Return the values as stripped ``string[pyarrow]``, with blanks turned into NA."""
    stripped = values.astype(STRING_DTYPE).str.strip()
    return stripped.mask(stripped == "")


def _extract(cleaned: pd.Series, pattern: str) -> pd.DataFrame:
    """Return the named groups of ``pattern`` as ``string[pyarrow]`` columns.

    Rows that do not match, and groups that did not take part in a match, are NA. This is
    ``Series.str.extract`` run by pyarrow's RE2 kernel directly, which is about ten times
    faster because pandas extracts Arrow strings row by row in Python.
    """
    matches = pc.extract_regex(pa.array(cleaned.array), pattern)
    columns = {}
    # flatten() carries the struct's nulls (rows that did not match) into every group.
    for group, found in zip(matches.type.names, matches.flatten(), strict=True):
        column = pd.Series(pd.arrays.ArrowStringArray(found), index=cleaned.index)
        columns[group] = column.mask(column == "")
    return pd.DataFrame(columns, index=cleaned.index)


def is_present(values: pd.Series) -> pd.Series:
    """Flag the cells that hold a value: not NA and not blank after stripping.

    Args:
        values: raw strings.

    Returns:
        A ``bool`` Series with the same index; ``is_present(raw) & result.isna()`` are the
        parse failures of any transform in this module.
    """
    return _clean(values).notna()


def text(values: pd.Series) -> pd.Series:
    """Strip surrounding whitespace; blank cells become NA.

    Args:
        values: raw strings.

    Returns:
        ``string[pyarrow]`` Series. Never has parse failures.
    """
    return _clean(values)


def lower_text(values: pd.Series) -> pd.Series:
    """Like `text`, casefolded, for case-insensitive identifiers such as email addresses.

    Args:
        values: raw strings.

    Returns:
        ``string[pyarrow]`` Series. Never has parse failures.
    """
    return _clean(values).str.casefold()


def boolean(values: pd.Series) -> pd.Series:
    """Parse true/false, t/f, yes/no, y/n and 1/0 in any letter case.

    Args:
        values: raw strings.

    Returns:
        ``boolean`` Series; any other spelling is NA.
    """
    return _clean(values).str.lower().map(_BOOLEAN_SPELLINGS).astype("boolean")


def integer(values: pd.Series) -> pd.Series:
    """Parse whole numbers: "12", "-3", "+7", and "12.0" with a zero fraction.

    Args:
        values: raw strings.

    Returns:
        ``Int64`` Series; "12.5", "abc", "1,000" and numbers over 18 digits are NA.
    """
    parts = _extract(_clean(values), _INTEGER)
    # pyarrow's string-to-int cast rejects a leading "+", so the sign is applied here.
    magnitude = parts["digits"].astype("Int64")
    return magnitude.mask(parts["sign"].eq("-").fillna(False), -magnitude).rename(values.name)


def number(values: pd.Series) -> pd.Series:
    """Parse plain decimal numbers such as "3.40", "-0.5", ".5" or "1e-3".

    Args:
        values: raw strings.

    Returns:
        ``Float64`` Series; thousands separators, percentages, "nan", "inf" and values
        that overflow a double are NA.
    """
    cleaned = _clean(values)
    parsed = cleaned.where(cleaned.str.fullmatch(_DECIMAL).fillna(False)).astype("Float64")
    return parsed.mask(~np.isfinite(parsed.fillna(0.0)))


def _assemble_date(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    """Build ``datetime64[ns]`` dates from string parts; impossible dates become NaT."""
    in_range = year.astype("Int64").between(_MIN_YEAR, _MAX_YEAR).fillna(False)
    iso = (year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2)).where(in_range)
    return pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").astype(DATE_DTYPE)


def iso_or_us_date(values: pd.Series) -> pd.Series:
    """Parse ISO (``YYYY-M-D``, optionally with a time) or US (``M/D/YYYY``) dates.

    "2020-08-17", "2020-8-17", "8/17/2020", "08/17/2020" and "2023-05-01T18:25:43.511Z"
    are all accepted. Slashed dates are always read month first, the US convention of
    the SIS and assessment exports this platform ingests; "17/8/2020" is therefore NA.
    For a timestamp the calendar date as written is kept, without any time-zone shift.

    Args:
        values: raw strings.

    Returns:
        ``datetime64[ns]`` Series at midnight; impossible dates ("2020-02-30"), two-digit
        years and years outside 1678..2261 are NaT.
    """
    parts = _extract(_clean(values), f"^(?:{_ISO_DATE}|{_US_DATE})$")
    return _assemble_date(
        parts["iso_year"].fillna(parts["us_year"]),
        parts["iso_month"].fillna(parts["us_month"]),
        parts["iso_day"].fillna(parts["us_day"]),
    ).rename(values.name)


def us_date(values: pd.Series) -> pd.Series:
    """Parse strictly US dates, ``MM/DD/YYYY`` or ``M/D/YYYY``.

    Args:
        values: raw strings.

    Returns:
        ``datetime64[ns]`` Series at midnight; anything else (ISO dates included) is NaT.
    """
    parts = _extract(_clean(values), f"^{_US_DATE}$")
    return _assemble_date(parts["us_year"], parts["us_month"], parts["us_day"]).rename(values.name)


def _to_utc(naive: pd.Series, tz: str) -> pd.Series:
    """Read naive wall-clock times in ``tz`` and convert them to UTC.

    A time the autumn DST change makes ambiguous becomes NaT (so it is reported rather
    than guessed); one the spring change skips is moved forward to the first valid instant.
    """
    local = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward")
    return local.dt.tz_convert("UTC").astype(TIMESTAMP_DTYPE)


def utc_timestamp(values: pd.Series, *, tz: str | None = None) -> pd.Series:
    """Parse ISO 8601 timestamps with a ``Z`` or numeric UTC offset into UTC instants.

    Args:
        values: raw strings such as "2023-05-01T18:25:43.511Z" or "2023-05-01 08:00:00-05:00".
        tz: zoneinfo name used to read timestamps written without an offset. Without it
            such naive values are NA, because their instant is unknown.

    Returns:
        ``datetime64[ns, UTC]`` Series; dates without a time are NaT.
    """
    cleaned = _clean(values)
    parts = _extract(cleaned, _ISO_TIMESTAMP)
    in_range = parts["year"].astype("Int64").between(_MIN_YEAR, _MAX_YEAR).fillna(False)
    aware = in_range & parts["offset"].notna()
    result = pd.to_datetime(cleaned.where(aware), format="ISO8601", utc=True, errors="coerce")
    result = result.astype(TIMESTAMP_DTYPE)
    if tz is not None:
        naive = in_range & parts["offset"].isna()
        wall = pd.to_datetime(cleaned.where(naive), format="ISO8601", errors="coerce")
        result = result.where(aware, _to_utc(wall, tz))
    return result.rename(values.name)


def _time_of_day(values: pd.Series) -> pd.Series:
    """Parse 24-hour or AM/PM clock times into ``timedelta64[ns]`` offsets from midnight."""
    parts = _extract(_clean(values).str.lower(), _CLOCK)
    hour = parts["hour"].astype("Int64")
    minute = parts["minute"].astype("Int64")
    second = parts["second"].fillna("0").astype("Int64")
    # Sub-second digits are cut to microseconds, which is all a clock column ever needs.
    micros = parts["fraction"].fillna("0").str.pad(6, side="right", fillchar="0").str.slice(0, 6)
    twelve_hour = parts["meridiem"].notna()
    hour_ok = hour.between(1, 12).where(twelve_hour, hour.between(0, 23))
    hour24 = (hour % 12 + parts["meridiem"].eq("p").astype("Int64") * 12).where(twelve_hour, hour)
    valid = (hour_ok & (minute <= 59) & (second <= 59)).fillna(False)
    total = ((hour24 * 60 + minute) * 60 + second) * 1_000_000 + micros.astype("Int64")
    return pd.to_timedelta(total.where(valid).astype("float64"), unit="us").astype("timedelta64[ns]")


def local_timestamp(date_values: pd.Series, time_values: pd.Series | None, tz: str) -> pd.Series:
    """Combine a local date column and an optional clock-time column into UTC instants.

    Args:
        date_values: dates in any form `iso_or_us_date` accepts.
        time_values: clock times ("14:05:00", "14:05", "9:00:00 AM") with the same index,
            or None when the source only has dates. A blank time means local midnight.
        tz: zoneinfo name of the wall clock, e.g. "America/Chicago".

    Returns:
        ``datetime64[ns, UTC]`` Series with the index of ``date_values``. NaT where the
        date is blank, the date or time is present but unparsable, or the local time is
        ambiguous because of the autumn DST change (skipped spring times move forward).

    Raises:
        ValueError: if ``time_values`` is not indexed like ``date_values``.
    """
    dates = iso_or_us_date(date_values)
    if time_values is not None:
        if not time_values.index.equals(date_values.index):
            raise ValueError("date_values and time_values must share the same index")
        clock = _time_of_day(time_values).where(is_present(time_values), pd.Timedelta(0))
        dates = dates + clock
    return _to_utc(dates, tz).rename(date_values.name)


def multi_value(values: pd.Series) -> pd.Series:
    """Normalise a comma-separated multi-value cell: "a, b,,c " becomes "a,b,c".

    Args:
        values: raw strings (the CSV reader has already removed the quoting).

    Returns:
        ``string[pyarrow]`` Series with every element stripped and empty elements
        dropped; a cell with no elements left is NA.
    """
    joined = (
        _clean(values)
        .str.replace(r"\s*,\s*", ",", regex=True)
        .str.replace(r",{2,}", ",", regex=True)
        .str.replace(r"^,|,$", "", regex=True)
    )
    return joined.mask(joined == "")
