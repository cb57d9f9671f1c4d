"""From received bytes to a parsed batch: the whole parse stage, without Dagster."""

from collections.abc import Sequence
from typing import cast, get_args

import numpy as np
import pandas as pd

from edassets.adapters.csv_files import CsvTable, read_csv_text
from edassets.adapters.file_drop import DropError
from edassets.adapters.json_records import read_json_pages
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.mapping import map_feed
from edassets.adapters.pages import feed_endpoints, pages_of
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


def _read_file(received: ReceivedFile) -> CsvTable:
    try:
        return read_csv_text(received.data)
    except ValueError as error:
        # Undecodable or binary bytes: nothing in the file can be counted, so nothing is guessed.
        raise DropError(f"{received.name} cannot be read: {error}") from None


def _file_note(received: ReceivedFile, table: CsvTable) -> str:
    if not table.has_header:
        return f"{received.name}: empty file ({len(received.data)} bytes, no header)"
    if table.record_count == 0:
        return f"{received.name}: header only, 0 records ({table.encoding})"
    return f"{received.name}: {table.record_count} records ({table.encoding})"


def _combine(files: Sequence[ReceivedFile], tables: Sequence[CsvTable]) -> CsvTable:
    """Several files playing one role (one StudentsBySchool per term) as one table whose rows name their file."""
    if len(tables) == 1:
        return tables[0]
    return CsvTable(
        frame=pd.concat([t.frame for t in tables], ignore_index=True),
        record_index=np.concatenate([t.record_index for t in tables]),
        malformed=tuple(m for t in tables for m in t.malformed),
        encoding=", ".join(dict.fromkeys(t.encoding for t in tables)),
        archive_keys=np.concatenate([np.full(len(t.frame), f.archive_key or f.name, dtype=object)
                                     for f, t in zip(files, tables, strict=True)]),
        malformed_keys=tuple(f.archive_key or f.name for f, t in zip(files, tables, strict=True) for _ in t.malformed),
    )


def parse_drop(spec: PlatformSpec, feed: FeedSpec, drop: RawDrop, *, context: ParseContext, run_id: str) -> ParsedBatch:
    """Parse what a raw asset received into the feed's unified-schema batch.

    File drops are read as CSV (their sync mode from the drop's manifest); API feeds read
    their archived pages in fetch order (their sync mode from how they were fetched).

    Raises:
        edassets.adapters.file_drop.DropError: the drop contradicts its own manifest, or a
            file cannot be decoded as text at all.
    """
    if feed.endpoint is not None:
        tables = {
            table: read_json_pages(pages_of(drop, table), records_path=endpoint.records_path,
                                   record_root=endpoint.record_root, explode=endpoint.explode)
            for table, endpoint in feed_endpoints(feed)
        }
        sync_mode = drop.meta.get("sync_mode", "snapshot")
        if sync_mode not in get_args(SyncMode):
            raise DropError(f"{spec.name}/{feed.name}: the fetched pages name an unknown sync mode {sync_mode!r}")
        batch = map_feed(feed, tables, context=context, archive_key="", run_id=run_id,
                         sync_mode=cast(SyncMode, sync_mode))
        return batch.with_next_cursor(_next_cursor(feed, tables[API_RECORDS].frame))
    files = drop.by_role()
    sync_mode = resolve_sync_mode(spec, feed, files)
    readable = [name for name in (f.lower() for f in feed.files) if name in files] if sync_mode != "absent" else []
    tables, notes = {}, []
    for name in readable:
        read = [_read_file(received) for received in files[name]]
        notes += [_file_note(received, table) for received, table in zip(files[name], read, strict=True)]
        tables[name] = _combine(files[name], read)
    primary = files.get(feed.file.lower(), [])
    batch = map_feed(
        feed,
        tables,
        context=context,
        # One file names every row's object; several files name theirs per row.
        archive_key=(primary[0].archive_key or "") if len(primary) == 1 else "",
        run_id=run_id,
        sync_mode=sync_mode,
    )
    return batch.with_notes(tuple(notes))
