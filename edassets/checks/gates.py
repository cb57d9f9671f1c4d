"""Asset checks on every validated asset: the quarantine-rate alert and the blocking gate.

Blocking checks only stop downstream steps of the *same run* (DAGSTER_NOTES 3), so the
load re-verifies the gate itself (`ensure_gate_passed`) before touching the warehouse.
"""

import warnings

import dagster as dg

from edassets.adapters.spec import FeedSpec, PlatformSpec
from edassets.assets.partitions import partition_parts
from edassets.checks.references import ReferenceResolver, referenced_batch_ids
from edassets.checks.validation import ValidatedBatch, unresolved_references
from edassets.resources.archive import ArchiveResource
from edassets.resources.io_managers import latest_manifest, read_batch
from edassets.resources.warehouse import WarehouseResource

ALERT_CHECK = "quarantine_rate_alert"
GATE_CHECK = "quarantine_gate"


class BlockedByDataQuality(dg.Failure):
    """The load refused to run because the partition's quarantine gate did not pass."""


def _latest_validated(context: dg.AssetCheckExecutionContext, archive: ArchiveResource, key: dg.AssetKey) -> ValidatedBatch:
    store = archive.store()
    batch = read_batch(store, latest_manifest(context.instance, store, key, context.partition_key))
    if not isinstance(batch, ValidatedBatch):
        raise TypeError(f"{key.to_user_string()} did not store a validated batch")
    return batch


def _rate_metadata(batch: ValidatedBatch) -> dict[str, object]:
    return {
        "received": batch.received,
        "quarantined": batch.quarantined,
        "quarantine_rate": dg.MetadataValue.float(round(batch.quarantine_rate, 6)),
        "top_failures": batch.summary_by_rule(),
    }


def build_quarantine_checks(
    spec: PlatformSpec,
    feed: FeedSpec,
    validated_key: dg.AssetKey,
    referenced: dict[str, dg.AssetKey],
    partitions: dg.PartitionsDefinition,
) -> list[dg.AssetChecksDefinition]:
    """The alert (WARN) and gate (blocking ERROR) checks of one validated asset.

    Args:
        spec: the platform, for its thresholds.
        feed: the feed checked.
        validated_key: its validated asset.
        referenced: referenced entity name -> validated asset of the same platform that
            produces it, re-read so a reference that vanished since validation is caught.
        partitions: the asset's partitions (checks must share them, DAGSTER_NOTES 2).
    """
    thresholds = spec.thresholds
    # Partitioned checks are "preview" in Dagster 1.13; the version is pinned and a test
    # proves a failing gate stops the load of its own partition only (DAGSTER_NOTES 2).
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)

    @dg.asset_check(
        asset=validated_key,
        name=ALERT_CHECK,
        partitions_def=partitions,
        description=f"Warns when more than {thresholds.alert:.0%} of the partition's records were quarantined.",
    )
    def alert(context: dg.AssetCheckExecutionContext, archive: ArchiveResource) -> dg.AssetCheckResult:
        batch = _latest_validated(context, archive, validated_key)
        return dg.AssetCheckResult(
            passed=batch.quarantine_rate <= thresholds.alert,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={**_rate_metadata(batch), "threshold": thresholds.alert},
        )

    @dg.asset_check(
        asset=validated_key,
        name=GATE_CHECK,
        partitions_def=partitions,
        blocking=True,
        description=(
            f"Blocks the load when more than {thresholds.block:.0%} of the records were quarantined "
            "or a passed row references something that exists neither in the batch nor the warehouse."
        ),
    )
    def gate(
        context: dg.AssetCheckExecutionContext, archive: ArchiveResource, warehouse: WarehouseResource
    ) -> dg.AssetCheckResult:
        batch = _latest_validated(context, archive, validated_key)
        district, _ = partition_parts(context.partition_key)
        batches = {entity: _latest_validated(context, archive, key) for entity, key in referenced.items()}
        batch_ids = referenced_batch_ids(feed, batches)
        resolver = ReferenceResolver(batch_ids, warehouse, district)
        unresolved = unresolved_references(feed.entity, batch.rows, resolver.exists)
        too_many = batch.quarantine_rate > thresholds.block
        reasons = []
        if too_many:
            reasons.append(f"{batch.quarantine_rate:.1%} quarantined > {thresholds.block:.0%} block threshold")
        if not unresolved.empty:
            reasons.append(f"{len(unresolved)} passed rows have unresolved references")
        return dg.AssetCheckResult(
            passed=not reasons,
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(reasons) or "within thresholds, every reference resolves",
            metadata={**_rate_metadata(batch), "threshold": thresholds.block, "unresolved_references": len(unresolved)},
        )

    return [alert, gate]


def ensure_gate_passed(instance: dg.DagsterInstance, validated_key: dg.AssetKey, partition: str) -> None:
    """Fail unless the latest gate evaluation of this partition passed on the latest validated data.

    Raises:
        BlockedByDataQuality: never evaluated, failed, or evaluated on an older materialization.
    """
    check_key = dg.AssetCheckKey(validated_key, GATE_CHECK)
    infos = instance.event_log_storage.get_asset_check_partition_info([check_key], partition_keys=[partition])
    info = infos[0] if infos else None
    where = f"{validated_key.to_user_string()} partition {partition}"
    if info is None or info.latest_execution_status.value == "PLANNED":
        raise BlockedByDataQuality(f"blocked by data quality: the quarantine gate of {where} has not been evaluated; materialize validated first")
    if info.latest_execution_status.value != "SUCCEEDED":
        raise BlockedByDataQuality(f"blocked by data quality: the quarantine gate of {where} failed; fix the source data and re-materialize validated")
    if not info.is_current:
        raise BlockedByDataQuality(f"blocked by data quality: the quarantine gate of {where} ran on an older materialization; re-run the gate")
