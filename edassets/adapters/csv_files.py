"""Reading vendor CSV files as they really are: BOMs, CRLF, odd headers, broken rows.

`CsvTable` is also the shape of any text table the mapping reads (API pages too).

Every value is read as text (typing is the mapping's job, where a bad value can be
reported instead of crashing the reader). pyarrow does the parsing, so a 50,000-student
users file reads in milliseconds.
"""

import csv
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class MalformedRow:
    """A line the CSV parser could not split into the header's columns."""

    record_index: int
    rule: str


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as text columns.

    Attributes:
        frame: one string[pyarrow] column per header column (names trimmed, empty and
            duplicate header cells renamed `column_<n>`), index 0..n-1.
        record_index: for each frame row, its 0-based record number in the file, so a
            quarantine report can point at the line even when broken rows were skipped.
        malformed: rows that could not be parsed.
        encoding: the encoding the bytes were decoded with.
        archive_keys: per row, the archive object it came from, when a table spans several
            objects (API pages); None when the whole table is one file.
        malformed_keys: per malformed row, its archive object (same convention).
    """

    frame: pd.DataFrame
    record_index: np.ndarray
    malformed: tuple[MalformedRow, ...]
    encoding: str
    archive_keys: np.ndarray | None = None
    malformed_keys: tuple[str, ...] = ()


def _header(data: bytes, encoding: str) -> list[str]:
    first_line = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="").readline()
    raw_names = next(csv.reader([first_line]), [])
    names: list[str] = []
    for position, raw in enumerate(raw_names):
        # Real files carry `to ` (trailing space) and `orgSourcedId,,` (empty trailing cells).
        name = raw.strip()
        if not name or name in names:
            name = f"column_{position + 1}"
        names.append(name)
    return names


def _detect_encoding(data: bytes) -> str:
    # Exports re-saved on Windows arrive in cp1252; UTF-8 is tried first because it is
    # what every standard says and it fails loudly on cp1252 bytes.
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


def _parse(data: bytes, names: list[str], encoding: str) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    invalid: list[pacsv.InvalidRow] = []

    def _skip(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding=encoding, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=_skip),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return table, invalid


def _record_index(row: pacsv.InvalidRow) -> int:
    # Line numbers are 1-based and include the header line.
    return row.number - 2 if row.number is not None else -1


def read_csv_text(data: bytes) -> CsvTable:
    """Parse CSV bytes into text columns without losing track of any record.

    Args:
        data: the file's bytes exactly as received.

    Returns:
        The parsed table; rows with values beyond the header are listed in `malformed`
        instead of aborting the whole file.
    """
    if data.startswith(_BOM):
        data = data[len(_BOM):]
    if data and not data.endswith((b"\n", b"\r")):
        # pyarrow cannot skip a header line that has no line break after it (an empty
        # table exported without a final newline); the break is optional, so add it.
        data += b"\n"
    encoding = _detect_encoding(data)
    names = _header(data, encoding)
    if not names:
        return CsvTable(pd.DataFrame(), np.zeros(0, dtype=np.int64), (), encoding)

    table, invalid = _parse(data, names, encoding)
    frame = table.to_pandas(types_mapper=lambda _: pd.StringDtype("pyarrow"))
    invalid_index = np.array([_record_index(row) for row in invalid], dtype=np.int64)
    record_index = np.setdiff1d(np.arange(len(frame) + len(invalid), dtype=np.int64), invalid_index)[: len(frame)]

    recovered: list[list[str]] = []
    recovered_index: list[int] = []
    malformed: list[MalformedRow] = []
    for row, index in zip(invalid, invalid_index, strict=True):
        fields = next(csv.reader([row.text or ""]), [])
        # Exporters pad some rows with extra trailing commas (the LMS-Toolkit users.csv
        # teacher rows have 19 fields under an 18-column header) and drop trailing empty
        # cells from others (the MAP Growth sample's last row): both are read as pandas
        # would, padding or trimming empty cells. Extra cells that hold values are not.
        if not any(f.strip() for f in fields[len(names):]):
            recovered.append(fields[: len(names)] + [""] * (len(names) - len(fields)))
            recovered_index.append(int(index))
        else:
            malformed.append(MalformedRow(int(index), f"malformed CSV row: expected {len(names)} fields, got {row.actual_columns}"))
    if recovered:
        extra = pd.DataFrame(recovered, columns=names, dtype=pd.StringDtype("pyarrow"))
        frame = pd.concat([frame, extra], ignore_index=True)
        record_index = np.concatenate([record_index, np.array(recovered_index, dtype=np.int64)])
        order = np.argsort(record_index, kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        record_index = record_index[order]
    return CsvTable(frame, record_index, tuple(malformed), encoding)
