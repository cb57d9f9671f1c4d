"""IO managers: how Dagster's asset values reach the audit archive and come back.

Every object is written once under a key that carries platform, feed, district, delivery
date, time and run id, so re-materialising a partition adds objects and never replaces
one. Which object is current is recorded in the materialization's metadata
(`archive_manifest`), so a later run — even one that selects only a downstream asset —
reads exactly what the latest materialization wrote. No pickles: raw bytes stay raw,
tables are Parquet, manifests JSON.
"""

import io
import json
import mimetypes
import re
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pandas as pd

from edassets.assets.partitions import partition_parts
from edassets.handoffs import FileOutcome, GateDecision, ParsedBatch, RawDrop, ReceivedFile, ValidatedBatch, report_csv
from edassets.resources.archive import ArchiveResource, ArchiveStore, archive_key
from edassets.resources.memory import release_freed_memory

MANIFEST_METADATA_KEY = "archive_manifest"
ROW_COLUMNS_METADATA = "row_columns"
"""Input metadata: load only these columns of a validated batch's rows (a reference input)."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._=:+-]+")


class ArchiveIntegrityError(Exception):
    """An archived object no longer matches the sha256 recorded when it was written."""


def safe_name(name: str) -> str:
    """A vendor file name made fit for an archive key ("Student Summary.csv" -> "Student_Summary.csv")."""
    return _UNSAFE.sub("_", name).strip("._") or "file"


def stage_key(stage: str, platform: str, feed: str, partition: str, run_id: str) -> str:
    """Archive prefix of one write: stage, platform, feed, district, day, write time and run id."""
    district, day = partition_parts(partition)
    written = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return archive_key(stage, platform, feed, district, day, f"{written}_{run_id}")


def _base_key(context: dg.OutputContext, stage: str) -> str:
    platform, _, feed = context.asset_key.path
    return stage_key(stage, platform, feed, context.partition_key, context.run_id)


def _put_file(store: ArchiveStore, prefix: str, received: ReceivedFile) -> dict[str, Any]:
    content_type = mimetypes.guess_type(received.name)[0] or "application/octet-stream"
    stored = store.put_content(prefix, safe_name(received.name), received.data, content_type=content_type)
    return {"name": received.name, "key": stored.key, "sha256": stored.sha256, "size": stored.size,
            "container": received.container}


def archive_drop(store: ArchiveStore, base: str, drop: RawDrop, *, platform: str, partition: str,
                 run_id: str) -> tuple[str, list[dict[str, Any]]]:
    """Archive every file the drop brought (read or ignored) and its containers, then its manifest.

    File bytes are keyed by sha256 under the platform, district and day, so a file every
    feed of a bundle reads, or a drop handed over twice, is stored once; the manifest
    under `base` (stage, feed, time, run) says which objects this materialization received.

    Returns:
        The manifest key and the entries of the files the feed reads.
    """
    district, day = partition_parts(partition)
    prefix = archive_key("raw", platform, district, day)
    entries = [_put_file(store, prefix, received) for received in drop.files]
    ignored = [_put_file(store, prefix, received) for received in drop.ignored_files]
    containers = [_put_file(store, prefix, container) for container in drop.containers]
    manifest = {"files": entries, "roles": {role: list(names) for role, names in drop.roles.items()},
                "containers": containers, "missing": list(drop.missing), "ignored_files": ignored,
                "inventory": [vars(outcome) | {"read_by": list(outcome.read_by)} for outcome in drop.inventory],
                "meta": dict(drop.meta), "partition": partition, "run_id": run_id}
    manifest_key = store.put(f"{base}/_manifest.json", json.dumps(manifest, indent=1).encode(),
                             content_type="application/json").key
    return manifest_key, entries


def latest_manifest(instance: dg.DagsterInstance, store: ArchiveStore, asset_key: dg.AssetKey, partition: str) -> dict[str, Any]:
    """The archive manifest written by the latest materialization of an asset partition.

    Raises:
        dagster.Failure: the partition was never materialized through the archive.
    """
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records or records[0].asset_materialization is None:
        raise dg.Failure(f"{asset_key.to_user_string()} has no materialization for partition {partition}: materialize it first")
    entry = records[0].asset_materialization.metadata.get(MANIFEST_METADATA_KEY)
    if entry is None:
        raise dg.Failure(f"{asset_key.to_user_string()} partition {partition} was not written through the archive")
    return json.loads(store.get(str(entry.value)))


def _input_manifest(context: dg.InputContext, store: ArchiveStore) -> dict[str, Any]:
    asset_key = context.upstream_output.asset_key if context.upstream_output else context.asset_key
    return latest_manifest(context.instance, store, asset_key, str(context.asset_partition_key))


class RawArchiveIOManager(dg.ConfigurableIOManager):
    """Stores a raw asset's `RawDrop` byte for byte: one archive object per file received."""

    archive: dg.ResourceDependency[ArchiveResource]

    def handle_output(self, context: dg.OutputContext, obj: RawDrop) -> None:
        release_freed_memory()
        store = self.archive.store()
        manifest_key, entries = archive_drop(store, _base_key(context, "raw"), obj, platform=context.asset_key.path[0],
                                             partition=context.partition_key, run_id=context.run_id)
        context.add_output_metadata({
            MANIFEST_METADATA_KEY: manifest_key,
            "archive_location": dg.MetadataValue.path(store.describe(manifest_key)),
            "files": len(entries),
            "bytes": sum(e["size"] for e in entries),
            "missing_files": ", ".join(obj.missing) or "none",
            "files_ignored": dg.MetadataValue.json({f.name: f.reason for f in obj.inventory if f.ignored}),
            "sha256": dg.MetadataValue.json({e["name"]: e["sha256"] for e in entries}),
        })

    def load_input(self, context: dg.InputContext) -> RawDrop:
        store = self.archive.store()
        manifest = _input_manifest(context, store)
        files = []
        for entry in manifest["files"]:
            data = store.get(entry["key"])
            received = ReceivedFile(entry["name"], data, entry.get("container"), archive_key=entry["key"])
            if received.sha256 != entry["sha256"]:
                raise ArchiveIntegrityError(f"archive object {entry['key']} does not match its recorded sha256")
            files.append(received)
        inventory = tuple(FileOutcome(**{**entry, "read_by": tuple(entry["read_by"])})
                          for entry in manifest.get("inventory", []))
        return RawDrop(files=tuple(files), roles={role: tuple(names) for role, names in manifest["roles"].items()},
                       missing=tuple(manifest["missing"]), inventory=inventory, meta=manifest.get("meta", {}))


