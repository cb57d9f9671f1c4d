"""From received bytes to a parsed batch: the whole parse stage, without Dagster."""

from collections.abc import Sequence
from typing import cast, get_args

import pandas as pd

from edassets.adapters.csv_files import CsvTable, UnreadableFile
from edassets.adapters.file_drop import DropError
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.mapping import map_feed
from edassets.adapters.pages import fetched_tables, pages_of
from edassets.adapters.readers import TableRead, reader_for
from edassets.adapters.sources import Source
from edassets.adapters.spec import API_RECORDS, FeedSpec, ParseContext, PlatformSpec
from edassets.adapters.transforms import utc_timestamp
from edassets.handoffs import ParsedBatch, RawDrop, ReceivedFile, SyncMode


def _next_cursor(feed: FeedSpec, records: pd.DataFrame) -> str | None:
    """The newest modification time among the fetched records (ISO, UTC), if the feed is incremental."""
    incremental = feed.endpoint.incremental if feed.endpoint else None
    if incremental is None or incremental.cursor_field not in records.columns:
        return None
    newest = utc_timestamp(records[incremental.cursor_field]).max()
    return None if pd.isna(newest) else newest.isoformat()


def _read(source: Source, objects: Sequence[ReceivedFile], context: ParseContext) -> TableRead:
    try:
        return reader_for(source)(objects, source, context)
    except UnreadableFile as error:
        raise DropError(str(error)) from None


def _shared_key(objects: Sequence[ReceivedFile], table: CsvTable | None) -> str:
    """The archive key every row of the feed's own table shares; "" when its rows name their own."""
    if table is None or table.archive_keys is not None or len(objects) != 1:
        return ""
    return objects[0].archive_key or ""


def parse_drop(spec: PlatformSpec, feed: FeedSpec, drop: RawDrop, *, context: ParseContext, run_id: str) -> ParsedBatch:
    """Parse what a raw asset received into the feed's unified-schema batch.

    Each table is read by the reader its source names (`edassets.adapters.readers`).
    Handed-over files take their sync mode from the drop's manifest; fetched pages, in
    fetch order, from how they were fetched.

    Raises:
        edassets.adapters.file_drop.DropError: the drop contradicts its own manifest, or a
            file cannot be read at all.
    """
    if feed.source.delivery == "api":
        tables: dict[str, CsvTable] = {table: _read(source, pages_of(drop, table), context).table for table, source in fetched_tables(feed)}
        sync_mode = drop.meta.get("sync_mode", "snapshot")
        if sync_mode not in get_args(SyncMode):
            raise DropError(f"{spec.name}/{feed.name}: the fetched pages name an unknown sync mode {sync_mode!r}")
        batch = map_feed(feed, tables, context=context, archive_key=_shared_key(pages_of(drop, API_RECORDS), tables[API_RECORDS]),
                         run_id=run_id, sync_mode=cast(SyncMode, sync_mode))
        return batch.with_next_cursor(_next_cursor(feed, tables[API_RECORDS].frame))
    files = drop.by_role()
    sync_mode = resolve_sync_mode(spec, feed, files)
    readable = [name for name in (f.lower() for f in feed.files) if name in files] if sync_mode != "absent" else []
    tables = {}
    notes: list[str] = []
    for name in readable:
        read = _read(feed.source, files[name], context)
        notes += read.notes
        tables[name] = read.table
    primary = files.get(feed.file.lower(), [])
    batch = map_feed(
        feed,
        tables,
        context=context,
        archive_key=_shared_key(primary, tables.get(feed.table)),
        run_id=run_id,
        sync_mode=sync_mode,
    )
    return batch.with_notes(tuple(notes))
