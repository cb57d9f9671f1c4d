from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from edassets.adapters.transforms import (
    DATE_DTYPE,
    STRING_DTYPE,
    TIMESTAMP_DTYPE,
    boolean,
    integer,
    is_present,
    iso_or_us_date,
    local_timestamp,
    lower_text,
    multi_value,
    number,
    text,
    us_date,
    utc_timestamp,
)
from edassets.schema.model import Kind

BLANKS = (None, "", "   ", "\t\n")


def _strings(*values: str | None, dtype: str = "string[pyarrow]") -> pd.Series:
    return pd.Series(list(values), dtype=dtype)


def _one(transform: Callable[[pd.Series], pd.Series], raw: str | None) -> object:
    return transform(_strings(raw)).iloc[0]


def _utc(stamp: str) -> pd.Timestamp:
    return pd.Timestamp(stamp, tz="UTC")


SINGLE_COLUMN_TRANSFORMS: dict[str, tuple[Callable[[pd.Series], pd.Series], object]] = {
    "text": (text, STRING_DTYPE),
    "lower_text": (lower_text, STRING_DTYPE),
    "boolean": (boolean, pd.BooleanDtype()),
    "integer": (integer, pd.Int64Dtype()),
    "number": (number, pd.Float64Dtype()),
    "iso_or_us_date": (iso_or_us_date, DATE_DTYPE),
    "us_date": (us_date, DATE_DTYPE),
    "utc_timestamp": (utc_timestamp, TIMESTAMP_DTYPE),
    "multi_value": (multi_value, STRING_DTYPE),
}


# --- the shared contract ---------------------------------------------------------------


def test_is_present() -> None:
    values = pd.Series(["a", None, "", "  ", " b "], index=[3, 3, 1, 0, 9])
    result = is_present(values)
    assert result.dtype == bool
    assert result.index.equals(values.index)
    assert result.tolist() == [True, False, False, False, True]


@pytest.mark.parametrize("name", SINGLE_COLUMN_TRANSFORMS)
@pytest.mark.parametrize("dtype", ["string[pyarrow]", "str", "object"])
def test_transform_preserves_index_and_name_and_has_declared_dtype(name: str, dtype: str) -> None:
    transform, expected_dtype = SINGLE_COLUMN_TRANSFORMS[name]
    values = pd.Series(["1", None, "x", " "], index=["b", "b", "a", "z"], dtype=dtype, name="col")
    result = transform(values)
    assert result.index.equals(values.index)
    assert result.name == "col"
    assert result.dtype == expected_dtype


@pytest.mark.parametrize("name", SINGLE_COLUMN_TRANSFORMS)
def test_blanks_are_na_and_never_failures(name: str) -> None:
    transform, _ = SINGLE_COLUMN_TRANSFORMS[name]
    values = _strings(*BLANKS)
    result = transform(values)
    assert result.isna().all()
    assert not (is_present(values) & result.isna()).any()


@pytest.mark.parametrize("name", SINGLE_COLUMN_TRANSFORMS)
def test_empty_input(name: str) -> None:
    transform, expected_dtype = SINGLE_COLUMN_TRANSFORMS[name]
    result = transform(_strings())
    assert result.empty
    assert result.dtype == expected_dtype


def test_dtypes_match_the_schema_storage_kinds() -> None:
    assert Kind.STRING.pandas_dtype == STRING_DTYPE
    assert Kind.DATE.pandas_dtype == DATE_DTYPE
    assert Kind.TIMESTAMP.pandas_dtype == TIMESTAMP_DTYPE


def test_failures_are_found_and_reported_with_the_original_value() -> None:
    raw = pd.Series(["12", " 12.5 ", None, "abc", ""], index=[10, 11, 12, 13, 14])
    failures = raw[is_present(raw) & integer(raw).isna()]
    assert failures.to_dict() == {11: " 12.5 ", 13: "abc"}


# --- text ------------------------------------------------------------------------------


def test_text_strips_and_keeps_case() -> None:
    assert text(_strings("  Ms. Smith ", "\u00a0x\u00a0", "a  b")).tolist() == ["Ms. Smith", "x", "a  b"]


def test_lower_text_casefolds() -> None:
    assert lower_text(_strings(" Jane.Doe@School.ORG ")).tolist() == ["jane.doe@school.org"]


# --- boolean ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["true", "TRUE", "True", "t", "T", "yes", "Yes", "y", "Y", "1", " true "])
def test_boolean_true(raw: str) -> None:
    assert boolean(_strings(raw)).tolist() == [True]


