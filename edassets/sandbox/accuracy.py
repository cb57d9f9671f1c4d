"""Accuracy against the sandbox's ground truth: what loaded right, wrong, not at all, or was quarantined.

The reusable comparison behind `edassets demo` and the end-to-end tests. Loaded rows come
from the warehouse; quarantined records from the latest validated batch of each feed in
the archive; the truth from the world (`truth.expected_warehouse`) and the faults the
sandbox injected (`SandboxServer.injected_bad_records`).
"""

from collections.abc import Sequence
from datetime import date

import dagster as dg
import pandas as pd

from edassets.assets.factory import asset_key
from edassets.assets.partitions import partition_key
from edassets.handoffs import ValidatedBatch
from edassets.platforms import PLATFORMS
from edassets.resources.archive import ArchiveStore
from edassets.resources.io_managers import latest_manifest, read_batch
from edassets.resources.warehouse import WarehouseResource
from edassets.sandbox.emulators import EMULATORS
from edassets.sandbox.onboard import platforms_of
from edassets.sandbox.truth import COMPARED_COLUMNS, compare, expected_warehouse
from edassets.sandbox.world import World
from edassets.schema.entities import ENTITIES_BY_NAME

ACCURACY_TABLE_COLUMNS: tuple[str, ...] = (
    "district_id", "platform", "entity", "records_expected", "loaded_correctly", "loaded_wrong", "missing",
    "unexpected", "quarantined_correctly", "quarantined_wrongly", "wrong_columns",
)

def quarantined_ids(instance: dg.DagsterInstance, store: ArchiveStore, platform: str, district_id: str,
                    days: Sequence[date]) -> dict[str, pd.Series]:
    """Entity -> ids of records the latest validated batch of each feed quarantined, over the given partitions."""
    spec = PLATFORMS[platform]
    found: dict[str, list[pd.Series]] = {}
    for feed in spec.feeds:
        if feed.entity.name not in COMPARED_COLUMNS:
            continue
        for day in days:
            try:
                manifest = latest_manifest(instance, store, asset_key(platform, "validated", feed.name),
                                           str(partition_key(district_id, day.isoformat())))
            except dg.Failure:  # that sync never got as far as validation: nothing was quarantined
                continue
            batch = read_batch(store, manifest)
            if isinstance(batch, ValidatedBatch):
                found.setdefault(feed.entity.name, []).append(batch.quarantine[feed.entity.id_column])
    return {entity: pd.concat(parts, ignore_index=True) for entity, parts in found.items()}


def _cascade(expected: dict[str, pd.DataFrame], bad: dict[str, set[str]]) -> dict[str, set[str]]:
    """Grow the bad ids along references: an enrollment of a quarantined student cannot load either."""
    bad = {entity: set(ids) for entity, ids in bad.items()}
    for entity, frame in expected.items():  # COMPARED_COLUMNS lists referenced entities first
        spec = ENTITIES_BY_NAME[entity]
        for reference in spec.references:
            if reference.field in frame.columns and bad.get(reference.entity):
                hit = frame[frame[reference.field].isin(bad[reference.entity])]
                bad.setdefault(entity, set()).update(hit[spec.id_column].dropna())
    return bad


def _quarantine_counts(quarantined: pd.Series, expected_bad: set[str]) -> tuple[int, int]:
    # A record whose id the fault emptied is quarantined with no id: it matches an
    # injected record only by its absence, so nameless rows count against nameless faults.
    named = quarantined.dropna()
    correct = int(named.isin(expected_bad).sum())
    wrong = int((~named.isin(expected_bad)).sum())
    return correct + int(quarantined.isna().sum()), wrong


