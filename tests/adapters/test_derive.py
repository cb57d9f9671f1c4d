"""Derived columns built from several vendor columns."""

import json

import pandas as pd

from edassets.adapters.derive import json_object

STRING = pd.StringDtype("pyarrow")


def test_json_object_keeps_the_non_blank_columns_in_order_and_escapes_them() -> None:
    source = pd.DataFrame(
        {
            "Goal1": pd.array(["201", " ", None, 'say "hi", ok'], dtype=STRING),
            "Goal2": pd.array([None, None, None, "tab\there\nline"], dtype=STRING),
            "Goal3": pd.array(["7", None, None, "back\\slash"], dtype=STRING),
        },
        index=[10, 11, 12, 13],
    )

    built = json_object(["Goal1", "Goal2", "Goal3"]).fn(source, None)

    assert built.dtype == STRING and built.index.tolist() == [10, 11, 12, 13]
    assert built.iloc[0] == '{"Goal1":"201","Goal3":"7"}'
    # A row whose every column is blank has no object at all (and is not dropped).
    assert built.iloc[1:3].isna().all()
    assert json.loads(built.iloc[3]) == {"Goal1": 'say "hi", ok', "Goal2": "tab\there\nline", "Goal3": "back\\slash"}
    assert list(json.loads(built.iloc[3])) == ["Goal1", "Goal2", "Goal3"]


def test_json_object_of_an_all_blank_column_set_is_all_na() -> None:
    source = pd.DataFrame({"A": pd.array([None, ""], dtype=STRING)})

    assert json_object(["A"]).fn(source, None).isna().all()
