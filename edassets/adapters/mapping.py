"""Executing a feed's declarative field mapping: vendor text columns -> unified entity rows.

The output keeps every record. A value that cannot be parsed becomes NA *and* an entry in
`errors` naming the field, the rule and the original text, so validation can quarantine
the record with a reason instead of loading a silent null.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from edassets.adapters.csv_files import CsvTable
from edassets.adapters.spec import Column, Const, Derived, FeedSpec, FieldSource, ParseContext, SyncMode
from edassets.adapters.transforms import is_present, text

ERROR_COLUMNS: tuple[str, ...] = ("row", "lineage_record_index", "field", "rule", "value", "lineage_archive_key")
"""Parse-error frame columns. `row` is the position in the parsed frame, -1 for a record
that never became a row (a malformed CSV line or API page); such records name their
archive object in `lineage_archive_key` when the batch spans several objects."""

_RECORD = "__record_index"
_ARCHIVE_KEY = "__archive_key"


@dataclass(frozen=True)
class ParsedBatch:
    """One feed's records of one partition, in the unified schema, not yet validated.

    Attributes:
        frame: entity columns plus lineage columns, index 0..n-1.
        errors: parse errors (see ERROR_COLUMNS).
        sync_mode: how the batch relates to what is loaded.
        archive_key: archive object of the feed's own file ("" when the file was absent).
        missing_columns: mapped source columns the file did not have at all (a renamed
            vendor column shows up here, not as a thousand mysterious nulls).
        next_cursor: newest modification time fetched (ISO, UTC) for incremental API feeds.
    """

    frame: pd.DataFrame
    errors: pd.DataFrame
    sync_mode: SyncMode
    archive_key: str = ""
    missing_columns: tuple[str, ...] = field(default=())
    next_cursor: str | None = None

    def with_next_cursor(self, next_cursor: str | None) -> "ParsedBatch":
        """The same batch, carrying the high-water mark its load may commit."""
        return replace(self, next_cursor=next_cursor)

    @property
    def records(self) -> int:
        """Records received: rows plus records that never parsed."""
        return len(self.frame) + int((self.errors["row"] < 0).sum())


def empty_errors() -> pd.DataFrame:
    """A parse-error frame with no rows and the right dtypes."""
    return pd.DataFrame(
        {
            "row": pd.Series(dtype="int64"),
            "lineage_record_index": pd.Series(dtype="int64"),
            "field": pd.Series(dtype=pd.StringDtype("pyarrow")),
            "rule": pd.Series(dtype=pd.StringDtype("pyarrow")),
            "value": pd.Series(dtype=pd.StringDtype("pyarrow")),
            "lineage_archive_key": pd.Series(dtype=pd.StringDtype("pyarrow")),
        }
    )


class _Headers:
    """Case-insensitive header lookup that remembers which mapped columns were absent."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._frame = frame
        self._by_folded = {str(name).casefold(): name for name in frame.columns}
        self.missing: list[str] = []

    def find(self, names: tuple[str, ...]) -> pd.Series:
        present = [self._frame[actual] for name in names if (actual := self._by_folded.get(name.casefold())) is not None]
        if not present:
            self.missing.append(names[0])
            return pd.Series(pd.NA, index=self._frame.index, dtype=pd.StringDtype("pyarrow"))
        # Row by row, the first alternative holding a value wins: a OneRoster 1.2 file may
        # have a primaryOrgSourcedId column that is blank for some users.
        values = present[0]
        for alternative in present[1:]:
            values = values.where(is_present(values), alternative)
        return values


def _errors_for(failed: pd.Series, raw: pd.Series, frame: pd.DataFrame, target: str, rule: str) -> pd.DataFrame:
    rows = failed[failed].index
    return pd.DataFrame(
        {
            "row": rows.to_numpy(dtype="int64"),
            "lineage_record_index": frame.loc[rows, _RECORD].to_numpy(dtype="int64"),
            "field": pd.Series([target] * len(rows), dtype=pd.StringDtype("pyarrow")),
            "rule": pd.Series([rule] * len(rows), dtype=pd.StringDtype("pyarrow")),
            "value": raw.loc[rows].astype(pd.StringDtype("pyarrow")).reset_index(drop=True),
        }
    )