def accuracy_table(
    world: World,
    district_id: str,
    sync_days: Sequence[date],
    *,
    warehouse: WarehouseResource,
    instance: dg.DagsterInstance,
    store: ArchiveStore,
    injected: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Per platform and entity: expected, loaded correctly/wrong, missing, quarantined correctly/wrongly.

    Args:
        world: the sandbox world.
        district_id: the district.
        sync_days: the partitions synced, oldest first; the truth is as of the last one.
        warehouse: the warehouse.
        instance: the Dagster instance the syncs ran on.
        store: the audit archive.
        injected: `SandboxServer.injected_bad_records()`; records of it must be quarantined.

    The district's platforms are its roster source and every non-roster platform
    (`onboard.platforms_of`).
    """
    platforms = platforms_of(world, district_id)
    expected = expected_warehouse(world, district_id, sync_days[-1], platforms)
    actual = {entity: warehouse.district_rows(entity, district_id) for entity in expected}
    injected = injected if injected is not None else pd.DataFrame(
        columns=["district_id", "platform", "collection", "record_id", "served_id"])
    mine = injected[injected["district_id"] == district_id]
    injected_by_entity: dict[str, set[str]] = {}
    served_by_entity: dict[str, set[str]] = {}
    for (platform, collection), records in mine.groupby(["platform", "collection"]):
        entity = EMULATORS[str(platform)].collection_entities.get(str(collection), str(collection))
        injected_by_entity.setdefault(entity, set()).update(records["record_id"])
        # A defect in the id's own parts (a result keyed by student and test) is quarantined under the served id.
        served_by_entity.setdefault(entity, set()).update(records["served_id"].replace("", pd.NA).dropna())
    bad_by_entity = _cascade(expected, injected_by_entity)
    # Corrupted records are expected in the quarantine, not in the warehouse.
    expected = {entity: frame[~frame[ENTITIES_BY_NAME[entity].id_column].isin(bad_by_entity.get(entity, set()))]
                for entity, frame in expected.items()}
    # A non-roster platform fills the entities its records become, keyed by source_platform:
    # each is scored on its own rows (two assessment vendors share assessment_result); the
    # roster fills the rest.
    vendor_entities = {(p, entity) for p in platforms[1:] for entity in EMULATORS[p].collection_entities.values()}
    shared = {entity for _, entity in vendor_entities}
    table = pd.concat([
        compare({e: f for e, f in expected.items() if e not in shared},
                {e: f for e, f in actual.items() if e not in shared}).assign(platform=platforms[0]),
        *(compare({entity: expected[entity][expected[entity]["source_platform"] == p]},
                  {entity: actual[entity][actual[entity]["source_platform"] == p]}).assign(platform=p)
          for p, entity in sorted(vendor_entities)),
    ], ignore_index=True)
    rows = []
    for platform in platforms:
        quarantined = quarantined_ids(instance, store, platform, district_id, sync_days)
        for entity, ids in quarantined.items():
            # Quarantined once, loaded later (a transient fault, a fixed export): not in quarantine any more.
            ids = ids[~ids.isin(set(actual[entity][ENTITIES_BY_NAME[entity].id_column]))].drop_duplicates()
            correct, wrong = _quarantine_counts(ids, bad_by_entity.get(entity, set()) | served_by_entity.get(entity, set()))
            rows.append({"platform": platform, "entity": entity, "quarantined_correctly": correct,
                         "quarantined_wrongly": wrong})
    counts = pd.DataFrame(rows, columns=["platform", "entity", "quarantined_correctly", "quarantined_wrongly"])
    counts = counts.groupby(["platform", "entity"], as_index=False).sum()
    table = table.merge(counts, on=["platform", "entity"], how="left").fillna(
        {"quarantined_correctly": 0, "quarantined_wrongly": 0})
    table["district_id"] = district_id
    table = table[table["records_expected"].gt(0) | table["quarantined_correctly"].gt(0) | table["quarantined_wrongly"].gt(0)]
    return table[list(ACCURACY_TABLE_COLUMNS)].astype(
        {"quarantined_correctly": "int64", "quarantined_wrongly": "int64"}).reset_index(drop=True)