@pytest.mark.parametrize("raw", ["false", "FALSE", "False", "f", "F", "no", "NO", "n", "N", "0", " no "])
def test_boolean_false(raw: str) -> None:
    assert boolean(_strings(raw)).tolist() == [False]


@pytest.mark.parametrize("raw", ["maybe", "2", "-1", "1.0", "yes please", "on"])
def test_boolean_unparsable(raw: str) -> None:
    assert _one(boolean, raw) is pd.NA


# --- integer ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("12", 12), (" 12 ", 12), ("12.0", 12), ("12.00", 12), ("0", 0), ("-3", -3), ("+7", 7), ("007", 7),
     ("999999999999999999", 999_999_999_999_999_999)],
)  # fmt: skip
def test_integer_good(raw: str, expected: int) -> None:
    assert _one(integer, raw) == expected


@pytest.mark.parametrize(
    "raw", ["12.5", "abc", "1,000", "1e3", "12 3", "+-5", "--5", "0x10", "1" * 19, "٣"]
)
def test_integer_unparsable(raw: str) -> None:
    assert _one(integer, raw) is pd.NA


# --- number ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("3.40", 3.4), ("3", 3.0), ("-0.5", -0.5), ("+2.5", 2.5), (".5", 0.5), ("5.", 5.0), ("1e-3", 0.001),
     (" 87.25 ", 87.25)],
)  # fmt: skip
def test_number_good(raw: str, expected: float) -> None:
    assert _one(number, raw) == pytest.approx(expected)


@pytest.mark.parametrize("raw", ["1,234.5", "87%", "abc", "nan", "NaN", "inf", "-Infinity", "1e400", "3.4.5", "$5"])
def test_number_unparsable(raw: str) -> None:
    assert _one(number, raw) is pd.NA


# --- dates -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2020-08-17", "2020-08-17"),
        ("2020-8-17", "2020-08-17"),
        ("2020-08-7", "2020-08-07"),
        ("8/17/2020", "2020-08-17"),
        ("08/17/2020", "2020-08-17"),
        ("1/05/2023", "2023-01-05"),
        ("9/16/2013", "2013-09-16"),
        ("2/29/2024", "2024-02-29"),
        ("2023-05-01T18:25:43.511Z", "2023-05-01"),
        ("2023-05-01T00:00:00", "2023-05-01"),
        ("2023-05-01 23:30:00-07:00", "2023-05-01"),
    ],
)
def test_iso_or_us_date_good(raw: str, expected: str) -> None:
    assert _one(iso_or_us_date, raw) == pd.Timestamp(expected)


@pytest.mark.parametrize(
    "raw",
    ["17/8/2020", "2020-02-30", "2/29/2023", "13/01/2020", "8/17/20", "2020/08/17", "20200817", "0201-08-17",
     "August 17, 2020", "2020-08-17T", "yesterday"],
)  # fmt: skip
def test_iso_or_us_date_unparsable(raw: str) -> None:
    assert _one(iso_or_us_date, raw) is pd.NaT


def test_dates_are_midnight() -> None:
    result = iso_or_us_date(_strings("2023-05-01T18:25:43Z", "5/1/2023"))
    assert result.dtype == np.dtype("datetime64[ns]")
    assert (result == result.dt.normalize()).all()


@pytest.mark.parametrize(("raw", "expected"), [("8/17/2020", "2020-08-17"), ("08/07/2020", "2020-08-07")])
def test_us_date_good(raw: str, expected: str) -> None:
    assert _one(us_date, raw) == pd.Timestamp(expected)


@pytest.mark.parametrize("raw", ["2020-08-17", "17/8/2020", "8/17/20", "8-17-2020", "2023-05-01T18:25:43Z"])
def test_us_date_unparsable(raw: str) -> None:
    assert _one(us_date, raw) is pd.NaT


# --- timestamps ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-05-01T18:25:43.511Z", "2023-05-01 18:25:43.511"),
        ("2023-05-01T18:25:43Z", "2023-05-01 18:25:43"),
        ("2023-05-01T18:25Z", "2023-05-01 18:25"),
        ("2023-05-01T18:25:43+02:00", "2023-05-01 16:25:43"),
        ("2023-05-01 18:25:43-0500", "2023-05-01 23:25:43"),
        ("2023-05-01T22:00:00-05", "2023-05-02 03:00:00"),
    ],
)
def test_utc_timestamp_good(raw: str, expected: str) -> None:
    assert _one(utc_timestamp, raw) == _utc(expected)


