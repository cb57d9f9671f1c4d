"""The typed hand-offs between stages, and the ledger that accounts for every record.

raw hands parsed a `RawDrop`, parsed hands validated a `ParsedBatch`, validated hands
loaded a `ValidatedBatch`; failures travel as one failure table built by `failure_rows`.
Every stage imports this module and none has to reach "up" into another stage for a type.

The ledger (ARCHITECTURE decision 11): every record a feed receives ends with exactly one
outcome — loaded (new, updated or unchanged), quarantined, duplicate of another record of
the batch, or not applicable (a rule says the record is not this feed's) — and every file
a drop brings is either read by a feed or ignored with its reason. `FeedLedger` holds the
counts and proves the sums; nothing can disappear between raw bytes and the warehouse
without `FeedLedger.imbalance` saying so.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

SyncMode = Literal["snapshot", "incremental", "events", "absent"]
"""How a batch relates to what is already loaded.

snapshot: the batch is everything the source has; rows missing from it are deactivated.
incremental: the batch holds changed rows only (deletions arrive as inactive rows).
events: append-only facts (activity, results); nothing is ever deactivated.
absent: the source said it sent nothing for this feed (a OneRoster manifest `absent`).
"""

STRING = pd.StringDtype("pyarrow")


@dataclass(frozen=True)
class ReceivedFile:
    """One file (or API page) exactly as received.

    Attributes:
        name: file name (zip members lose their folders: OneRoster zips are flat by spec,
            but hand-made zips often wrap the files in one folder).
        data: the bytes.
        container: name of the zip the file came out of, if any.
        archive_key: where the archive keeps it, once archived.
    """

    name: str
    data: bytes
    container: str | None = None
    archive_key: str | None = None

    @property
    def sha256(self) -> str:
        """Hex sha256 of the bytes."""
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file of a drop: read by feeds, or ignored with a reason.

    Attributes:
        name: the file's name as received.
        size: bytes.
        container: the zip it came out of, if any.
        read_by: feeds of the platform that read it; empty when ignored.
        reason: why it was ignored ("" when read).
    """

    name: str
    size: int
    container: str | None = None
    read_by: tuple[str, ...] = ()
    reason: str = ""

    @property
    def ignored(self) -> bool:
        """True when no feed reads the file."""
        return not self.read_by


@dataclass(frozen=True)
class RawDrop:
    """The bytes one raw asset received for one partition.

    Attributes:
        files: data files the feed reads, as received.
        roles: lower-cased expected file name -> names of the received files playing that
            role (a MAP drop may hold one StudentsBySchool file per term).
        containers: zip files they came out of, archived whole so not one received byte is lost.
        missing: file names the feed wanted but the drop lacked.
        inventory: every file the drop brought, with its outcome (the file ledger). The
            files no feed reads travel here with their bytes in `ignored_files`, so they
            are archived too.
        ignored_files: the bytes of the files the inventory marks ignored.
        meta: how the bytes were obtained (API: sync mode, cursor, page URLs and statuses).
    """

    files: tuple[ReceivedFile, ...]
    roles: Mapping[str, tuple[str, ...]]
    containers: tuple[ReceivedFile, ...] = ()
    missing: tuple[str, ...] = ()
    inventory: tuple[FileOutcome, ...] = ()
    ignored_files: tuple[ReceivedFile, ...] = ()
    meta: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def all_read(cls, files: list[ReceivedFile], reader: str, meta: Mapping[str, object]) -> "RawDrop":
        """A drop whose every file is read by one feed (the pages an API feed fetched)."""
        return cls(files=tuple(files), roles={f.name: (f.name,) for f in files},
                   inventory=tuple(FileOutcome(f.name, len(f.data), read_by=(reader,)) for f in files), meta=meta)

    def by_role(self) -> dict[str, list[ReceivedFile]]:
        """Files keyed by the lower-cased name the feed expects (vendors are not consistent about case)."""
        received = {f.name: f for f in self.files}
        return {role: [received[name] for name in names] for role, names in self.roles.items()}

    def file_imbalance(self) -> str | None:
        """Why the file ledger does not balance, or None when every file has one outcome."""
        names = [f.name for f in self.inventory]
        read = sum(1 for f in self.inventory if not f.ignored)
        ignored = len(self.inventory) - read
        unexplained = [f.name for f in self.inventory if f.ignored and not f.reason]
        if unexplained:
            return f"{len(unexplained)} ignored files without a reason"
        stray = [f.name for f in self.files if f.name not in names]
        if self.inventory and stray:
            return f"{len(stray)} files read but missing from the inventory"
        if read + ignored != len(self.inventory):
            return f"files received {len(self.inventory)} != read {read} + ignored {ignored}"
        return None


