"""read_csv_text: vendor CSV hygiene (encodings, CRLF, odd headers, broken rows) without losing a record."""

import codecs
import random

import numpy as np
import pandas as pd
import pytest

from edassets.adapters.csv_files import MalformedRow, UnreadableFile, read_csv_text
from tests.shared_fixtures import shared_fixture

STRING = pd.StringDtype("pyarrow")


def _columns(data: bytes) -> dict[str, list[str]]:
    return read_csv_text(data).frame.to_dict("list")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"\xef\xbb\xbfsourcedId,name\n1,A\n", {"sourcedId": ["1"], "name": ["A"]}, id="utf8-bom"),
        pytest.param(b"a,b\r\n1,2\r\n3,4\r\n", {"a": ["1", "3"], "b": ["2", "4"]}, id="crlf"),
        pytest.param(b"a,b\n1,2\n3,4", {"a": ["1", "3"], "b": ["2", "4"]}, id="no-final-newline"),
        pytest.param(b"a,b\r\n1,2", {"a": ["1"], "b": ["2"]}, id="crlf-no-final-newline"),
        pytest.param(
            b"to ,  from,,b,,\n1,2,3,4,5,6\n",
            {"to": ["1"], "from": ["2"], "column_3": ["3"], "b": ["4"], "column_5": ["5"], "column_6": ["6"]},
            id="trailing-spaces-and-empty-header-cells",
        ),
        pytest.param(b"a,,b\n1,2,3\n", {"a": ["1"], "column_2": ["2"], "b": ["3"]}, id="a,,b"),
        pytest.param(b"id,id\n1,2\n", {"id": ["1"], "column_2": ["2"]}, id="duplicate-header"),
        pytest.param(b'a,b\n"line 1\nline 2",x\n', {"a": ["line 1\nline 2"], "b": ["x"]}, id="quoted-multiline"),
        pytest.param(b'a,b\r\n"x\r\ny",2\r\n', {"a": ["x\r\ny"], "b": ["2"]}, id="quoted-multiline-crlf"),
        pytest.param(b'a,b\n"1,5","say ""hi"""\n', {"a": ["1,5"], "b": ['say "hi"']}, id="quoted-comma-and-quote"),
        pytest.param(b"a,b\n1,2,,\n3,4\n", {"a": ["1", "3"], "b": ["2", "4"]}, id="padded-empty-trailing-fields"),
        pytest.param(b'a,b\n1,"2,3",,\n', {"a": ["1"], "b": ["2,3"]}, id="padded-row-with-quoted-comma"),
        pytest.param(b"a,b,c\n1\n2,3,4\n5,6", {"a": ["2"], "b": ["3"], "c": ["4"]}, id="short-rows-are-not-rows"),
        pytest.param(b"\r\n\na,b\n1,2\n\n3,4\n\n", {"a": ["1", "3"], "b": ["2", "4"]}, id="blank-lines-before-and-between"),
        pytest.param(b"a,b\r1,2\r", {"a": ["1"], "b": ["2"]}, id="cr-only-line-breaks"),
        pytest.param(b"a,b", {"a": [], "b": []}, id="header-only-without-newline"),
        pytest.param(b"a,b\r\n", {"a": [], "b": []}, id="header-only"),
        pytest.param(b"", {}, id="empty-file"),
    ],
)
def test_hygiene(data: bytes, expected: dict[str, list[str]]) -> None:
    assert _columns(data) == expected


def test_record_index_counts_records_not_lines() -> None:
    table = read_csv_text(b'a,b\n"x\ny",1\n2,3\n')

    assert table.record_index.tolist() == [0, 1]
    assert table.malformed == ()