@pytest.mark.parametrize(
    "raw", ["2023-05-01T18:25:43", "2023-05-01", "5/1/2023 18:25", "2023-05-01T25:00:00Z", "2023-13-01T00:00:00Z", "x"]
)
def test_utc_timestamp_naive_or_bad_is_na(raw: str) -> None:
    assert _one(utc_timestamp, raw) is pd.NaT


def test_utc_timestamp_reads_naive_values_in_given_zone() -> None:
    result = utc_timestamp(
        _strings("2023-05-01T18:25:43", "2023-05-01T18:25:43Z", "2023-11-05T01:30:00", "2023-05-01", None),
        tz="America/New_York",
    )
    assert result.dtype == TIMESTAMP_DTYPE
    assert result.tolist() == [_utc("2023-05-01 22:25:43"), _utc("2023-05-01 18:25:43"), pd.NaT, pd.NaT, pd.NaT]


def test_local_timestamp_combines_date_and_time() -> None:
    dates = _strings("2023-07-01", "7/1/2023", "2023-01-15", "2023-01-15", "2023-01-15", "2023-01-15")
    times = _strings("14:05:00", "9:00:00 AM", "12:00 AM", "12:30 PM", "11:59:59 p.m.", "08:05:00.1234567")
    result = local_timestamp(dates, times, "America/Chicago")
    assert result.dtype == TIMESTAMP_DTYPE
    assert result.tolist() == [
        _utc("2023-07-01 19:05:00"),
        _utc("2023-07-01 14:00:00"),
        _utc("2023-01-15 06:00:00"),
        _utc("2023-01-15 18:30:00"),
        _utc("2023-01-16 05:59:59"),
        _utc("2023-01-15 14:05:00.123456"),
    ]


def test_local_timestamp_missing_time_is_local_midnight() -> None:
    dates = _strings("2023-07-01", "2023-07-01")
    assert local_timestamp(dates, _strings(None, " "), "America/New_York").tolist() == [
        _utc("2023-07-01 04:00"),
        _utc("2023-07-01 04:00"),
    ]
    assert local_timestamp(dates, None, "Europe/London").tolist() == [_utc("2023-06-30 23:00")] * 2


def test_local_timestamp_dst() -> None:
    # 2023-11-05 01:30 happens twice in New York (EDT then EST): ambiguous, so reported.
    # 2023-03-12 02:30 never happens: moved forward to 03:00 EDT.
    dates = _strings("2023-11-05", "2023-11-05", "2023-03-12")
    times = _strings("1:30:00 AM", "2:30:00 AM", "02:30")
    assert local_timestamp(dates, times, "America/New_York").tolist() == [
        pd.NaT,
        _utc("2023-11-05 07:30"),
        _utc("2023-03-12 07:00"),
    ]


@pytest.mark.parametrize(
    ("date", "time"),
    [("bad", "10:00"), ("2023-02-30", "10:00"), ("2023-07-01", "25:00"), ("2023-07-01", "10:60"),
     ("2023-07-01", "13:00 PM"), ("2023-07-01", "0:30 AM"), ("2023-07-01", "noon"), ("2023-07-01", "10")],
)  # fmt: skip
def test_local_timestamp_unparsable(date: str, time: str) -> None:
    assert local_timestamp(_strings(date), _strings(time), "America/New_York").isna().all()


def test_local_timestamp_blank_date_is_na_and_index_kept() -> None:
    dates = pd.Series([None, "2023-07-01"], index=[5, 5], name="start_date")
    times = pd.Series(["10:00", None], index=[5, 5])
    result = local_timestamp(dates, times, "UTC")
    assert result.index.equals(dates.index)
    assert result.name == "start_date"
    assert result.tolist() == [pd.NaT, _utc("2023-07-01")]


def test_local_timestamp_rejects_misaligned_columns() -> None:
    with pytest.raises(ValueError, match="same index"):
        local_timestamp(pd.Series(["2023-07-01"], index=[0]), pd.Series(["10:00"], index=[1]), "UTC")


# --- multi_value -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a, b,c", "a,b,c"), ("a", "a"), (" a ,  b ", "a,b"), ("a,,b", "a,b"), (",a,", "a"), ("a, ,b", "a,b"),
     ("Math 1, Science", "Math 1,Science"), (" , ", pd.NA), (",", pd.NA)],
)  # fmt: skip
def test_multi_value(raw: str, expected: object) -> None:
    assert multi_value(_strings(raw)).tolist() == [expected]