FAILURE_COLUMNS: tuple[str, ...] = ("row", "lineage_record_index", "field", "rule", "value", "lineage_archive_key")
"""Failure-table columns. `row` is the position in the batch frame, -1 for a record that
never became a row (a malformed CSV line or API page); `lineage_archive_key` is NA where
the row's own lineage (or the batch's file) names the archive object."""

REPORT_COLUMNS: tuple[str, ...] = ("outcome", "lineage_archive_key", "lineage_record_index", "field", "rule", "value")
"""The per-record report an operator opens: every record that did not load, and why."""

_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")


def failure_rows(
    rows: np.ndarray | pd.Index,
    *,
    field: str | pd.Series,
    rule: str | pd.Series,
    value: pd.Series | None = None,
    record_index: np.ndarray | pd.Series | None = None,
    archive_key: pd.Series | None = None,
) -> pd.DataFrame:
    """The one builder of failure tables (FAILURE_COLUMNS), whatever stage found the failure.

    Args:
        rows: positions in the batch frame (-1 for records that never became rows).
        field: the target field at fault, one for all or one per row.
        rule: the rule it broke, one for all or one per row.
        value: the offending text per row (NA when there is none to show).
        record_index: the record's index in its file, when known here.
        archive_key: the record's archive object, when it differs from the batch's.
    """
    count = len(rows)

    def column(values: object, dtype: object) -> pd.Series:
        if values is None:
            return pd.Series([pd.NA] * count, dtype=dtype)
        if isinstance(values, str):
            return pd.Series([values] * count, dtype=dtype)
        return pd.Series(np.asarray(values, dtype=object), dtype=dtype)

    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype="int64"),
            "lineage_record_index": column(record_index, "Int64"),
            "field": column(field, STRING),
            "rule": column(rule, STRING),
            "value": column(value, STRING),
            "lineage_archive_key": column(archive_key, STRING),
        }
    )


def no_failures() -> pd.DataFrame:
    """An empty failure table with the right dtypes."""
    return failure_rows(np.zeros(0, dtype="int64"), field="", rule="")


def spreadsheet_safe(values: pd.Series) -> pd.Series:
    """Neutralise cells a spreadsheet would run as formulas (`=cmd|…`, `@SUM(…)`).

    A report meant for people is opened in Excel; a vendor value starting with `=`, `+`,
    `-`, `@`, tab or CR would become a formula there (OWASP "CSV injection"). A leading
    apostrophe shows the text as text. Plain negative numbers stay as they are.
    """
    text = values.astype(STRING)
    risky = text.str.startswith(_FORMULA_LEAD).fillna(False)
    risky &= ~text.str.fullmatch(r"-\d+(\.\d+)?").fillna(False)
    return text.mask(risky, "'" + text)


def report_csv(report: pd.DataFrame) -> bytes:
    """The report as a CSV a person opens in a spreadsheet: no cell can run as a formula."""
    safe = report.assign(value=spreadsheet_safe(report["value"]), rule=spreadsheet_safe(report["rule"]))
    return safe.to_csv(index=False).encode()


