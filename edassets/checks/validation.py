"""The validation gate: split a parsed batch into rows that may load and rows to quarantine.

Every rejected record leaves with a reason per failure (field, rule, offending value,
archive object, record index), so an operator can fix the source instead of guessing.
Checks run lazily over the whole batch (pandera), never stopping at the first failure.
"""

from collections.abc import Callable

import numpy as np
import pandas as pd
import pandera.pandas as pa

from edassets.adapters.spec import Crosswalk, FeedSpec, Thresholds
from edassets.handoffs import (
    REPORT_COLUMNS,
    STRING,
    GateDecision,
    ParsedBatch,
    ValidatedBatch,
    failure_rows,
    no_failures,
)
from edassets.schema.dataframes import dataframe_schema
from edassets.schema.model import LINEAGE_COLUMNS, Entity

ReferenceCheck = Callable[[str, str | None, pd.Series], pd.Series]
"""(referenced entity, column or None for its id, ids) -> boolean mask: which ids exist in the batch or warehouse."""

PersonLookup = Callable[[pd.Series, tuple[str, ...]], pd.Series]
"""(platform person ids, crosswalk id types) -> canonical person ids, NA where unmatched."""


def _report_rows(rows: pd.Index, field: str | pd.Series, rule: str | pd.Series, value: pd.Series) -> pd.DataFrame:
    return failure_rows(rows, field=field, rule=rule, value=value)


