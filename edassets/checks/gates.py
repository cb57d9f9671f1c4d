"""The checks every feed carries, emitted by the step that computes them.

- `file_ledger` (raw, blocking): every file of the drop was read by a feed or ignored
  with its reason.
- `quarantine_rate_alert` (validated, WARN) and `quarantine_gate` (validated, blocking):
  the gate decided once by validation — the quarantine rate under the block threshold
  and every record of the batch accounted for.
- `ledger` (loaded, blocking): records received = loaded + quarantined + duplicates + not
  applicable, and every row that passed was written.

Blocking checks only stop downstream steps of the *same run* (DAGSTER_NOTES 3), so the
load re-verifies the gate itself (`ensure_gate_passed`) before touching the warehouse, from
the decision the validated batch carries.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from edassets.adapters.spec import Thresholds
from edassets.handoffs import FeedLedger, RawDrop, ValidatedBatch

FILE_LEDGER_CHECK = "file_ledger"
ALERT_CHECK = "quarantine_rate_alert"
GATE_CHECK = "quarantine_gate"
LEDGER_CHECK = "ledger"


class BlockedByDataQuality(dg.Failure):
    """The load refused to run because the partition's quarantine gate did not pass."""


def file_ledger_check(key: dg.AssetKey, drop: RawDrop) -> dg.AssetCheckResult:
    """files received = files read + files ignored (with reasons), for one raw step."""
    imbalance = drop.file_imbalance()
    ignored = {f.name: f.reason for f in drop.inventory if f.ignored}
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=FILE_LEDGER_CHECK,
        passed=imbalance is None,
        severity=dg.AssetCheckSeverity.ERROR,
        description=imbalance or f"{len(drop.inventory)} files received: {len(drop.inventory) - len(ignored)} read, "
                                 f"{len(ignored)} ignored",
        metadata={"files_received": len(drop.inventory), "files_read": len(drop.inventory) - len(ignored),
                  "files_ignored": dg.MetadataValue.json(ignored)},
    )


def file_ledger_check_spec(key: dg.AssetKey, description: str) -> dg.AssetCheckSpec:
    """The file ledger of a raw asset."""
    return dg.AssetCheckSpec(FILE_LEDGER_CHECK, asset=key, blocking=True, description=description)


def gate_check_specs(key: dg.AssetKey, thresholds: Thresholds) -> list[dg.AssetCheckSpec]:
    """The alert and the blocking gate of a validated asset."""
    return [
        dg.AssetCheckSpec(ALERT_CHECK, asset=key,
                          description=f"Warns when more than {thresholds.alert:.0%} of the partition's records "
                                      "were quarantined."),
        dg.AssetCheckSpec(GATE_CHECK, asset=key, blocking=True,
                          description=f"Blocks the load when more than {thresholds.block:.0%} of the records were "
                                      "quarantined or a record of the batch has no outcome."),
    ]


def gate_results(key: dg.AssetKey, batch: ValidatedBatch, thresholds: Thresholds) -> Iterator[dg.AssetCheckResult]:
    """The alert and gate results of one validated batch, from what validation decided."""
    counts: dict[str, Any] = {
        "received": batch.received,
        "quarantined": batch.quarantined,
        "quarantine_rate": dg.MetadataValue.float(round(batch.quarantine_rate, 6)),
        "top_failures": batch.summary_by_rule(),
    }
    yield dg.AssetCheckResult(
        asset_key=key, check_name=ALERT_CHECK, passed=batch.quarantine_rate <= thresholds.alert,
        severity=dg.AssetCheckSeverity.WARN, metadata={**counts, "threshold": thresholds.alert},
    )
    reasons = batch.blocking_reasons()
    yield dg.AssetCheckResult(
        asset_key=key, check_name=GATE_CHECK, passed=not reasons, severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(reasons) or batch.gate.describe(),
        metadata={**counts, "threshold": thresholds.block},
    )


def ledger_check_spec(key: dg.AssetKey) -> dg.AssetCheckSpec:
    """The record ledger of a loaded asset."""
    return dg.AssetCheckSpec(LEDGER_CHECK, asset=key, blocking=True,
                             description="Every record received has exactly one outcome: loaded (new, updated, "
                                         "unchanged), quarantined, duplicate or not applicable.")


def record_ledger_check(key: dg.AssetKey, ledger: FeedLedger) -> dg.AssetCheckResult:
    """The conservation equation of one feed's partition, proved after its load."""
    imbalance = ledger.imbalance()
    return dg.AssetCheckResult(
        asset_key=key, check_name=LEDGER_CHECK, passed=imbalance is None, severity=dg.AssetCheckSeverity.ERROR,
        description=imbalance or ledger.line(), metadata=dict(ledger.as_metadata()),
    )


def ensure_gate_passed(batch: ValidatedBatch, validated_key: dg.AssetKey, partition: str) -> None:
    """Fail unless the validated batch the load is about to read passed its gate.

    The decision travels inside the batch (validation took it once), so a later run that
    selects only `loaded` is held to the same verdict as the run that validated.

    Raises:
        BlockedByDataQuality: the gate failed, or the batch's ledger does not balance.
    """
    reasons = batch.blocking_reasons()
    if not reasons:
        return
    why = "; ".join(reasons)
    raise BlockedByDataQuality(f"blocked by data quality: the quarantine gate of {validated_key.to_user_string()} "
                               f"partition {partition} failed ({why}); fix the source data and re-materialize validated")