@dataclass(frozen=True)
class ParsedBatch:
    """One feed's records of one partition, in the unified schema, not yet validated.

    Attributes:
        frame: entity columns plus lineage columns, index 0..n-1.
        errors: parse failures (FAILURE_COLUMNS), including records that never became rows.
        sync_mode: how the batch relates to what is loaded.
        received: records the feed received. A feed that unpivots each source record into
            k rows (identifier crosswalk rows) receives k candidates per record; a record
            that never parsed counts once.
        not_applicable: candidates a rule set aside as not this feed's (FAILURE_COLUMNS, the
            rule says which), e.g. an org of type school in the districts feed.
        archive_key: archive object of the feed's own file ("" when absent or several).
        missing_columns: mapped source columns the file did not have at all (a renamed
            vendor column shows up here, not as a thousand mysterious nulls).
        next_cursor: newest modification time fetched (ISO, UTC) for incremental API feeds.
        notes: one line per file read: its records and encoding, or "empty file" /
            "header only" — what a person needs to hear about a file that brought nothing.
    """

    frame: pd.DataFrame
    errors: pd.DataFrame
    sync_mode: SyncMode
    received: int = 0
    not_applicable: pd.DataFrame = field(default_factory=no_failures)
    archive_key: str = ""
    missing_columns: tuple[str, ...] = ()
    next_cursor: str | None = None
    notes: tuple[str, ...] = ()

    def with_notes(self, notes: tuple[str, ...]) -> "ParsedBatch":
        """The same batch, with what the parse stage has to say about its files."""
        return replace(self, notes=notes)

    def with_next_cursor(self, next_cursor: str | None) -> "ParsedBatch":
        """The same batch, carrying the high-water mark its load may commit."""
        return replace(self, next_cursor=next_cursor)


@dataclass(frozen=True)
class GateDecision:
    """The blocking gate's verdict on one validated batch, decided once by the validated stage.

    Attributes:
        passed: the batch may load.
        reasons: why not, one phrase each (empty when passed).
    """

    passed: bool
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the check result and the run summary."""
        return "; ".join(self.reasons) or "within thresholds, every record accounted for"


@dataclass(frozen=True)
class ValidatedBatch:
    """A batch after the gate.

    Attributes:
        rows: rows that passed, ready to load.
        tombstones: key (and lineage) of delta deletions that lack other fields: they
            deactivate the warehouse row by key and write nothing else. None when there are none.
        quarantine: rows that failed, with a `quarantine_reasons` column.
        report: one row per record that will not load (REPORT_COLUMNS): quarantine
            failures, duplicates (naming the record they repeat) and not-applicable records.
        sync_mode: how `rows` relate to the warehouse.
        received: records received.
        quarantined: distinct records rejected.
        duplicates: exact repeats of another record of the batch, set aside.
        not_applicable: records a rule said are not this feed's.
        gate: the blocking gate's decision.
        next_cursor: the incremental cursor the load commits with these rows.
    """

    rows: pd.DataFrame
    quarantine: pd.DataFrame
    report: pd.DataFrame
    sync_mode: SyncMode
    received: int
    quarantined: int
    tombstones: pd.DataFrame | None = None
    duplicates: int = 0
    not_applicable: int = 0
    gate: GateDecision = GateDecision(True)
    next_cursor: str | None = None

    @property
    def quarantine_rate(self) -> float:
        """Rejected records / received records (0 for an empty batch)."""
        return self.quarantined / self.received if self.received else 0.0

    def summary_by_rule(self, limit: int = 5) -> str:
        """The most frequent quarantine failures, e.g. "grade_level: one of the allowed … (12)"."""
        failures = self.report[self.report["outcome"] == "quarantined"]
        if failures.empty:
            return "none"
        counts = (failures["field"] + ": " + failures["rule"]).value_counts().head(limit)
        return "; ".join(f"{reason} ({count})" for reason, count in counts.items())

    def blocking_reasons(self) -> tuple[str, ...]:
        """Why the batch may not load: the gate's reasons and a ledger that does not balance."""
        gate = self.gate.reasons or (() if self.gate.passed else ("the quarantine gate failed",))
        imbalance = self.ledger().imbalance()
        return (*gate, *((f"ledger: {imbalance}",) if imbalance else ()))

    def ledger(self) -> "FeedLedger":
        """The feed's ledger as far as validation knows it (nothing loaded yet)."""
        tombstones = 0 if self.tombstones is None else len(self.tombstones)
        return FeedLedger(received=self.received, passed=len(self.rows) + tombstones, quarantined=self.quarantined,
                          duplicates=self.duplicates, not_applicable=self.not_applicable)