def _column_value(
    target: str, source: FieldSource, frame: pd.DataFrame, headers: _Headers, context: ParseContext
) -> tuple[object, pd.DataFrame | None]:
    if isinstance(source, Const):
        return source.value, None
    if isinstance(source, Column):
        raw = headers.find(source.names)
        values = text(raw) if source.parse is None else source.parse(raw)
        failed = is_present(raw) & values.isna()
        return values, _errors_for(failed, raw, frame, target, source.rule) if failed.any() else None
    if isinstance(source, Derived):
        inputs = pd.DataFrame({names[0]: headers.find(names) for names in source.sources}, index=frame.index)
        values = source.fn(inputs, context)
        if source.may_be_empty:
            return values, None
        any_present = np.logical_or.reduce([is_present(inputs[c]).to_numpy() for c in inputs.columns])
        failed = pd.Series(any_present, index=frame.index) & values.isna()
        if not failed.any():
            return values, None
        # Only the failing rows are joined for the report: this is per-row Python.
        shown = inputs[failed].astype("string").fillna("").agg(" ".join, axis=1).str.strip()
        return values, _errors_for(failed, shown, frame, target, source.rule)
    raise TypeError(f"unknown field source {source!r}")


def _map_once(
    feed: FeedSpec, mapping: Mapping[str, FieldSource], frame: pd.DataFrame, context: ParseContext
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    headers = _Headers(frame)
    columns: dict[str, object] = {}
    errors: list[pd.DataFrame] = []
    for target, source in mapping.items():
        values, failed = _column_value(target, source, frame, headers, context)
        columns[target] = values
        if failed is not None:
            errors.append(failed)
    mapped = pd.DataFrame(columns, index=frame.index)
    mapped[_RECORD] = frame[_RECORD]
    if _ARCHIVE_KEY in frame.columns:
        mapped[_ARCHIVE_KEY] = frame[_ARCHIVE_KEY]
    error_frame = pd.concat(errors, ignore_index=True) if errors else empty_errors()
    keep = pd.Series(True, index=frame.index)
    for required in feed.required_values:
        # Only an empty value means "nothing to record": an unparsable one stays, with its error.
        failed = frame.index.isin(error_frame.loc[error_frame["field"] == required, "row"])
        keep &= mapped[required].notna() | failed
    if not keep.all():
        mapped = mapped[keep]
        error_frame = error_frame[error_frame["row"].isin(mapped.index)]
    return mapped, error_frame, headers.missing


def _apply_joins(feed: FeedSpec, frame: pd.DataFrame, tables: Mapping[str, CsvTable]) -> pd.DataFrame:
    for join in feed.joins:
        table = tables.get(join.file.lower())
        other = table.frame if table is not None else pd.DataFrame()
        other_headers = {str(c).casefold(): c for c in other.columns}
        needed = list(join.keep) + ([join.where[0]] if join.where else [])
        picked = pd.DataFrame(
            {name: other[other_headers[name.casefold()]] if name.casefold() in other_headers
             else pd.Series(pd.NA, index=other.index, dtype=pd.StringDtype("pyarrow")) for name in needed},
            index=other.index,
        )
        # Key columns are named by position: each side may spell its key several ways.
        key_names = [f"__join_{position}" for position in range(len(join.keys))]
        right_headers, left_headers = _Headers(other), _Headers(frame)
        for key_name, (left, right) in zip(key_names, join.keys, strict=True):
            picked[key_name] = right_headers.find(right).str.strip()
            frame[key_name] = left_headers.find(left).str.strip()
        if join.where:
            where_column, allowed = join.where
            picked = picked[picked[where_column].str.strip().str.casefold().isin({a.casefold() for a in allowed})]
        # A blank key names nothing: a record without the key must not pair with another one without it.
        picked = picked[(picked[key_names].fillna("") != "").all(axis=1)]
        picked = picked.drop_duplicates(subset=key_names, keep="first")
        picked = picked[key_names + list(join.keep)].rename(columns={k: join.prefix + k for k in join.keep})
        frame = frame.merge(picked, how="left", on=key_names, sort=False).drop(columns=key_names)
    return frame


def map_feed(
    feed: FeedSpec,
    tables: Mapping[str, CsvTable],
    *,
    context: ParseContext,
    archive_key: str,
    run_id: str,
    sync_mode: SyncMode,
) -> ParsedBatch:
    """Turn a feed's source tables into a batch of unified-schema rows.

    Args:
        feed: the feed spec.
        tables: parsed CSV tables keyed by lower-cased file name.
        context: district and time zone for derived columns.
        archive_key: archive object of the feed's own file (lineage).
        run_id: the Dagster run doing the parse (lineage).
        sync_mode: how this batch relates to the warehouse.

    Returns:
        The batch; empty when the feed's file is absent.
    """
    table = tables.get(feed.source)
    if table is None:
        return ParsedBatch(_empty_entity_frame(feed), empty_errors(), sync_mode)
    frame = table.frame.copy()
    frame[_RECORD] = table.record_index
    if table.archive_keys is not None:
        frame[_ARCHIVE_KEY] = table.archive_keys
    if feed.where is not None:
        where_column, allowed = feed.where
        values = _Headers(frame).find((where_column,)).str.strip().str.casefold()
        frame = frame[values.isin({a.casefold() for a in allowed}).fillna(False)]
    frame = _apply_joins(feed, frame.reset_index(drop=True), tables)

    parts, error_parts, missing = [], [], []
    offset = 0
    for mapping in feed.fields:
        mapped, errors, absent = _map_once(feed, mapping, frame, context)
        mapped = mapped.reset_index(drop=False, names="__source_row")
        errors = errors.assign(row=errors["row"].map(pd.Series(mapped.index + offset, index=mapped["__source_row"])))
        parts.append(mapped.drop(columns="__source_row"))
        error_parts.append(errors)
        missing.extend(absent)
        offset += len(mapped)
    mapped = pd.concat(parts, ignore_index=True)
    malformed = pd.DataFrame(
        {
            "row": np.full(len(table.malformed), -1, dtype="int64"),
            "lineage_record_index": np.array([m.record_index for m in table.malformed], dtype="int64"),
            "field": pd.Series(["(record)"] * len(table.malformed), dtype=pd.StringDtype("pyarrow")),
            "rule": pd.Series([m.rule for m in table.malformed], dtype=pd.StringDtype("pyarrow")),
            "value": pd.Series([pd.NA] * len(table.malformed), dtype=pd.StringDtype("pyarrow")),
            "lineage_archive_key": pd.Series(list(table.malformed_keys) or [pd.NA] * len(table.malformed),
                                             dtype=pd.StringDtype("pyarrow")),
        }
    )
    errors = pd.concat([*error_parts, malformed], ignore_index=True).astype({"row": "int64"})
    return ParsedBatch(
        frame=_finish(feed, mapped, context, archive_key, run_id),
        errors=errors.reset_index(drop=True),
        sync_mode=sync_mode,
        archive_key=archive_key,
        missing_columns=tuple(dict.fromkeys(missing)),
    )


def _finish(feed: FeedSpec, mapped: pd.DataFrame, context: ParseContext, archive_key: str, run_id: str) -> pd.DataFrame:
    entity = feed.entity
    out = pd.DataFrame(index=mapped.index)
    defaults: dict[str, object] = {
        "district_id": context.district_id,
        "source_platform": context.platform,
        "active": True,
        "lineage_archive_key": archive_key,
        "lineage_run_id": run_id,
    }
    for spec_field in entity.all_fields:
        name = spec_field.name
        if name == "lineage_loaded_at":
            continue
        if name == "lineage_record_index":
            values: object = mapped[_RECORD]
        elif name == "lineage_archive_key" and _ARCHIVE_KEY in mapped.columns:
            values = mapped[_ARCHIVE_KEY]
        elif name in mapped.columns:
            values = mapped[name]
        else:
            values = defaults.get(name, pd.NA)
        out[name] = pd.Series(values, index=mapped.index) if np.isscalar(values) or values is pd.NA else values
        out[name] = out[name].astype(spec_field.kind.pandas_dtype)
    return out


def _empty_entity_frame(feed: FeedSpec) -> pd.DataFrame:
    return pd.DataFrame(
        {f.name: pd.Series(dtype=f.kind.pandas_dtype) for f in feed.entity.all_fields if f.name != "lineage_loaded_at"}
    )
