"""Archived API pages flattened to text: every record is a row or a malformed entry."""

import json

from edassets.adapters.csv_files import NUL_RULE
from edassets.adapters.json_records import read_json_pages
from edassets.handoffs import ReceivedFile


def _page(name: str, records: list[dict]) -> ReceivedFile:
    return ReceivedFile(name, json.dumps({"users": records}).encode(), archive_key=f"raw/{name}")


def test_a_record_with_a_nul_character_is_malformed_on_every_warehouse() -> None:
    pages = [
        _page("p0.json", [{"sourcedId": "u1", "name": {"first": "Ann"}}, {"sourcedId": "u2", "name": {"first": "B\u0000b"}}]),
        _page("p1.json", [{"sourcedId": "u3", "name": {"first": "Cy"}}]),
    ]

    table = read_json_pages(pages, records_path="users")

    assert table.frame["sourcedId"].tolist() == ["u1", "u3"]
    assert table.record_index.tolist() == [0, 0]
    assert table.archive_keys.tolist() == ["raw/p0.json", "raw/p1.json"]
    assert [(m.record_index, m.rule) for m in table.malformed] == [(1, NUL_RULE)]
    assert table.malformed_keys == ("raw/p0.json",)
    assert table.record_count == 3


def test_a_page_that_is_not_json_is_one_malformed_record_naming_its_object() -> None:
    pages = [ReceivedFile("p0.json", b'{"users": [', archive_key="raw/p0.json"), _page("p1.json", [{"sourcedId": "u1"}])]

    table = read_json_pages(pages, records_path="users")

    assert table.frame["sourcedId"].tolist() == ["u1"]
    assert len(table.malformed) == 1 and table.malformed[0].rule.startswith("malformed page: p0.json is not JSON")
    assert table.malformed_keys == ("raw/p0.json",)
