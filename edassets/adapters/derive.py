"""Reusable derived-column builders: several vendor columns -> one unified column."""

import json
from collections.abc import Sequence

import pandas as pd

from edassets.adapters.spec import Derived, ParseContext
from edassets.adapters.transforms import local_timestamp, text

_STRING = pd.StringDtype("pyarrow")


def local_datetime(date_column: str, time_column: str) -> Derived:
    """A UTC timestamp from a local date column and a local clock-time column.

    The district's registry time zone says what "local" means (assessment vendors export
    wall-clock times of the testing site).
    """

    def derive(source: pd.DataFrame, context: ParseContext) -> pd.Series:
        return local_timestamp(source[date_column], source[time_column], context.timezone.key)

    return Derived(sources=((date_column,), (time_column,)), fn=derive, rule="local date and time")


def json_object(keys: Sequence[str], rule: str = "JSON object") -> Derived:
    """A JSON object text of the non-blank columns among `keys`, in the given order; NA when all are blank.

    Vectorised: the frame is melted to (row, key, value) and the quoted pairs are joined per row.
    """

    def derive(source: pd.DataFrame, _: ParseContext) -> pd.Series:
        cleaned = pd.DataFrame({key: text(source[key]) for key in keys}, index=source.index)
        long = cleaned.rename_axis("row").reset_index().melt(id_vars="row", var_name="key", value_name="value")
        long = long.dropna(subset=["value"])
        # json.dumps escapes everything JSON requires: quotes, backslashes and control
        # characters (a tab, or a line break inside a quoted CSV cell). Once per distinct value.
        uniques = long["value"].unique()
        quoted = long["value"].map(dict(zip(uniques, (json.dumps(str(v), ensure_ascii=False) for v in uniques), strict=True)))
        pairs = '"' + long["key"].astype(_STRING) + '":' + quoted.astype(_STRING)
        joined = pairs.groupby(long["row"], sort=False).agg(",".join)
        return ("{" + joined + "}").reindex(source.index).astype(_STRING)

    # Missing vendor columns simply drop out of the object; nothing here can be "unparsable".
    return Derived(sources=tuple((key,) for key in keys), fn=derive, rule=rule)


def first_present_key(*alternatives: Sequence[str], separator: str = ":") -> Derived:
    """A record key from the first alternative whose columns are all present.

    Used when a vendor has an id column that is sometimes empty (NWEA's combined file has
    no TestID), so a natural key is built from other columns instead.
    """
    sources = tuple(dict.fromkeys(column for alternative in alternatives for column in alternative))

    def derive(source: pd.DataFrame, _: ParseContext) -> pd.Series:
        key = pd.Series(pd.NA, index=source.index, dtype=_STRING)
        for alternative in alternatives:
            parts = [text(source[column]) for column in alternative]
            candidate = parts[0].str.cat(parts[1:], sep=separator) if len(parts) > 1 else parts[0]
            key = key.fillna(candidate)
        return key

    return Derived(sources=tuple((column,) for column in sources), fn=derive, rule="record key")
