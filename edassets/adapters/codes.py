"""Code lists: mapping a vendor's spellings of an enumerated value onto ours."""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.spec import Transform
from edassets.adapters.transforms import text


def code_map(spellings: Mapping[str, str], name: str) -> Transform:
    """A transform that maps vendor codes (case-insensitively) to canonical codes.

    Args:
        spellings: vendor spelling -> canonical code.
        name: rule name shown in quarantine reports ("oneroster role").

    Returns:
        A vectorised transform; an unlisted code becomes NA so it is reported, not loaded.
    """
    folded = {key.casefold(): value for key, value in spellings.items()}

    def transform(values: pd.Series) -> pd.Series:
        cleaned = text(values)
        return cleaned.str.casefold().map(folded).astype(pd.StringDtype("pyarrow"))

    transform.__name__ = name
    return transform


def first_item(values: pd.Series) -> pd.Series:
    """The first element of a comma-separated multi-value cell ("s1,s2" -> "s1")."""
    return text(text(values).str.split(",", n=1).str[0])


def json_field(name: str) -> Transform:
    """The first `name` value inside flattened JSON text (a GUIDRef list's first sourcedId).

    The JSON reader writes nested lists with sorted keys and no spaces, so a regular
    expression finds the value without parsing every cell.
    """
    pattern = rf'"{name}":"([^"]*)"'

    def transform(values: pd.Series) -> pd.Series:
        return text(text(values).str.extract(pattern, expand=False))

    transform.__name__ = f"JSON {name}"
    return transform


def json_fields(name: str) -> Transform:
    """Every `name` value inside flattened JSON text, comma-joined (all terms of a class)."""
    pattern = rf'"{name}":"([^"]*)"'

    def transform(values: pd.Series) -> pd.Series:
        found = text(values).str.findall(pattern).str.join(",")
        return text(found.astype(pd.StringDtype("pyarrow")))

    transform.__name__ = f"JSON {name} list"
    return transform
