"""read_csv_text on random tables: whatever arrives, every record gets exactly one outcome.

Tables are written with the csv module (so a record is whatever it writes for one row,
line breaks inside quoted cells included), in a random supported encoding, with rows of
random length, repeated rows, blank lines, and cells full of commas, quotes, line
breaks, NUL bytes and non-ASCII text.
"""

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from edassets.adapters.csv_files import UnreadableFile, read_csv_text

ENCODERS: dict[str, tuple[Callable[[str], bytes], str]] = {
    "utf-8": (lambda text: text.encode("utf-8"), "utf-8"),
    "utf-8-sig": (lambda text: text.encode("utf-8-sig"), "utf-8 (BOM)"),
    "utf-16": (lambda text: text.encode("utf-16"), "utf-16-le (BOM)"),  # Python writes the BOM, little-endian
    "utf-16-be": (lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"), "utf-16-be (BOM)"),
    "utf-32": (lambda text: text.encode("utf-32"), "utf-32-le (BOM)"),
    "utf-32-be": (lambda text: codecs.BOM_UTF32_BE + text.encode("utf-32-be"), "utf-32-be (BOM)"),
    "cp1252": (lambda text: text.encode("cp1252"), "cp1252 (fallback)"),
}
CP1252_CHARACTERS = "ab Z09,\"'\r\n\t;é€ß\x00"
UNICODE_CHARACTERS = CP1252_CHARACTERS + "中😀\u2028\xa0ŁЖ"
HEADER_CHARACTERS = "abcXYZ09 _,\"é"
# The reader's binary rule (see csv_files): more than 10% control characters in the first
# 8 KiB of the text as UTF-8.
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Written:
    encoding: str
    text: str
    data: bytes
    header: list[str]
    rows: list[list[str]]


@st.composite
def csv_files(draw: st.DrawFn) -> Written:
    encoding = draw(st.sampled_from(sorted(ENCODERS)))
    if draw(st.integers(0, 9)) == 0:
        return Written(encoding, "", ENCODERS[encoding][0](""), [], [])
    cell = st.text(CP1252_CHARACTERS if encoding == "cp1252" else UNICODE_CHARACTERS, max_size=6)
    width = draw(st.integers(1, 4))
    # "é" before a comma or a line break is never valid UTF-8: cp1252 files always need the fallback.
    header = ["é", *draw(st.lists(st.text(HEADER_CHARACTERS, max_size=4), min_size=width - 1, max_size=width - 1))]
    exact = st.lists(cell, min_size=width, max_size=width)
    padded = st.tuples(exact, st.lists(st.sampled_from(["", " ", "\t"]), min_size=1, max_size=2)).map(lambda p: p[0] + p[1])
    any_length = st.lists(cell, min_size=1, max_size=width + 2)
    rows = draw(st.lists(st.one_of(exact, padded, any_length), max_size=10))
    if rows and draw(st.booleans()):
        rows += rows[: draw(st.integers(1, len(rows)))]

    buffer = io.StringIO()
    buffer.write("\r\n" * draw(st.integers(0, 2)))
    # With "\r\n" as terminator the csv module quotes cells holding either character.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
        if draw(st.integers(0, 7)) == 0:
            buffer.write("\r\n")
    text = buffer.getvalue()
    if draw(st.booleans()):
        text = text.removesuffix("\r\n")
    return Written(encoding, text, ENCODERS[encoding][0](text), header, rows)


def _looks_binary(text: str) -> bool:
    sample = text.encode("utf-8")[:8192].decode("utf-8", "ignore")
    return bool(sample) and len(CONTROL.findall(sample)) / len(sample) > 0.10


def _outcome(row: list[str], width: int) -> str | list[str]:
    """The rule a record must be quarantined under, or the values it must load with."""
    if any("\x00" in cell for cell in row):
        return "NUL byte in record"
    if len(row) < width or any(cell.strip() for cell in row[width:]):
        return f"malformed CSV row: expected {width} fields, got {len(row)}"
    return row[:width]


@settings(max_examples=150, deadline=None, database=None)
@given(csv_files())
def test_every_record_gets_exactly_one_outcome(written: Written) -> None:
    if _looks_binary(written.text):
        try:
            read_csv_text(written.data)
        except UnreadableFile as error:
            assert str(error).startswith("binary content")
            return
        raise AssertionError("a file of control characters was read as CSV")

    table = read_csv_text(written.data)

    if not written.text:
        assert not table.has_header
        assert table.record_count == 0
        return
    assert table.encoding == ENCODERS[written.encoding][1]
    assert table.has_header
    assert table.frame.shape[1] == len(written.header)
    assert table.frame.columns[0] == "é"

    # Conservation: each record written is a row or a malformed entry, once.
    assert table.record_count == len(written.rows)
    outcomes = sorted([*table.record_index.tolist(), *(m.record_index for m in table.malformed)])
    assert outcomes == list(range(len(written.rows)))
    assert table.record_index.tolist() == sorted(table.record_index.tolist())

    for position, index in enumerate(table.record_index.tolist()):
        assert table.frame.iloc[position].tolist() == _outcome(written.rows[index], len(written.header))
    for malformed in table.malformed:
        assert malformed.rule == _outcome(written.rows[malformed.record_index], len(written.header))
