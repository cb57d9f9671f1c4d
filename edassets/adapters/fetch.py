"""Fetching an API feed for one district: every page kept byte for byte, in order.

An `Api` source is paged through by the platform's paginator; a `Custom` fetch gets the
same authenticated, rate-limited, retrying client and yields the bodies itself.

The raw asset calls `fetch_feed`; the pages go to the archive before anything parses
them, so a parse bug never costs a refetch (`edassets replay` rebuilds from the archive).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from edassets.adapters.http import Auth, MalformedPayload, Paginator, RestClient
from edassets.adapters.pages import feed_endpoints, page_name
from edassets.adapters.sources import Custom, FetchContext
from edassets.adapters.spec import API_RECORDS, ApiSpec, FeedSpec, PlatformSpec
from edassets.handoffs import RawDrop, ReceivedFile

CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


class MissingCredential(ValueError):
    """A credential the platform declares was not given; the message names it, never a value."""


class PageArchiveNeeded(Exception):
    """A page could not be used; its exact bytes must be archived before the run fails.

    Attributes:
        drop: the pages fetched before it plus the bad page itself.
        reason: the typed error, one line, no secrets.
    """

    def __init__(self, drop: RawDrop, reason: str) -> None:
        super().__init__(reason)
        self.drop = drop
        self.reason = reason


@dataclass(frozen=True)
class FetchPlan:
    """What one fetch asks for.

    Attributes:
        params: query parameters (fixed ones plus the incremental filter).
        sync_mode: "snapshot" for a full listing, "incremental" for a filtered delta.
        cursor: the high-water mark the filter used, if any.
    """

    params: dict[str, str]
    sync_mode: str
    cursor: datetime | None


def plan_fetch(feed: FeedSpec, cursor: datetime | None) -> FetchPlan:
    """Parameters and sync mode of the next fetch of `feed` given its committed cursor."""
    if feed.source.delivery != "api":
        raise ValueError(f"feed {feed.name} is not fetched")
    endpoint = feed.endpoint
    if endpoint is None:
        # A custom fetch keeps no cursor: every fetch is whole, as the feed declares.
        return FetchPlan({}, feed.sync_mode, None)
    params = dict(endpoint.params)
    incremental = endpoint.incremental
    if incremental is None or cursor is None:
        # A full listing is a snapshot, unless the feed's records are events: a listing that
        # misses an event says nothing about it, so nothing is deactivated for its absence.
        return FetchPlan(params, "events" if feed.sync_mode == "events" else "snapshot", None)
    since = cursor - incremental.lookback
    # ISO 8601 with milliseconds and Z: how OneRoster writes dateLastModified.
    value = since.strftime("%Y-%m-%dT%H:%M:%S.") + f"{since.microsecond // 1000:03d}Z"
    params[incremental.param] = incremental.template.format(value=value)
    return FetchPlan(params, "incremental", cursor)


def _client(spec: PlatformSpec, api: ApiSpec, base_url: str, auth: Auth, district_id: str,
            paginator: Paginator | None) -> RestClient:
    return RestClient(
        base_url,
        auth=auth,
        paginator=paginator,
        rate_limit=api.rate_limit,
        retry=api.retry,
        error_actions=dict(api.error_actions) or None,
        timeout_s=api.timeout_s,
        platform=spec.name,
        district=district_id,
    )


def fetch_feed(
    spec: PlatformSpec,
    feed: FeedSpec,
    *,
    district_id: str,
    base_url: str,
    credentials: Mapping[str, str],
    plan: FetchPlan,
) -> RawDrop:
    """Fetch a feed (its endpoint and its joins' endpoints, or its custom fetch); return every page exactly as received.

    Raises:
        MissingCredential: `credentials` lacks a name the platform's `ApiSpec` declares.
        PageArchiveNeeded: a page stayed malformed after the client's retries; it and the
            pages before it must be archived before the run fails.
        edassets.adapters.http.AdapterError: auth, throttling or outage errors, already typed
            and redacted.
    """
    api = spec.api
    if api is None:
        raise ValueError(f"{spec.name} has no API")
    missing = api.missing_credentials(credentials)
    if missing:
        raise MissingCredential(f"{spec.name} needs credential {', '.join(missing)} for district {district_id} "
                                f"(it takes {', '.join(api.credentials)})")
    pages: list[ReceivedFile] = []
    page_log: list[dict[str, object]] = []
    meta = {"sync_mode": plan.sync_mode, "cursor": plan.cursor.strftime(CURSOR_FORMAT) if plan.cursor else "",
            "base_url": base_url}
    auth = api.auth(credentials, base_url)
    source = feed.source
    if isinstance(source, Custom) and source.fetch is not None:
        client = _client(spec, api, base_url, auth, district_id, paginator=None)
        for index, body in enumerate(source.fetch(client, FetchContext(district_id, base_url))):
            name = page_name(API_RECORDS, index)
            pages.append(ReceivedFile(name, body))
            # Records are counted when the pages are read: only the custom code knows the layout.
            page_log.append({"name": name, "fetched_at": datetime.now(UTC).isoformat(), "bytes": len(body)})
        return RawDrop.all_read(pages, feed.name, meta={**meta, "pages": page_log})
    for table, endpoint in feed_endpoints(feed):
        client = _client(spec, api, base_url, auth, district_id, paginator=(endpoint.paginator or api.paginator)())
        # Only the feed's own records are filtered by the cursor; joined tables are read whole.
        params = plan.params if table == API_RECORDS else dict(endpoint.params)
        try:
            for page in client.paginate(endpoint.path, params=params, records_path=endpoint.records_path):
                name = page_name(table, page.index)
                pages.append(ReceivedFile(name, page.body))
                page_log.append({"name": name, "url": page.url, "status": page.status,
                                 "fetched_at": page.fetched_at.isoformat(), "records": len(page.records)})
        except MalformedPayload as error:
            name = page_name(table, error.page_index or 0).replace(".json", ".malformed")
            pages.append(ReceivedFile(name, error.body))
            drop = RawDrop.all_read(pages, feed.name, meta={**meta, "pages": page_log})
            raise PageArchiveNeeded(drop, str(error)) from None
    return RawDrop.all_read(pages, feed.name, meta={**meta, "pages": page_log})
