"""The validation gate: split a parsed batch into rows that may load and rows to quarantine.

Every rejected record leaves with a reason per failure (field, rule, offending value,
archive object, record index), so an operator can fix the source instead of guessing.
Checks run lazily over the whole batch (pandera), never stopping at the first failure.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from edassets.adapters.mapping import ParsedBatch
from edassets.adapters.spec import Crosswalk, FeedSpec, SyncMode
from edassets.schema.dataframes import dataframe_schema
from edassets.schema.model import LINEAGE_COLUMNS, Entity

_STRING = pd.StringDtype("pyarrow")

REPORT_COLUMNS: tuple[str, ...] = ("lineage_archive_key", "lineage_record_index", "field", "rule", "value")

ReferenceCheck = Callable[[str, str | None, pd.Series], pd.Series]
"""(referenced entity, column or None for its id, ids) -> boolean mask: which ids exist in the batch or warehouse."""

PersonLookup = Callable[[pd.Series, tuple[str, ...]], pd.Series]
"""(platform person ids, crosswalk id types) -> canonical person ids, NA where unmatched."""


@dataclass(frozen=True)
class ValidatedBatch:
    """A batch after the gate.

    Attributes:
        rows: rows that passed, ready to load.
        quarantine: rows that failed, with a `quarantine_reasons` column.
        report: one row per failure (REPORT_COLUMNS), including records that never parsed.
        sync_mode: how `rows` relate to the warehouse.
        received: records received.
        quarantined: distinct records rejected.
        duplicates_dropped: exact repeats of another record, dropped silently (vendors send
            them; they carry no information and must not inflate the quarantine rate).
        next_cursor: the incremental cursor the load commits with these rows.
    """

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    report: pd.DataFrame
    sync_mode: SyncMode
    received: int
    quarantined: int
    duplicates_dropped: int = 0
    next_cursor: str | None = None

    @property
    def quarantine_rate(self) -> float:
        """Rejected records / received records (0 for an empty batch)."""
        return self.quarantined / self.received if self.received else 0.0

    def summary_by_rule(self, limit: int = 5) -> str:
        """The most frequent failures, e.g. "grade_level: one of the allowed … (12)"."""
        if self.report.empty:
            return "none"
        counts = (self.report["field"] + ": " + self.report["rule"]).value_counts().head(limit)
        return "; ".join(f"{reason} ({count})" for reason, count in counts.items())


def _report_rows(rows: pd.Index, field: str | pd.Series, rule: str | pd.Series, value: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": rows.to_numpy(dtype="int64"),
            "field": field if isinstance(field, pd.Series) else [field] * len(rows),
            "rule": rule if isinstance(rule, pd.Series) else [rule] * len(rows),
            "value": value.astype(_STRING).to_numpy(),
            "lineage_record_index": pd.NA,
        }
    ).astype({"field": _STRING, "rule": _STRING, "value": _STRING, "lineage_record_index": "Int64"})


def _no_failures() -> pd.DataFrame:
    return _report_rows(pd.Index([]), "", "", pd.Series([], dtype=_STRING))


def _schema_failures(entity: Entity, feed: FeedSpec, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        dataframe_schema(entity, feed.bounds).validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return _no_failures()
    if cases["index"].isna().any():
        # A failure not tied to a row (a missing column) is a bug in the mapping, not bad data.
        raise ValueError(f"{entity.name}: batch-level schema failure: {cases[cases['index'].isna()].head(3).to_dict('records')}")
    cases = cases.astype({"index": "int64"})
    uniqueness = cases["check"] == "multiple_fields_uniqueness"
    duplicates = cases[uniqueness].drop_duplicates(subset="index")
    others = cases[~uniqueness]
    key_text = ", ".join(entity.key)
    key_frame = frame.loc[duplicates["index"], list(entity.key)].astype(_STRING).fillna("")
    key_values = key_frame.iloc[:, 0].str.cat([key_frame[c] for c in key_frame.columns[1:]], sep="|")
    rules = others["check"].astype(_STRING).replace({"not_nullable": "required", "dtype": "type"}, regex=False)
    return pd.concat(
        [
            _report_rows(pd.Index(others["index"]), others["column"].astype(_STRING).reset_index(drop=True),
                         rules.reset_index(drop=True), others["failure_case"].astype(_STRING).reset_index(drop=True)),
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
    return pd.concat(parts, ignore_index=True) if parts else _no_failures()


def _resolve_persons(crosswalk: Crosswalk, frame: pd.DataFrame, lookup: PersonLookup) -> tuple[pd.DataFrame, pd.DataFrame]:
    external = frame[crosswalk.column]
    resolved = lookup(external, crosswalk.id_types).astype(_STRING)
    unmatched = external.notna() & resolved.isna()
    failures = _report_rows(unmatched[unmatched].index, crosswalk.column,
                            f"unmatched person: no roster person with this {' or '.join(crosswalk.id_types)}",
                            external[unmatched])
    return frame.assign(**{crosswalk.column: resolved}), failures


def validate_batch(
    feed: FeedSpec,
    batch: ParsedBatch,
    *,
    reference_exists: ReferenceCheck,
    person_lookup: PersonLookup | None = None,
) -> ValidatedBatch:
    """Run the whole gate over one parsed batch.

    Args:
        feed: the feed the batch belongs to.
        batch: parsed rows plus parse errors.
        reference_exists: tells which referenced ids exist (batch or warehouse).
        person_lookup: resolves platform person ids through the crosswalk; required when
            the feed declares a crosswalk.

    Returns:
        The split batch with its per-record report.
    """
    entity = feed.entity
    frame = batch.frame
    business = [c for c in frame.columns if c not in LINEAGE_COLUMNS]
    repeated = frame.duplicated(subset=business, keep="first")
    frame = frame[~repeated]
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

    bad_rows = pd.Index(report.loc[report["row"] >= 0, "row"].unique())
    never_parsed = report.loc[report["row"] < 0, "lineage_record_index"].nunique()
    reasons = (report["field"] + ": " + report["rule"]).groupby(report["row"]).agg("; ".join)
    quarantine = frame.loc[bad_rows].assign(quarantine_reasons=reasons.reindex(bad_rows).to_numpy())
    return ValidatedBatch(
        rows=frame.drop(index=bad_rows),
        quarantine=quarantine.astype({"quarantine_reasons": _STRING}),
        report=_locate(report, frame, batch.archive_key),
        sync_mode=batch.sync_mode,
        received=batch.records,
        quarantined=len(bad_rows) + never_parsed,
        duplicates_dropped=int(repeated.sum()),
        next_cursor=batch.next_cursor,
    )


def _locate(report: pd.DataFrame, frame: pd.DataFrame, archive_key: str) -> pd.DataFrame:
    """Point every report row at its archive object and record index."""
    in_frame = report["row"] >= 0
    rows = report.loc[in_frame, "row"]
    own_keys = report["lineage_archive_key"] if "lineage_archive_key" in report else pd.Series(pd.NA, index=report.index)
    located = report.assign(
        lineage_archive_key=own_keys.astype(_STRING).fillna(archive_key),
        lineage_record_index=report["lineage_record_index"].astype("Int64"),
    )
    located.loc[in_frame, "lineage_archive_key"] = frame.loc[rows, "lineage_archive_key"].to_numpy()
    located.loc[in_frame, "lineage_record_index"] = frame.loc[rows, "lineage_record_index"].to_numpy()
    return located[list(REPORT_COLUMNS)].sort_values("lineage_record_index", kind="stable").reset_index(drop=True)
