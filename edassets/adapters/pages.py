"""How an API feed's pages are named in a drop, so fetch and parse agree without knowing each other."""

from edassets.adapters.spec import API_RECORDS, Endpoint, FeedSpec
from edassets.handoffs import RawDrop, ReceivedFile


def page_name(table: str, index: int) -> str:
    """Archive file name of the `index`-th page of a feed's table (`records` or a join's name)."""
    return f"{table}.page-{index:05d}.json"


def pages_of(drop: RawDrop, table: str) -> list[ReceivedFile]:
    """The pages of one table of a fetched drop, in fetch order."""
    return sorted((f for f in drop.files if f.name.startswith(f"{table}.page-")), key=lambda f: f.name)


def feed_endpoints(feed: FeedSpec) -> list[tuple[str, Endpoint]]:
    """(table name, endpoint) of the feed's own records and of each API join."""
    if feed.endpoint is None:
        raise ValueError(f"feed {feed.name} has no endpoint")
    return [(API_RECORDS, feed.endpoint)] + [(j.file.lower(), j.endpoint) for j in feed.joins if j.endpoint]
