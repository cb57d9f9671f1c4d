"""Reading vendor CSV files as they really are: BOMs, UTF-16, CRLF, odd headers, broken rows.

`CsvTable` is also the shape of any text table the mapping reads (API pages too).

Every value is read as text (typing is the mapping's job, where a bad value can be
reported instead of crashing the reader). Every record that arrives gets exactly one
outcome: a row of the frame or an entry in `malformed`. A file that is not CSV text at
all (a spreadsheet or archive renamed .csv, bytes no supported encoding can decode)
raises `UnreadableFile` instead.

The bytes are decoded first and handed to pyarrow as UTF-8, whatever they arrived in;
pyarrow does all the splitting (no field-size limit, no per-row Python except for the
rows it rejects), so a 200,000-student users file reads in a fraction of a second.
"""

import codecs
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# Longest first: the UTF-32 LE mark starts with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# What lands in a drop folder named .csv without being one. Only signatures no CSV header
# starts with: each holds a control byte, except the PDF's.
_SIGNATURES = (
    (b"PK\x03\x04", "zip"),  # also XLSX, DOCX, ODS
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "OLE2"),  # legacy XLS and DOC
    (b"%PDF-", "PDF"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x1f\x8b", "gzip"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"Rar!\x1a\x07", "RAR"),
)

# Binary content that decodes anyway (any byte is valid latin-1, and NUL is valid UTF-8)
# still shows as control characters (C0 but tab and line breaks, DEL, C1). Text has next
# to none; random bytes read as latin-1 have 24%. Judged on the first 8 KiB of the text as
# UTF-8, as `file` and git judge the start of a file.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_SAMPLE = 8192
_BINARY_CONTROL_SHARE = 0.10

_LINE_END = re.compile(rb"\r\n?|\n")
NUL_RULE = "NUL byte in record"
"""Why a record holding a NUL byte is malformed, whatever format it came in."""

# ReadOptions.block_size is a 32-bit int. Reading the whole file as one block means no
# record, however long, straddles two blocks (pyarrow refuses those).
_MAX_BLOCK = 2**31 - 1


class UnreadableFile(ValueError):
    """The bytes are not a CSV text file this reader can decode.

    The message is one line naming the reason, never the file's content (student data);
    the caller adds the file name.
    """


@dataclass(frozen=True)
class MalformedRow:
    """A record that could not become a row: its 0-based record number and why."""

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
        malformed: records that could not become rows, in file order.
        encoding: how the bytes were decoded: the codec name, plus " (BOM)" when a byte
            order mark chose it ("utf-8 (BOM)", "utf-16-le (BOM)", "utf-32-be (BOM)") or
            " (fallback)" when the bytes were not UTF-8 ("cp1252 (fallback)"); plain
            "utf-8" otherwise (an ASCII file included).
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

    @property
    def has_header(self) -> bool:
        """False for an empty file (0 bytes, or only a BOM or line breaks): no header, no columns.

        A header-only file has a header and `record_count == 0`.
        """
        return len(self.frame.columns) > 0

    @property
    def record_count(self) -> int:
        """Records that arrived: rows plus malformed records."""
        return len(self.frame) + len(self.malformed)


def _refuse_known_binary(data: bytes) -> None:
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            raise UnreadableFile(f"binary content ({kind} signature), not a CSV text file")