def test_rows_of_the_wrong_length_are_malformed_and_later_rows_keep_their_record_index() -> None:
    data = b'a,b\n1,2\n"multi\nline",3\n4,5,6\n7,8,,\n9\n10,11,x,\n12,13'

    table = read_csv_text(data)

    assert table.frame.to_dict("list") == {"a": ["1", "multi\nline", "7", "12"], "b": ["2", "3", "8", "13"]}
    assert table.record_index.tolist() == [0, 1, 3, 6]
    assert table.record_index.dtype == np.int64
    assert table.malformed == (
        MalformedRow(2, "malformed CSV row: expected 2 fields, got 3"),
        MalformedRow(4, "malformed CSV row: expected 2 fields, got 1"),
        MalformedRow(5, "malformed CSV row: expected 2 fields, got 4"),
    )
    assert table.frame.index.tolist() == [0, 1, 2, 3]
    assert table.record_count == 7


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        pytest.param("name,city\nJosé,Köln\n".encode("cp1252"), "cp1252 (fallback)", id="cp1252"),
        pytest.param("name,city\nJosé,Köln\n".encode(), "utf-8", id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + "name,city\nJosé,Köln\n".encode(), "utf-8 (BOM)", id="utf-8-bom"),
        # Excel's "Unicode text" and PowerShell exports: every ASCII character has a NUL byte.
        pytest.param("name,city\r\nJosé,Köln\r\n".encode("utf-16"), "utf-16-le (BOM)", id="utf-16"),
        pytest.param(codecs.BOM_UTF16_LE + "name,city\nJosé,Köln\n".encode("utf-16-le"), "utf-16-le (BOM)", id="utf-16-le"),
        pytest.param(codecs.BOM_UTF16_BE + "name,city\nJosé,Köln\n".encode("utf-16-be"), "utf-16-be (BOM)", id="utf-16-be"),
        pytest.param(codecs.BOM_UTF32_LE + "name,city\nJosé,Köln\n".encode("utf-32-le"), "utf-32-le (BOM)", id="utf-32-le"),
        pytest.param(codecs.BOM_UTF32_BE + "name,city\nJosé,Köln\n".encode("utf-32-be"), "utf-32-be (BOM)", id="utf-32-be"),
    ],
)
def test_encoding(data: bytes, encoding: str) -> None:
    table = read_csv_text(data)

    assert table.encoding == encoding
    assert table.frame.to_dict("list") == {"name": ["José"], "city": ["Köln"]}
    assert table.malformed == ()


def test_plain_ascii_is_utf8_and_the_fallback_is_declared_by_the_caller() -> None:
    assert read_csv_text(b"name\nAnn\n").encoding == "utf-8"

    table = read_csv_text("name\nŁukasz\n".encode("iso8859-2"), fallback_encoding="iso8859-2")

    assert table.encoding == "iso8859-2 (fallback)"
    assert table.frame["name"].tolist() == ["Łukasz"]


def test_every_column_is_text_and_empty_cells_are_empty_strings() -> None:
    table = read_csv_text(b'id,score,flag,date\n007,3.50,,""\n,1e3,TRUE,2020-08-17\n')

    assert all(dtype == STRING for dtype in table.frame.dtypes)
    assert not table.frame.isna().any().any()
    assert table.frame.to_dict("list") == {
        "id": ["007", ""], "score": ["3.50", "1e3"], "flag": ["", "TRUE"], "date": ["", "2020-08-17"],
    }


def test_real_lmstoolkit_users_with_padded_teacher_rows() -> None:
    data = (shared_fixture("oneroster_csv/v1p1_edfi_lmstoolkit_grandbend") / "users.csv").read_bytes()

    table = read_csv_text(data)

    assert table.malformed == ()
    assert table.record_index.tolist() == list(range(10))
    assert len(table.frame.columns) == 18
    # The two teacher rows carry 19 fields under the 18-column header, and the last has no final newline.
    assert table.frame["sourcedId"].tolist()[-2:] == ["207270", "207268"]
    assert table.frame["role"].tolist()[-2:] == ["teacher", "teacher"]
    assert table.frame.loc[1, "email"] == "Kyle.Hughes@studentgps.org"