def _schema_failures(entity: Entity, feed: FeedSpec, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        dataframe_schema(entity, feed.bounds).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return no_failures()
    if cases["index"].isna().any():
        # A failure not tied to a row (a missing column) is a bug in the mapping, not bad data.
        raise ValueError(f"{entity.name}: batch-level schema failure: {cases[cases['index'].isna()].head(3).to_dict('records')}")
    cases = cases.astype({"index": "int64"})
    uniqueness = cases["check"] == "multiple_fields_uniqueness"
    duplicates = cases[uniqueness].drop_duplicates(subset="index")
    others = cases[~uniqueness]
    key_text = ", ".join(entity.key)
    key_frame = frame.loc[duplicates["index"], list(entity.key)].astype(STRING).fillna("")
    key_values = key_frame.iloc[:, 0].str.cat([key_frame[c] for c in key_frame.columns[1:]], sep="|")
    rules = others["check"].astype(STRING).replace({"not_nullable": "required", "dtype": "type"}, regex=False)
    return pd.concat(
        [
            _report_rows(pd.Index(others["index"]), others["column"].astype(STRING).reset_index(drop=True),
                         rules.reset_index(drop=True), others["failure_case"].astype(STRING).reset_index(drop=True)),
            _report_rows(pd.Index(duplicates["index"]), f"({key_text})", "duplicate natural key",
                         key_values.reset_index(drop=True)),
        ],
        ignore_index=True,
    )


def unresolved_references(entity: Entity, frame: pd.DataFrame, reference_exists: ReferenceCheck) -> pd.DataFrame:
    """Rows whose references name nothing in the batch or the warehouse (report rows)."""
    parts = []
    for reference in entity.references:
        values = frame[reference.field]
        present = values.dropna()
        if present.empty:
            continue
        exists = np.logical_or.reduce(
            [reference_exists(entity, column, present).to_numpy(dtype=bool) for entity, column in reference.targets]
        )
        dangling = present[~exists]
        parts.append(_report_rows(dangling.index, reference.field,
                                  f"dangling reference: no such {reference.entity} in this batch or the warehouse",
                                  dangling))
    return pd.concat(parts, ignore_index=True) if parts else no_failures()


def _resolve_persons(crosswalk: Crosswalk, frame: pd.DataFrame, lookup: PersonLookup) -> tuple[pd.DataFrame, pd.DataFrame]:
    external = frame[crosswalk.column]
    resolved = lookup(external, crosswalk.id_types).astype(STRING)
    unmatched = external.notna() & resolved.isna()
    failures = _report_rows(unmatched[unmatched].index, crosswalk.column,
                            f"unmatched person: no roster person with this {' or '.join(crosswalk.id_types)}",
                            external[unmatched])
    return frame.assign(**{crosswalk.column: resolved}), failures


def _duplicates(frame: pd.DataFrame) -> tuple[pd.Series, pd.DataFrame]:
    """(mask of exact repeats, their ledger rows naming the record each repeats)."""
    business = [c for c in frame.columns if c not in LINEAGE_COLUMNS]
    repeated = frame.duplicated(subset=business, keep="first")
    if not repeated.any():
        return repeated, no_failures()
    group = frame.groupby(business, dropna=False, sort=False).ngroup()
    first = pd.Series(frame.index, index=frame.index).groupby(group).transform("first")
    originals = first[repeated]
    original_index = frame.loc[originals, "lineage_record_index"].astype("string").to_numpy()
    original_key = frame.loc[originals, "lineage_archive_key"].to_numpy()
    same_object = original_key == frame.loc[repeated, "lineage_archive_key"].to_numpy()
    named = np.where(same_object, "record " + original_index, "record " + original_index + " of " + original_key)
    rows = frame.index[repeated]
    return repeated, failure_rows(rows, field="(record)", rule=pd.Series("exact repeat of " + named, dtype="object"))


def _tombstone_rows(entity: Entity, batch: ParsedBatch) -> pd.Series:
    """Rows of a delta that say the record is gone (OneRoster `status=tobedeleted`)."""
    if batch.sync_mode != "incremental":
        return pd.Series(False, index=batch.frame.index)
    return entity.tombstones(batch.frame)


def _gate(received: int, quarantined: int, thresholds: Thresholds) -> GateDecision:
    # bad / total, not 1 - good / total: 1 - 19/20 = 0.050000000000000044 > 0.05.
    rate = quarantined / received if received else 0.0
    if rate > thresholds.block:
        return GateDecision(False, (f"{rate:.1%} quarantined > {thresholds.block:.0%} block threshold",))
    return GateDecision(True)


def validate_batch(
    feed: FeedSpec,
    batch: ParsedBatch,
    *,
    reference_exists: ReferenceCheck,
    person_lookup: PersonLookup | None = None,
    thresholds: Thresholds | None = None,
) -> ValidatedBatch:
    """Run the whole gate over one parsed batch, once: every record leaves with one outcome.

    Args:
        feed: the feed the batch belongs to.
        batch: parsed rows plus parse errors.
        reference_exists: tells which referenced ids exist (batch or warehouse).
        person_lookup: resolves platform person ids through the crosswalk; required when
            the feed declares a crosswalk.
        thresholds: the platform's gates; the blocking decision is taken here and nowhere else.

    Returns:
        The split batch: rows to load, key-only tombstones, quarantine with its reasons,
        and the report of every record that will not load (quarantined, duplicate, not
        applicable).
    """
    entity = feed.entity
    repeated, duplicates = _duplicates(batch.frame)
    # Filtering copies every column: at 600,000 rows that is the step's peak, so a batch
    # with nothing to set aside (the usual case) is used as it is.
    frame = batch.frame[~repeated.to_numpy()] if repeated.any() else batch.frame
    parse_errors = batch.errors[(batch.errors["row"] < 0) | batch.errors["row"].isin(frame.index)]

    failures = [parse_errors]
    if feed.crosswalk is not None:
        if person_lookup is None:
            raise ValueError(f"feed {feed.name} needs a person lookup for its crosswalk")
        frame, unmatched = _resolve_persons(feed.crosswalk, frame, person_lookup)
        failures.append(unmatched)
    schema_failures = _schema_failures(entity, feed, frame)
    # A value that failed to parse is NA now; "required" on top of the parse error says nothing new.
    already = pd.MultiIndex.from_frame(pd.concat(failures)[["row", "field"]].astype({"field": object}))
    repeated_required = (schema_failures["rule"] == "required") & pd.MultiIndex.from_frame(
        schema_failures[["row", "field"]].astype({"field": object})).isin(already)
    failures.append(schema_failures[~repeated_required.to_numpy()])
    failures.append(unresolved_references(entity, frame, reference_exists))
    report = pd.concat(failures, ignore_index=True)

    # A delta's deletion needs only its key: what else it lacks or misnames does not matter,
    # it is deactivated by key (a tombstone without a role once blocked a whole feed).
    tombstone = _tombstone_rows(entity, batch).reindex(frame.index, fill_value=False)
    # Its key must still be there and unique: "(district_id, …)" names the duplicate-key failure.
    needed = [*entity.tombstone_required, f"({', '.join(entity.key)})"]
    excused = report["row"].isin(frame.index[tombstone.to_numpy()]) & ~report["field"].isin(needed)
    key_only = pd.Index(report.loc[excused, "row"].unique())
    report = report[~excused.to_numpy()]

    bad_rows = pd.Index(report.loc[report["row"] >= 0, "row"].unique())
    key_only = key_only.difference(bad_rows)
    never_parsed = report.loc[report["row"] < 0, ["lineage_record_index", "lineage_archive_key"]].drop_duplicates()
    reasons = (report["field"] + ": " + report["rule"]).groupby(report["row"]).agg("; ".join)
    quarantine = frame.loc[bad_rows].assign(quarantine_reasons=reasons.reindex(bad_rows).to_numpy())
    quarantined = len(bad_rows) + len(never_parsed)
    received = batch.received or len(batch.frame) + len(never_parsed)
    held_back = bad_rows.union(key_only)
    return ValidatedBatch(
        rows=frame.drop(index=held_back) if len(held_back) else frame,
        tombstones=frame.loc[key_only, list(entity.tombstone_required)] if len(key_only) else None,
        quarantine=quarantine.astype({"quarantine_reasons": STRING}),
        report=_report(report, duplicates, batch, frame),
        sync_mode=batch.sync_mode,
        received=received,
        quarantined=quarantined,
        duplicates=len(duplicates),
        not_applicable=len(batch.not_applicable),
        gate=_gate(received, quarantined, thresholds or Thresholds()),
        next_cursor=batch.next_cursor,
    )


def _report(failures: pd.DataFrame, duplicates: pd.DataFrame, batch: ParsedBatch, frame: pd.DataFrame) -> pd.DataFrame:
    """Every record that will not load, located at its archive object and record index."""
    parts = [
        _locate(failures, frame, batch.archive_key).assign(outcome="quarantined"),
        _locate(duplicates, batch.frame, batch.archive_key).assign(outcome="duplicate"),
        _locate(batch.not_applicable, frame, batch.archive_key).assign(outcome="not applicable"),
    ]
    report = pd.concat(parts, ignore_index=True)[list(REPORT_COLUMNS)].astype({"outcome": STRING})
    return report.sort_values(["lineage_archive_key", "lineage_record_index"], kind="stable").reset_index(drop=True)


def _locate(report: pd.DataFrame, frame: pd.DataFrame, archive_key: str) -> pd.DataFrame:
    """Point every report row at its archive object and record index."""
    in_frame = report["row"] >= 0
    rows = report.loc[in_frame, "row"]
    located = report.assign(
        lineage_archive_key=report["lineage_archive_key"].astype(STRING).fillna(archive_key),
        lineage_record_index=report["lineage_record_index"].astype("Int64"),
    )
    located.loc[in_frame, "lineage_archive_key"] = frame.loc[rows, "lineage_archive_key"].to_numpy()
    located.loc[in_frame, "lineage_record_index"] = frame.loc[rows, "lineage_record_index"].to_numpy()
    return located
