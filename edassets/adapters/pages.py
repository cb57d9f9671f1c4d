"""How an API feed's pages are named in a drop, so fetch and parse agree without knowing each other."""

from edassets.adapters.sources import Api, Endpoint, Source
from edassets.adapters.spec import API_RECORDS, FeedSpec
from edassets.handoffs import RawDrop, ReceivedFile


def page_name(table: str, index: int) -> str:
    """Archive file name of the `index`-th page of a feed's table (`records` or a join's name)."""
    return f"{table}.page-{index:05d}.json"


def pages_of(drop: RawDrop, table: str) -> list[ReceivedFile]:
    """The pages of one table of a fetched drop, in fetch order."""
    return sorted((f for f in drop.files if f.name.startswith(f"{table}.page-")), key=lambda f: f.name)


def fetched_tables(feed: FeedSpec) -> list[tuple[str, Source]]:
    """(table name, source) of a fetched feed's own records and of each API join."""
    return [(API_RECORDS, feed.source)] + [(j.file.lower(), Api(j.endpoint)) for j in feed.joins if j.endpoint]


def feed_endpoints(feed: FeedSpec) -> list[tuple[str, Endpoint]]:
    """(table name, endpoint) of an `Api` feed's own records and of each API join."""
    if feed.endpoint is None:
        raise ValueError(f"feed {feed.name} has no endpoint")
    return [(table, source.endpoint) for table, source in fetched_tables(feed) if isinstance(source, Api)]