# --- files that are not CSV text ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "binary content (zip signature), not a CSV text file", id="xlsx"),
        pytest.param(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), "binary content (OLE2 signature), not a CSV text file",
                     id="legacy-xls"),
        pytest.param(b"\x89PNG\r\n\x1a\n" + bytes(200), "binary content (PNG signature), not a CSV text file", id="png"),
        pytest.param(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "binary content (PDF signature), not a CSV text file", id="pdf"),
        pytest.param(b"\x1f\x8b\x08\x00" + bytes(50), "binary content (gzip signature), not a CSV text file", id="gzip"),
        # Valid UTF-8, but nobody's CSV.
        pytest.param(b"id,name\n" + bytes(range(1, 9)) * 100, "binary content (99% control characters), not a CSV text file",
                     id="control-bytes"),
        pytest.param(b"\x00" * 4096, "binary content (100% control characters, mostly NUL: UTF-16 or UTF-32 without a byte "
                     "order mark?), not a CSV text file", id="zero-filled"),
        pytest.param("id,name\n1,Ann\n".encode("utf-16-le"), "binary content (50% control characters, mostly NUL: UTF-16 or "
                     "UTF-32 without a byte order mark?), not a CSV text file", id="utf-16-without-bom"),
        # 0x81 is undefined in cp1252 (as are 0x8d, 0x8f, 0x90 and 0x9d).
        pytest.param(b"id,name\n1,Jos\xe9\x81\n", "cannot be decoded as UTF-8 (byte 0xe9 at offset 13) or cp1252 "
                     "(byte 0x81 at offset 14)", id="neither-utf8-nor-cp1252"),
        pytest.param(codecs.BOM_UTF16_LE + "id\n1\n".encode("utf-16-le") + b"\x31", "cannot be decoded as utf-16-le despite "
                     "its byte order mark (byte 0x31 at offset 12)", id="utf-16-odd-length"),
        pytest.param(codecs.BOM_UTF8 + b"id\n\xff\n", "cannot be decoded as utf-8 despite its byte order mark "
                     "(byte 0xff at offset 6)", id="utf-8-bom-then-invalid"),
    ],
)
def test_unreadable_files_raise_one_readable_line(data: bytes, message: str) -> None:
    with pytest.raises(UnreadableFile) as raised:
        read_csv_text(data)

    assert str(raised.value) == message
    assert isinstance(raised.value, ValueError)


def test_random_bytes_are_unreadable() -> None:
    data = random.Random(0).randbytes(4096)

    with pytest.raises(UnreadableFile, match=r"^cannot be decoded as UTF-8 \(byte 0x[0-9a-f]{2} at offset \d+\) or cp1252"):
        read_csv_text(data)
    # With a fallback that decodes every byte, the control characters still give it away.
    with pytest.raises(UnreadableFile, match=r"^binary content \(\d+% control characters"):
        read_csv_text(data, fallback_encoding="latin-1")


def test_the_message_never_quotes_the_file() -> None:
    data = "sourcedId,givenName,familyName\n1,Zoë,Quartermaine\n".encode("cp1252") + b"\x81\n"

    with pytest.raises(UnreadableFile) as raised:
        read_csv_text(data)

    message = str(raised.value)
    assert "\n" not in message
    assert not any(word in message for word in ("sourcedId", "Zo", "Quartermaine"))
    assert raised.value.__cause__ is None and raised.value.__context__ is None


# --- NUL bytes ---------------------------------------------------------------------------


def test_a_record_with_a_nul_byte_is_malformed_and_the_others_still_read() -> None:
    data = (b"id,name,email\n1,Ann,ann@example.org\n2,B\x00b,bob@example.org\n3,Cy,cy@example.org\n"
            b"4,Di,\x00,\n5,Ed\x00\n6,Flo,flo@example.org,,\n")

    table = read_csv_text(data)

    assert table.frame.to_dict("list") == {
        "id": ["1", "3", "6"], "name": ["Ann", "Cy", "Flo"], "email": ["ann@example.org", "cy@example.org", "flo@example.org"]}
    assert table.record_index.tolist() == [0, 2, 5]
    # The NUL decides even for rows that are also too long or too short.
    assert table.malformed == (MalformedRow(1, "NUL byte in record"), MalformedRow(3, "NUL byte in record"),
                               MalformedRow(4, "NUL byte in record"))