def _frames_of(obj: ParsedBatch | ValidatedBatch) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    if isinstance(obj, ParsedBatch):
        return {"rows": obj.frame, "errors": obj.errors, "not_applicable": obj.not_applicable}, {
            "type": "parsed", "sync_mode": obj.sync_mode, "received": obj.received, "archive_key": obj.archive_key,
            "missing_columns": list(obj.missing_columns), "next_cursor": obj.next_cursor, "notes": list(obj.notes),
        }
    frames = {"rows": obj.rows, "quarantine": obj.quarantine, "report": obj.report}
    if obj.tombstones is not None:
        frames["tombstones"] = obj.tombstones
    return frames, {
        "type": "validated", "sync_mode": obj.sync_mode, "received": obj.received, "quarantined": obj.quarantined,
        "duplicates": obj.duplicates, "not_applicable": obj.not_applicable,
        "gate": {"passed": obj.gate.passed, "reasons": list(obj.gate.reasons)}, "next_cursor": obj.next_cursor,
    }


def _batch_from(frames: dict[str, pd.DataFrame], meta: dict[str, Any]) -> ParsedBatch | ValidatedBatch:
    if meta["type"] == "parsed":
        return ParsedBatch(frames["rows"], frames["errors"], meta["sync_mode"], meta["received"],
                           frames["not_applicable"], meta["archive_key"], tuple(meta["missing_columns"]),
                           meta.get("next_cursor"), tuple(meta["notes"]))
    gate = GateDecision(meta["gate"]["passed"], tuple(meta["gate"]["reasons"]))
    return ValidatedBatch(frames["rows"], frames["quarantine"], frames["report"], meta["sync_mode"],
                          meta["received"], meta["quarantined"], frames.get("tombstones"), meta["duplicates"],
                          meta["not_applicable"], gate, meta.get("next_cursor"))


class BatchArchiveIOManager(dg.ConfigurableIOManager):
    """Stores parsed and validated batches (and the quarantine) as Parquet in the archive.

    The validated batch's per-record report is also written as CSV: it is what an operator
    opens to see which record failed which rule.
    """

    archive: dg.ResourceDependency[ArchiveResource]

    def handle_output(self, context: dg.OutputContext, obj: ParsedBatch | ValidatedBatch) -> None:
        release_freed_memory()
        store = self.archive.store()
        stage = context.asset_key.path[1]
        base = _base_key(context, stage)
        frames, meta = _frames_of(obj)
        keys = {}
        for name, frame in frames.items():
            buffer = io.BytesIO()
            frame.to_parquet(buffer, index=False)
            keys[name] = store.put(f"{base}/{name}.parquet", buffer.getvalue(), content_type="application/vnd.apache.parquet").key
        metadata: dict[str, Any] = {}
        if isinstance(obj, ValidatedBatch):
            report_key = store.put(f"{base}/quarantine_report.csv", report_csv(obj.report), content_type="text/csv").key
            meta["report_csv"] = report_key
            metadata["quarantine_report"] = dg.MetadataValue.path(store.describe(report_key))
        manifest_key = store.put(f"{base}/_batch.json", json.dumps({**meta, "frames": keys}).encode(), content_type="application/json").key
        context.add_output_metadata({MANIFEST_METADATA_KEY: manifest_key, **metadata})

    def load_input(self, context: dg.InputContext) -> ParsedBatch | ValidatedBatch:
        release_freed_memory()
        store = self.archive.store()
        columns = (context.definition_metadata or {}).get(ROW_COLUMNS_METADATA)
        return read_batch(store, _input_manifest(context, store), row_columns=columns)


def read_batch(store: ArchiveStore, manifest: dict[str, Any], *,
               row_columns: list[str] | None = None) -> ParsedBatch | ValidatedBatch:
    """Rebuild a parsed or validated batch from its archive manifest.

    Args:
        store: the archive.
        manifest: the batch's `_batch.json`.
        row_columns: read only these columns of a validated batch's rows, and none of its
            other frames (they come back empty): what a reference check needs of a batch.
    """
    if row_columns is None:
        frames = {name: pd.read_parquet(io.BytesIO(store.get(key))) for name, key in manifest["frames"].items()}
    else:
        frames = {name: pd.DataFrame() for name in manifest["frames"]}
        frames["rows"] = pd.read_parquet(io.BytesIO(store.get(manifest["frames"]["rows"])), columns=row_columns)
    return _batch_from(frames, manifest)
