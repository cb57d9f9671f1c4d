"""The factory: a platform spec in, its partitioned raw → parsed → validated → loaded graph out.

This is the only place provider assets get Dagster decorators. One small builder per stage
(no late-binding closures in loops: each builder call binds its own spec and feed).

Checks are emitted by the step that computes them (`check_specs`): the raw step proves its
file ledger, the validated step decides the quarantine gate once, the loaded step proves
the record ledger. No second step re-reads a batch to re-derive what the stage knew.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import dagster as dg

from edassets.adapters.fetch import PageArchiveNeeded, fetch_feed, plan_fetch
from edassets.adapters.file_drop import DropError, DropLimits, read_drop
from edassets.adapters.http import RateLimited, UpstreamUnavailable
from edassets.adapters.parse import parse_drop
from edassets.adapters.spec import FeedSpec, ParseContext, PlatformSpec
from edassets.assets.partitions import partition_parts
from edassets.checks.gates import (
    ensure_gate_passed,
    file_ledger_check,
    file_ledger_check_spec,
    gate_check_specs,
    gate_results,
    ledger_check_spec,
    record_ledger_check,
)
from edassets.checks.references import ReferenceResolver, referenced_batch_ids, referenced_columns
from edassets.checks.validation import validate_batch
from edassets.handoffs import ParsedBatch, RawDrop, ValidatedBatch
from edassets.resources.archive import ArchiveResource
from edassets.resources.districts import DistrictRegistryResource, RegistryError
from edassets.resources.dropbox import DropboxResource
from edassets.resources.io_managers import ROW_COLUMNS_METADATA, archive_drop, stage_key
from edassets.resources.warehouse import CursorAdvance, MassDeactivationError, WarehouseResource

RAW_IO_MANAGER = "raw_io_manager"
BATCH_IO_MANAGER = "batch_io_manager"


def asset_key(platform: str, stage: str, feed: str) -> dg.AssetKey:
    """The key `[platform, stage, feed]` every provider asset has."""
    return dg.AssetKey([platform, stage, feed])


class DropConfig(dg.Config):
    """Where the raw asset reads the district's files from.

    Attributes:
        paths: files, folders or zips; empty means the district's dropbox folder.
        max_drop_bytes: refuse a drop that expands to more bytes than this (zip bombs).
        max_drop_files: refuse a drop that unpacks to more files than this.
    """

    paths: list[str] = []
    max_drop_bytes: int = DropLimits.max_bytes
    max_drop_files: int = DropLimits.max_files


@dataclass(frozen=True)
class PlatformAssets:
    """Everything the factory builds for one platform (its checks travel inside the assets)."""

    assets: list[dg.AssetsDefinition]


def _referenced_feeds(spec: PlatformSpec, feed: FeedSpec) -> dict[str, FeedSpec]:
    """Referenced entity name -> the feed of the same platform producing it."""
    producers = {f.entity.name: f for f in spec.feeds if f is not feed}
    targets = {entity for r in feed.entity.references for entity, _ in r.targets}
    return {entity: producers[entity] for entity in sorted(targets) if entity in producers}


def _raw_file_asset(spec: PlatformSpec, feed: FeedSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = asset_key(spec.name, "raw", feed.name)
    wanted = feed.files + ((spec.manifest.file,) if spec.manifest else ())

    @dg.asset(
        key=key,
        partitions_def=partitions,
        io_manager_key=RAW_IO_MANAGER,
        group_name=spec.name,
        kinds=set(spec.kinds),
        pool=spec.name,
        check_specs=[file_ledger_check_spec(key, "Every file of the drop was read by a feed or ignored with its reason.")],
        description=f"{spec.title}: the bytes of {', '.join(wanted)} exactly as received (and every other file of "
                    "the drop, with why it is ignored), archived write-once.",
    )
    def raw(context: dg.AssetExecutionContext, config: DropConfig, dropbox: DropboxResource):  # noqa: ANN202 - yields
        district, day = partition_parts(context.partition_key)
        paths = config.paths or dropbox.paths_for(spec.name, district, day)
        if not paths:
            raise dg.Failure(f"no files for {spec.name} district {district} on {day}: pass paths or fill the dropbox")
        try:
            drop = read_drop(paths, spec, feed, DropLimits(config.max_drop_bytes, config.max_drop_files))
        except DropError as error:
            raise dg.Failure(f"{spec.name}/{feed.name}: {error}") from None
        ignored = [f for f in drop.inventory if f.ignored]
        context.log.info(f"{spec.name}/{feed.name} {context.partition_key}: received {len(drop.inventory)} files, "
                         f"this feed reads {len(drop.files)}, {len(ignored)} ignored"
                         + (f", missing {', '.join(drop.missing)}" if drop.missing else ""))
        yield dg.Output(drop)
        yield file_ledger_check(key, drop)

    return raw


def _raw_api_asset(spec: PlatformSpec, feed: FeedSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    endpoint, api = feed.endpoint, spec.api
    if api is None:
        raise ValueError(f"{spec.name}/{feed.name} is not an API feed")
    fetched = endpoint.path if endpoint else "the pages its custom fetch yields"

    key = asset_key(spec.name, "raw", feed.name)

    @dg.asset(
        key=key,
        partitions_def=partitions,
        io_manager_key=RAW_IO_MANAGER,
        group_name=spec.name,
        kinds=set(spec.kinds),
        pool=spec.name,
        check_specs=[file_ledger_check_spec(key, "Every page fetched was archived and read.")],
        # Outages outlast the client's own bounded retries; come back later, with jitter.
        retry_policy=dg.RetryPolicy(max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS),
        description=f"{spec.title}: every page of {fetched} exactly as received, archived write-once.",
    )
    def raw(
        context: dg.AssetExecutionContext,
        districts: DistrictRegistryResource,
        warehouse: WarehouseResource,
        archive: ArchiveResource,
    ):  # noqa: ANN202 - yields
        district_id, _ = partition_parts(context.partition_key)
        district = districts.district(district_id)
        base_url = district.endpoints.get(spec.name) or api.default_base_url
        if not base_url:
            raise dg.Failure(f"district {district_id} has no {spec.name} endpoint in the registry", allow_retries=False)
        try:
            credentials = district.resolve_credentials(spec.name)
        except RegistryError as error:
            raise dg.Failure(str(error), allow_retries=False) from None
        cursor = warehouse.cursor(spec.name, feed.name, district_id) if endpoint and endpoint.incremental else None
        plan = plan_fetch(feed, cursor)
        try:
            drop = fetch_feed(spec, feed, district_id=district_id, base_url=base_url, credentials=credentials, plan=plan)
        except PageArchiveNeeded as bad:
            partition = str(context.partition_key)
            base = stage_key("raw-failed", spec.name, feed.name, partition, context.run.run_id)
            manifest_key, _ = archive_drop(archive.store(), base, bad.drop, platform=spec.name, partition=partition,
                                           run_id=context.run.run_id)
            raise dg.Failure(f"{bad.reason}; every page received, the bad one included, is archived: {manifest_key}",
                             allow_retries=False) from None
        except (UpstreamUnavailable, RateLimited) as error:
            raise dg.Failure(str(error)) from None
        except Exception as error:  # noqa: BLE001 - only outages are worth Dagster's retries
            # A missing credential or a rejected request fails the same way in 30 s: say why now.
            raise dg.Failure(f"{spec.name}/{feed.name}: {type(error).__name__}: {error}", allow_retries=False) from None
        pages = cast(list[dict[str, Any]], drop.meta.get("pages", []))
        # A custom fetch's pages are counted in records only when they are read.
        records = f", {sum(int(page['records']) for page in pages)} records" if endpoint else ""
        since = f" since {drop.meta['cursor']}" if plan.cursor else ""
        context.log.info(f"{spec.name}/{feed.name} {context.partition_key}: {len(drop.files)} pages{records} "
                         f"({plan.sync_mode}{since})")
        yield dg.Output(drop)
        yield file_ledger_check(key, drop)

    return raw


def _parsed_asset(spec: PlatformSpec, feed: FeedSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        key=asset_key(spec.name, "parsed", feed.name),
        ins={"raw": dg.AssetIn(asset_key(spec.name, "raw", feed.name))},
        partitions_def=partitions,
        io_manager_key=BATCH_IO_MANAGER,
        group_name=spec.name,
        kinds={"pandas"},
        description=f"{feed.description} Mapped to the unified {feed.entity.name} schema, with lineage.",
    )
    def parsed(context: dg.AssetExecutionContext, raw: RawDrop, districts: DistrictRegistryResource) -> ParsedBatch:
        district_id, _ = partition_parts(context.partition_key)
        district = districts.district(district_id)
        parse_context = ParseContext(district_id=district_id, timezone=district.zone, platform=spec.name)
        try:
            batch = parse_drop(spec, feed, raw, context=parse_context, run_id=context.run.run_id)
        except DropError as error:
            raise dg.Failure(f"{spec.name}/{feed.name}: {error}") from None
        context.add_output_metadata({
            "received": batch.received,
            "not_applicable": len(batch.not_applicable),
            "parse_errors": len(batch.errors),
            "files": "; ".join(batch.notes) or "none",
            "sync_mode": batch.sync_mode,
            "missing_columns": ", ".join(batch.missing_columns) or "none",
            "dagster/row_count": len(batch.frame),
        })
        return batch

    return parsed


def _validated_asset(spec: PlatformSpec, feed: FeedSpec, partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    key = asset_key(spec.name, "validated", feed.name)
    referenced = _referenced_feeds(spec, feed)
    # A reference needs the referenced batch's id columns only: reading a 200,000-person
    # batch whole to check enrollments against it cost more memory than the enrollments.
    ref_ins = {
        f"ref_{f.name}": dg.AssetIn(asset_key(spec.name, "validated", f.name),
                                    metadata={ROW_COLUMNS_METADATA: referenced_columns(feed, entity)})
        for entity, f in referenced.items()
    }

    @dg.asset(
        key=key,
        ins={"parsed": dg.AssetIn(asset_key(spec.name, "parsed", feed.name)), **ref_ins},
        partitions_def=partitions,
        io_manager_key=BATCH_IO_MANAGER,
        group_name=spec.name,
        kinds={"pandera"},
        check_specs=gate_check_specs(key, spec.thresholds),
        description=(
            f"{feed.entity.name} rows of {spec.title} that passed the schema, reference and identity checks; "
            "the rest are quarantined with a per-record report."
        ),
    )
    def validated(context: dg.AssetExecutionContext, parsed: ParsedBatch, warehouse: WarehouseResource,
                  **refs: ValidatedBatch):  # noqa: ANN202 - yields
        district_id, _ = partition_parts(context.partition_key)
        batch_ids = referenced_batch_ids(feed, {entity: refs[f"ref_{f.name}"] for entity, f in referenced.items()},
                                         own=parsed)
        resolver = ReferenceResolver(batch_ids, warehouse, district_id)
        result = validate_batch(
            feed,
            parsed,
            reference_exists=resolver.exists,
            person_lookup=lambda ids, id_types: warehouse.person_ids(district_id, ids, id_types),
            thresholds=spec.thresholds,
        )
        ledger = result.ledger()
        # Counts and rule names only: offending values can be student PII and stay in the archive.
        context.log.info(f"{spec.name}/{feed.name} {context.partition_key}: {ledger.line()}; "
                         f"top failures: {result.summary_by_rule(3)}")
        yield dg.Output(result, metadata={
            **ledger.as_metadata(),
            "quarantine_rate": dg.MetadataValue.float(round(result.quarantine_rate, 6)),
            "top_failures": result.summary_by_rule(),
            "sync_mode": result.sync_mode,
            "dagster/row_count": len(result.rows),
        })
        yield from gate_results(key, result, spec.thresholds)

    return validated


def _loaded_asset(spec: PlatformSpec, feed: FeedSpec, partitions: dg.PartitionsDefinition, warehouse_kind: str) -> dg.AssetsDefinition:
    validated_key = asset_key(spec.name, "validated", feed.name)
    # Referenced rows load first, so a reader never sees an enrollment before its class.
    load_after = [asset_key(spec.name, "loaded", f.name) for f in _referenced_feeds(spec, feed).values()]

    key = asset_key(spec.name, "loaded", feed.name)

    @dg.asset(
        key=key,
        ins={"validated": dg.AssetIn(validated_key)},
        check_specs=[ledger_check_spec(key)],
        deps=load_after,
        partitions_def=partitions,
        group_name=spec.name,
        kinds={warehouse_kind},
        description=(
            f"Validated {feed.entity.name} rows upserted into the warehouse table `{feed.entity.name}` "
            "in one transaction (snapshots deactivate what they no longer contain)."
        ),
    )
    def loaded(
        context: dg.AssetExecutionContext, validated: ValidatedBatch, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        ensure_gate_passed(validated, validated_key, str(context.partition_key))
        district_id, _ = partition_parts(context.partition_key)
        ledger = validated.ledger()
        if validated.sync_mode == "absent":
            context.log.info(f"{spec.name}/{feed.name} {context.partition_key}: absent in this drop, nothing loaded")
            return dg.MaterializeResult(metadata={"sync_mode": "absent", **ledger.as_metadata()},
                                        check_results=[record_ledger_check(key, ledger)])
        snapshot_of = {"district_id": district_id, "source_platform": spec.name} if validated.sync_mode == "snapshot" else None
        cursor = None
        if validated.next_cursor:
            cursor = CursorAdvance(spec.name, feed.name, district_id, datetime.fromisoformat(validated.next_cursor),
                                   context.run.run_id)
        try:
            stats = warehouse.load(feed.entity, validated.rows, snapshot_of=snapshot_of, now=datetime.now(UTC),
                                   quarantined=validated.quarantine,
                                   max_deactivated_share=spec.thresholds.max_deactivation, cursor=cursor,
                                   tombstones=validated.tombstones)
        except MassDeactivationError as error:
            raise dg.Failure(f"{spec.name}/{feed.name} {context.partition_key}: {error}") from None
        tombstones = 0 if validated.tombstones is None else len(validated.tombstones)
        if "active" in validated.rows.columns:
            tombstones += int(validated.rows["active"].eq(False).sum())
        ledger = ledger.with_load(inserted=stats.inserted, updated=stats.updated, unchanged=stats.unchanged,
                                  tombstones=tombstones, deactivated_missing=stats.deactivated)
        context.log.info(f"{spec.name}/{feed.name} {context.partition_key}: {ledger.line()}")
        return dg.MaterializeResult(
            metadata={"sync_mode": validated.sync_mode, **ledger.as_metadata(), "dagster/row_count": len(validated.rows)},
            check_results=[record_ledger_check(key, ledger)],
        )

    return loaded


_RAW_BUILDERS = {"file_drop": _raw_file_asset, "api": _raw_api_asset}


def build_platform_assets(spec: PlatformSpec, partitions: dg.PartitionsDefinition, warehouse_kind: str) -> PlatformAssets:
    """All assets of one platform, each carrying the checks its step computes.

    Args:
        spec: the platform.
        partitions: its district × day partitions.
        warehouse_kind: Dagster kind shown on loaded assets (`postgres` or `sqlite`).

    Raises:
        ValueError: the platform's delivery has no raw step yet (pushed inboxes).
    """
    raw_builder = _RAW_BUILDERS.get(spec.delivery)
    if raw_builder is None:
        raise ValueError(f"platform {spec.name}: {spec.delivery} delivery (an Inbox source) is not yet supported; "
                         "the push receiver that fills inboxes comes first")
    assets: list[dg.AssetsDefinition] = []
    for feed in spec.feeds:
        assets += [
            raw_builder(spec, feed, partitions),
            _parsed_asset(spec, feed, partitions),
            _validated_asset(spec, feed, partitions),
            _loaded_asset(spec, feed, partitions, warehouse_kind),
        ]
    return PlatformAssets(assets)