def test_a_nul_in_a_utf16_file_is_found_after_decoding() -> None:
    data = "id,name\r\n1,Ann\r\n2,B\x00b\r\n3,Cy\r\n4,Di\r\n5,Ed\r\n".encode("utf-16")

    table = read_csv_text(data)

    assert table.frame["name"].tolist() == ["Ann", "Cy", "Di", "Ed"]
    assert table.malformed == (MalformedRow(1, "NUL byte in record"),)


def test_a_nul_in_the_header_makes_the_file_unreadable() -> None:
    with pytest.raises(UnreadableFile, match=r"^NUL byte in the header line$"):
        read_csv_text(b"sourcedId,given\x00Name,familyName\n1,Ann,Lee\n2,Bob,Ray\n3,Cy,Fox\n")


# --- sizes -------------------------------------------------------------------------------

HUGE = 200_000  # beyond Python's csv field limit (131072)


def test_a_field_beyond_the_csv_module_limit_is_read() -> None:
    data = b"a,b\n1," + b"x" * HUGE + b"\n2,\"" + b"y" * HUGE + b"\",,\n3,z\n"

    table = read_csv_text(data)

    assert table.frame["a"].tolist() == ["1", "2", "3"]
    assert table.frame["b"].str.len().tolist() == [HUGE, HUGE, 1]
    assert table.malformed == ()


def test_a_field_longer_than_a_parse_block_is_read_anywhere_in_the_file() -> None:
    data = b"a,b\n" + b"1,2\n" * 300_000 + b"3," + b"x" * 2_000_000 + b"\n4,5\n"

    table = read_csv_text(data)

    assert len(table.frame) == 300_002
    assert len(table.frame["b"].iloc[-2]) == 2_000_000


def test_a_huge_header_line_is_read() -> None:
    names = [f"c{i}" for i in range(2_000)] + ["n" * HUGE]
    data = (",".join(names) + "\n" + ",".join(str(i) for i in range(len(names))) + "\n").encode()

    table = read_csv_text(data)

    assert table.frame.columns.tolist() == names
    assert table.frame.iloc[0, -1] == str(len(names) - 1)


# --- empty and header-only files ---------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "has_header", "columns"),
    [
        pytest.param(b"", False, [], id="0-bytes"),
        pytest.param(codecs.BOM_UTF8, False, [], id="bom-only"),
        pytest.param("".encode("utf-16"), False, [], id="utf-16-bom-only"),
        pytest.param(b"\r\n\r\n", False, [], id="line-breaks-only"),
        pytest.param(b"a,b", True, ["a", "b"], id="header-only-without-newline"),
        pytest.param("a,b\r\n".encode("utf-16"), True, ["a", "b"], id="utf-16-header-only"),
    ],
)
def test_empty_and_header_only_files(data: bytes, has_header: bool, columns: list[str]) -> None:
    table = read_csv_text(data)

    assert table.has_header is has_header
    assert table.frame.columns.tolist() == columns
    assert table.record_count == 0
    assert len(table.record_index) == 0


def test_a_file_whose_records_are_all_malformed_is_not_header_only() -> None:
    table = read_csv_text(b"a,b\n1\n2\n")

    assert table.has_header
    assert table.frame.empty
    assert table.record_count == 2


def test_a_header_with_an_unclosed_quote_is_unreadable() -> None:
    with pytest.raises(UnreadableFile, match=r"^unclosed quote in the header line$"):
        read_csv_text(b'"First\nName",id\n1,2\n')
