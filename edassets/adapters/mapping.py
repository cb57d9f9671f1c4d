"""Executing a feed's declarative field mapping: vendor text columns -> unified entity rows.

The output keeps every record. A value that cannot be parsed becomes NA *and* an entry in
`errors` naming the field, the rule and the original text, so validation can quarantine
the record with a reason instead of loading a silent null. A record the feed's rules set
aside (a `where` filter, an empty required value) leaves as `not_applicable` with the rule,
so the ledger can account for it.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd

from edassets.adapters.csv_files import CsvTable
from edassets.adapters.spec import Column, Const, Derived, FeedSpec, FieldSource, ParseContext
from edassets.adapters.transforms import is_present, text
from edassets.handoffs import ParsedBatch, SyncMode, failure_rows, no_failures

_RECORD = "__record_index"
_ARCHIVE_KEY = "__archive_key"


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
    return failure_rows(rows, field=target, rule=rule, value=raw.loc[rows],
                        record_index=frame.loc[rows, _RECORD], archive_key=_row_keys(frame, rows))


def _row_keys(frame: pd.DataFrame, rows: pd.Index) -> pd.Series | None:
    """Per-row archive objects, when the table spans several (API pages, several files)."""
    return frame.loc[rows, _ARCHIVE_KEY] if _ARCHIVE_KEY in frame.columns else None


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
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """One mapping over the frame: (mapped rows, parse failures, not-applicable rows, absent columns)."""
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
    error_frame = pd.concat(errors, ignore_index=True) if errors else no_failures()
    set_aside = []
    for required in feed.required_values:
        # Only an empty value means "nothing to record": an unparsable one stays, with its error.
        failed = frame.index.isin(error_frame.loc[error_frame["field"] == required, "row"])
        empty = mapped[required].isna().to_numpy() & ~failed
        if empty.any():
            rows = mapped.index[empty]
            set_aside.append(failure_rows(np.full(len(rows), -1), field=required, rule=f"no {required}: nothing to record",
                                          record_index=mapped.loc[rows, _RECORD], archive_key=_row_keys(mapped, rows)))
            mapped = mapped[~mapped.index.isin(rows)]
    error_frame = error_frame[error_frame["row"].isin(mapped.index)]
    not_applicable = pd.concat(set_aside, ignore_index=True) if set_aside else no_failures()
    return mapped, error_frame, not_applicable, headers.missing


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
        archive_key: archive object of the feed's own file (lineage), "" when the table
            names its objects per row.
        run_id: the Dagster run doing the parse (lineage).
        sync_mode: how this batch relates to the warehouse.

    Returns:
        The batch; empty when the feed's file is absent. Each source record yields one
        candidate per mapping (`feed.fields`); every candidate is a row, a parse failure of
        a record that never became a row, or not applicable.
    """
    table = tables.get(feed.table)
    if table is None:
        return ParsedBatch(_empty_entity_frame(feed), no_failures(), sync_mode)
    frame = table.frame.copy()
    frame[_RECORD] = table.record_index
    if table.archive_keys is not None:
        frame[_ARCHIVE_KEY] = table.archive_keys
    set_aside = []
    if feed.where is not None:
        where_column, allowed = feed.where
        values = _Headers(frame).find((where_column,)).str.strip()
        belongs = values.str.casefold().isin({a.casefold() for a in allowed}).fillna(False)
        rows = frame.index[~belongs.to_numpy()]
        rule = f"{where_column} is not {' or '.join(sorted(allowed))}: {feed.where_reason}"
        set_aside.append(failure_rows(np.full(len(rows), -1), field=where_column, rule=rule, value=values.loc[rows],
                                      record_index=frame.loc[rows, _RECORD], archive_key=_row_keys(frame, rows)))
        frame = frame[belongs.to_numpy()]
    frame = _apply_joins(feed, frame.reset_index(drop=True), tables)

    parts, error_parts, missing = [], [], []
    offset = 0
    for mapping in feed.fields:
        mapped, errors, not_applicable, absent = _map_once(feed, mapping, frame, context)
        mapped = mapped.reset_index(drop=False, names="__source_row")
        errors = errors.assign(row=errors["row"].map(pd.Series(mapped.index + offset, index=mapped["__source_row"])))
        parts.append(mapped.drop(columns="__source_row"))
        error_parts.append(errors)
        set_aside.append(not_applicable)
        missing.extend(absent)
        offset += len(mapped)
    mapped = pd.concat(parts, ignore_index=True)
    malformed = failure_rows(
        np.full(len(table.malformed), -1),
        field="(record)",
        rule=pd.Series([m.rule for m in table.malformed], dtype="object"),
        record_index=np.array([m.record_index for m in table.malformed], dtype="int64"),
        archive_key=pd.Series(list(table.malformed_keys), dtype="object") if table.malformed_keys else None,
    )
    errors = pd.concat([*error_parts, malformed], ignore_index=True).astype({"row": "int64"})
    return ParsedBatch(
        frame=_finish(feed, mapped, context, archive_key, run_id),
        errors=errors.reset_index(drop=True),
        sync_mode=sync_mode,
        received=len(feed.fields) * len(table.frame) + len(table.malformed),
        not_applicable=pd.concat(set_aside, ignore_index=True) if set_aside else no_failures(),
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
