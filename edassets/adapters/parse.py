"""From received bytes to a parsed batch: the whole parse stage, without Dagster."""

import pandas as pd

from edassets.adapters.csv_files import read_csv_text
from edassets.adapters.file_drop import RawDrop
from edassets.adapters.json_records import read_json_pages
from edassets.adapters.manifest import resolve_sync_mode
from edassets.adapters.mapping import ParsedBatch, map_feed
from edassets.adapters.pages import feed_endpoints, pages_of
from edassets.adapters.spec import API_RECORDS, FeedSpec, ParseContext, PlatformSpec
from edassets.adapters.transforms import utc_timestamp


def _next_cursor(feed: FeedSpec, records: pd.DataFrame) -> str | None:
    """The newest modification time among the fetched records (ISO, UTC), if the feed is incremental."""
    incremental = feed.endpoint.incremental if feed.endpoint else None
    if incremental is None or incremental.cursor_field not in records.columns:
        return None
    newest = utc_timestamp(records[incremental.cursor_field]).max()
    return None if pd.isna(newest) else newest.isoformat()


def parse_drop(spec: PlatformSpec, feed: FeedSpec, drop: RawDrop, *, context: ParseContext, run_id: str) -> ParsedBatch:
    """Parse what a raw asset received into the feed's unified-schema batch.

    File drops are read as CSV (their sync mode from the drop's manifest); API feeds read
    their archived pages in fetch order (their sync mode from how they were fetched).

    Raises:
        edassets.adapters.file_drop.DropError: the drop contradicts its own manifest.
    """
    if feed.endpoint is not None:
        tables = {
            table: read_json_pages(pages_of(drop, table), records_path=endpoint.records_path,
                                   record_root=endpoint.record_root, explode=endpoint.explode)
            for table, endpoint in feed_endpoints(feed)
        }
        sync_mode = str(drop.meta.get("sync_mode", "snapshot"))
        batch = map_feed(feed, tables, context=context, archive_key="", run_id=run_id, sync_mode=sync_mode)
        return batch.with_next_cursor(_next_cursor(feed, tables[API_RECORDS].frame))
    files = drop.by_name()
    sync_mode = resolve_sync_mode(spec, feed, files)
    readable = [name for name in (f.lower() for f in feed.files) if name in files] if sync_mode != "absent" else []
    tables = {name: read_csv_text(files[name].data) for name in readable}
    primary = files.get(feed.file.lower())
    return map_feed(
        feed,
        tables,
        context=context,
        archive_key=(primary.archive_key or "") if primary else "",
        run_id=run_id,
        sync_mode=sync_mode,
    )