def _is_utf8(data: bytes) -> bool:
    # Arrow validates without building the Python string, several times faster; and valid
    # UTF-8 already is what decoding and re-encoding would give.
    try:
        pa.array([data], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


def _decode(data: bytes, codec: str, offset: int = 0) -> tuple[str | None, str]:
    """The text, or None and where decoding failed ("byte 0x81 at offset 12").

    The byte's value and position locate the problem without quoting the file.
    """
    try:
        return data.decode(codec), ""
    except UnicodeDecodeError as error:
        return None, f"byte 0x{data[error.start]:02x} at offset {offset + error.start}"


def _utf8(data: bytes, fallback_encoding: str) -> tuple[bytes, str]:
    """The file as UTF-8 bytes, and the encoding label (see `CsvTable.encoding`)."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            if codec == "utf-8" and _is_utf8(body):
                return body, "utf-8 (BOM)"
            text, where = _decode(body, codec, len(bom))
            if text is None:
                raise UnreadableFile(f"cannot be decoded as {codec} despite its byte order mark ({where})")
            return text.encode("utf-8"), f"{codec} (BOM)"
    if _is_utf8(data):
        return data, "utf-8"
    # Exports re-saved on Windows arrive in cp1252; UTF-8 is tried first because it is
    # what every standard says and it fails loudly on cp1252 bytes.
    fallback = codecs.lookup(fallback_encoding).name
    text, where = _decode(data, fallback)
    if text is None:
        raise UnreadableFile(f"cannot be decoded as UTF-8 ({_decode(data, 'utf-8')[1]}) or {fallback} ({where})")
    return text.encode("utf-8"), f"{fallback} (fallback)"


def _refuse_control_characters(utf8: bytes) -> None:
    sample = utf8[:_CONTROL_SAMPLE].decode("utf-8", "ignore")  # "ignore": the cut may split a character
    controls = len(_CONTROL.findall(sample))
    if sample and controls / len(sample) > _BINARY_CONTROL_SHARE:
        hint = ", mostly NUL: UTF-16 or UTF-32 without a byte order mark?" if sample.count("\x00") * 2 > controls else ""
        raise UnreadableFile(f"binary content ({controls / len(sample):.0%} control characters{hint}), not a CSV text file")


def _read_options(utf8: bytes, **options: object) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(use_threads=False, block_size=min(len(utf8) + 1, _MAX_BLOCK), **options)


def _parse_options(on_invalid: Callable[[pacsv.InvalidRow], str] | None = None) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)


def _text_columns(names: list[str]) -> pacsv.ConvertOptions:
    return pacsv.ConvertOptions(
        column_types={name: pa.string() for name in names},
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        # The bytes were validated or produced by the decoder.
        check_utf8=False,
    )


def _header(utf8: bytes) -> list[str]:
    """Column names from the first line, parsed by pyarrow like every record (so no field limit)."""
    end = _LINE_END.search(utf8)
    if end is None:  # the caller adds a final line break; a guard, not a case
        raise UnreadableFile("no line break after the header")
    line = utf8[: end.end()]
    if b"\x00" in line:
        raise UnreadableFile("NUL byte in the header line")
    try:
        # A header alone reads as a table with no rows: its column names, untyped.
        raw_names = pacsv.read_csv(io.BytesIO(line), read_options=_read_options(line), parse_options=_parse_options()).column_names
    except pa.ArrowInvalid:
        # The only way a one-line, NUL-free, valid UTF-8 header fails: a quote that opens a
        # cell and never closes on that line (a header cell with a line break).
        raw_names = None
    if raw_names is None:
        # Raised here, not in the except block, so no chained pyarrow error can quote the line.
        raise UnreadableFile("unclosed quote in the header line")
    names: list[str] = []
    names_seen: set[str] = set()
    for position, raw in enumerate(raw_names):
        # Real files carry `to ` (trailing space) and `orgSourcedId,,` (empty trailing cells).
        name = raw.strip()
        if not name or name in names_seen:
            name = f"column_{position + 1}"
        names.append(name)
        names_seen.add(name)
    return names


def _parse(utf8: bytes, names: list[str]) -> tuple[pa.Table, list[pacsv.InvalidRow]]:
    invalid: list[pacsv.InvalidRow] = []

    def _skip(row: pacsv.InvalidRow) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        io.BytesIO(utf8),
        # Single-threaded so every rejected row comes with its record number.
        read_options=_read_options(utf8, column_names=names, skip_rows=1),
        parse_options=_parse_options(_skip),
        convert_options=_text_columns(names),
    )
    return table, invalid


def _record_index(row: pacsv.InvalidRow) -> int:
    # Row numbers count records (not lines, not blank lines), 1-based, header included.
    return row.number - 2


def _length_rule(expected: int, actual: int) -> str:
    return f"malformed CSV row: expected {expected} fields, got {actual}"


def _padded_rows(rows: list[pacsv.InvalidRow], names: list[str]) -> tuple[pa.Table, np.ndarray, list[MalformedRow]]:
    """Read the padded ones among rows that all have the same number of fields, more than the header.

    Exporters pad some rows with extra trailing commas (the LMS-Toolkit users.csv teacher
    rows have 19 fields under an 18-column header): a row whose extra cells are all empty
    or blank keeps its first fields. Extra cells that hold values make the row malformed:
    which value belongs to which column would be a guess.

    Returns:
        The padded rows' first fields (named as the header), their record numbers, and the
        other rows as malformed.
    """
    width = rows[0].actual_columns
    columns = [f"field_{i}" for i in range(width)]
    # The same parser splits them again at their own width, so quoting reads as in the
    # good rows. Each text is one whole record, so joining them keeps them apart.
    utf8 = "\n".join(row.text for row in rows).encode("utf-8") + b"\n"
    split = pacsv.read_csv(io.BytesIO(utf8), read_options=_read_options(utf8, column_names=columns),
                           parse_options=_parse_options(), convert_options=_text_columns(columns))
    padded = np.logical_and.reduce(
        [pc.equal(pc.utf8_trim_whitespace(split.column(i)), "").to_numpy(zero_copy_only=False) for i in range(len(names), width)]
    )
    indexes = np.array([_record_index(row) for row in rows], dtype=np.int64)
    kept = split.select(range(len(names))).rename_columns(names).filter(pa.array(padded))
    malformed = [MalformedRow(int(index), _length_rule(len(names), width)) for index in indexes[~padded]]
    return kept, indexes[padded], malformed


def _nul_rows(table: pa.Table) -> np.ndarray:
    return np.logical_or.reduce([pc.match_substring(column, "\x00").to_numpy(zero_copy_only=False) for column in table.columns])


def frame_nul_rows(frame: pd.DataFrame) -> np.ndarray:
    """Which rows of a text frame hold a NUL byte in any cell (readers whose parser is not pyarrow's)."""
    nul = np.zeros(len(frame), dtype=bool)
    for column in frame.columns:
        nul |= frame[column].str.contains("\x00", regex=False).fillna(False).to_numpy(dtype=bool)
    return nul


def read_csv_text(data: bytes, *, fallback_encoding: str = "cp1252") -> CsvTable:
    """Parse CSV bytes into text columns without losing track of any record.

    The encoding comes from a byte order mark (UTF-8, UTF-16 or UTF-32, either byte
    order); without one the bytes are UTF-8 if they decode as such, else
    `fallback_encoding`. Blank lines hold no record and are skipped; the header is the
    first line with text on it.

    Each record then has one outcome. It becomes a frame row when it has exactly the
    header's fields, or more fields whose extra cells are all empty (padding). It is
    listed in `malformed` when it has fewer fields, extra cells with values, or a NUL
    byte anywhere (PostgreSQL text cannot store NUL, so such a row would load into one
    warehouse and not another).

    Args:
        data: the file's bytes exactly as received.
        fallback_encoding: the legacy encoding of files that are not valid UTF-8 and carry
            no byte order mark (any Python codec name).

    Returns:
        The parsed table; an empty file gives an empty table without columns (see
        `CsvTable.has_header`).

    Raises:
        UnreadableFile: binary content (a known file signature, or many control
            characters), bytes that decode neither as UTF-8 nor as `fallback_encoding`
            (or not as their byte order mark says), or a header line that cannot be read
            (a NUL byte, an unclosed quote).
    """
    _refuse_known_binary(data)
    utf8, encoding = _utf8(data, fallback_encoding)
    _refuse_control_characters(utf8)
    utf8 = utf8.lstrip(b"\r\n")
    if not utf8:
        return CsvTable(pd.DataFrame(), np.zeros(0, dtype=np.int64), (), encoding)
    if not utf8.endswith((b"\n", b"\r")):
        # pyarrow cannot skip a header line that has no line break after it (an empty
        # table exported without a final newline); the break is optional, so add it.
        utf8 += b"\n"
    names = _header(utf8)
    table, invalid = _parse(utf8, names)

    parsed = np.ones(len(table) + len(invalid), dtype=bool)
    parsed[[_record_index(row) for row in invalid]] = False
    record_index = np.flatnonzero(parsed).astype(np.int64)
    malformed: list[MalformedRow] = []
    if b"\x00" in utf8:
        nul = _nul_rows(table)
        malformed += [MalformedRow(int(index), NUL_RULE) for index in record_index[nul]]
        table, record_index = table.filter(pa.array(~nul)), record_index[~nul]

    too_wide: dict[int, list[pacsv.InvalidRow]] = {}
    for row in invalid:
        if "\x00" in row.text:
            malformed.append(MalformedRow(_record_index(row), NUL_RULE))
        elif row.actual_columns < len(names):
            malformed.append(MalformedRow(_record_index(row), _length_rule(len(names), row.actual_columns)))
        else:
            too_wide.setdefault(row.actual_columns, []).append(row)
    if too_wide:
        tables, indexes = [table], [record_index]
        for rows in too_wide.values():
            kept, kept_index, rejected_rows = _padded_rows(rows, names)
            tables.append(kept)
            indexes.append(kept_index)
            malformed += rejected_rows
        record_index = np.concatenate(indexes)
        order = np.argsort(record_index, kind="stable")
        table, record_index = pa.concat_tables(tables).take(order), record_index[order]

    frame = table.to_pandas(types_mapper=lambda _: pd.StringDtype("pyarrow"))
    return CsvTable(frame, record_index, tuple(sorted(malformed, key=lambda m: m.record_index)), encoding)