@dataclass(frozen=True)
class FeedLedger:
    """Counts of one feed's outcomes in one partition; `imbalance` proves they add up.

    Attributes:
        received: records the feed received.
        passed: records that passed validation (and so must load).
        quarantined: records held back with reasons.
        duplicates: exact repeats set aside, each naming the record it repeats.
        not_applicable: records a rule set aside as not this feed's.
        inserted: loaded records new to the warehouse.
        updated: loaded records that changed a warehouse row.
        unchanged: loaded records identical to their warehouse row (including tombstones of
            rows already inactive or never loaded).
        tombstones: loaded records that say the entity is gone (written inactive), counted
            among inserted / updated / unchanged too.
        deactivated_missing: warehouse rows a snapshot deactivated because the source no
            longer sends them (not records received, so outside the equation).
        held_back: records received that never reached validation because the run stopped
            before (an upstream gate blocked, a step failed): not lost, they wait in the
            archive for the next run.
        loaded: whether a load ran (False when the gate blocked or the feed was absent).
    """

    received: int
    passed: int
    quarantined: int
    duplicates: int
    not_applicable: int
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    tombstones: int = 0
    deactivated_missing: int = 0
    held_back: int = 0
    loaded: bool = False

    def imbalance(self) -> str | None:
        """Why the sums fail, or None: received = passed + quarantined + duplicates + not
        applicable, and after a load, passed = inserted + updated + unchanged."""
        accounted = self.passed + self.quarantined + self.duplicates + self.not_applicable + self.held_back
        if accounted != self.received:
            return (f"records received {self.received} != passed {self.passed} + quarantined {self.quarantined} "
                    f"+ duplicates {self.duplicates} + not applicable {self.not_applicable}"
                    + (f" + held back {self.held_back}" if self.held_back else ""))
        written = self.inserted + self.updated + self.unchanged
        if self.loaded and written != self.passed:
            return (f"records passed {self.passed} != inserted {self.inserted} + updated {self.updated} "
                    f"+ unchanged {self.unchanged}")
        return None

    def with_load(self, *, inserted: int, updated: int, unchanged: int, tombstones: int,
                  deactivated_missing: int) -> "FeedLedger":
        """The ledger completed by what the load did."""
        return replace(self, inserted=inserted, updated=updated, unchanged=unchanged, tombstones=tombstones,
                       deactivated_missing=deactivated_missing, loaded=True)

    def line(self) -> str:
        """The ledger in one line, counts only (record values can be student PII)."""
        loaded = self.inserted + self.updated + self.unchanged
        parts = [f"received {self.received}"]
        if self.loaded:
            parts.append(f"loaded {loaded} (new {self.inserted}, updated {self.updated}, unchanged {self.unchanged})")
        elif self.held_back:
            parts.append(f"held back {self.held_back}")
        else:
            parts.append(f"passed {self.passed}")
        parts += [f"quarantined {self.quarantined}", f"duplicates {self.duplicates}",
                  f"not applicable {self.not_applicable}",
                  f"deactivated {self.tombstones + self.deactivated_missing}"]
        balance = self.imbalance()
        return ", ".join(parts) + ("" if balance is None else f"; LEDGER DOES NOT BALANCE: {balance}")

    def as_metadata(self) -> dict[str, int]:
        """The counts, for asset metadata and the run summary."""
        return {
            "received": self.received, "passed": self.passed, "quarantined": self.quarantined,
            "duplicates": self.duplicates, "not_applicable": self.not_applicable, "inserted": self.inserted,
            "updated": self.updated, "unchanged": self.unchanged, "tombstones": self.tombstones,
            "deactivated_missing": self.deactivated_missing,
        }
