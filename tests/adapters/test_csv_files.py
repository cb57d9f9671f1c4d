"""read_csv_text: vendor CSV hygiene (BOM, CRLF, odd headers, broken rows) without losing a record."""

import numpy as np
import pandas as pd
import pytest

from edassets.adapters.csv_files import MalformedRow, read_csv_text
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
        pytest.param(b"a,b,c\n1\n2,3,4\n5,6", {"a": ["1", "2", "5"], "b": ["", "3", "6"], "c": ["", "4", ""]},
                     id="short-rows-padded"),
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


def test_extra_non_empty_values_are_malformed_and_later_rows_keep_their_record_index() -> None:
    data = b'a,b\n1,2\n"multi\nline",3\n4,5,6\n7,8,,\n9\n10,11,x,\n12,13'

    table = read_csv_text(data)

    assert table.frame.to_dict("list") == {"a": ["1", "multi\nline", "7", "9", "12"], "b": ["2", "3", "8", "", "13"]}
    assert table.record_index.tolist() == [0, 1, 3, 4, 6]
    assert table.record_index.dtype == np.int64
    assert table.malformed == (
        MalformedRow(2, "malformed CSV row: expected 2 fields, got 3"),
        MalformedRow(5, "malformed CSV row: expected 2 fields, got 4"),
    )
    assert table.frame.index.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("data", "encoding", "expected"),
    [
        pytest.param("name,city\nJosé,Köln\n".encode("cp1252"), "cp1252", ["José", "Köln"], id="cp1252"),
        pytest.param("name,city\nJosé,Köln\n".encode(), "utf-8", ["José", "Köln"], id="utf-8"),
        pytest.param(b"\xef\xbb\xbf" + "name,city\nJosé,Köln\n".encode(), "utf-8", ["José", "Köln"], id="utf-8-bom"),
    ],
)
def test_encoding(data: bytes, encoding: str, expected: list[str]) -> None:
    table = read_csv_text(data)

    assert table.encoding == encoding
    assert table.frame.iloc[0].tolist() == expected


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
