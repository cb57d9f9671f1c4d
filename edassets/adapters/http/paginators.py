"""Pagination strategies behind dlt's four-method paginator interface.

`RestClient.paginate` calls `init_request` once, then after every page `update_state`
(with the response and its records) and, while `has_next_page`, `update_request`. Each
strategy is a few dozen lines; the client deep-copies the spec's paginator per call, so
one declared instance can serve every feed.
"""

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit, urlunsplit

import requests


@dataclass
class PreparedRequestSpec:
    """The next request to send; paginators edit it between pages.

    Attributes:
        method: HTTP method.
        url: absolute URL without the query in `params`.
        params: query parameters, merged by requests into the URL.
        headers: per-request headers (auth headers are added later, by the auth scheme).
        json: JSON body, None for GET.
    """

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None


class PageFormatError(ValueError):
    """A pagination field is present but unusable; the client reports `MalformedPayload`."""


def find(document: Any, path: str | None) -> Any:
    """Value at a dotted path ("result.items") in parsed JSON.

    Args:
        document: parsed JSON.
        path: dotted object keys; "" or None returns the document itself.

    Returns:
        The value, or None when a segment is missing or a parent is not an object.
    """
    if not path:
        return document
    value = document
    for segment in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    return value


def _json(response: requests.Response) -> Any:
    # json.loads on bytes detects UTF-8/16/32 and a UTF-8 BOM (RFC 8259 §8.1).
    return json.loads(response.content)


def _as_int(value: Any, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PageFormatError(f"{what} is not an integer: {str(value)[:40]!r}") from None


class Paginator(ABC):
    """dlt's paginator interface: one strategy per class, state kept between pages."""

    def __init__(self) -> None:
        self._has_next_page = True

    @property
    def has_next_page(self) -> bool:
        """Whether `update_request` can produce another page."""
        return self._has_next_page

    def init_request(self, request: PreparedRequestSpec) -> None:  # noqa: B027 - optional hook
        """Add first-page parameters to the request; most strategies need none."""

    @abstractmethod
    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Read what the page says about the next one; set `has_next_page`."""

    @abstractmethod
    def update_request(self, request: PreparedRequestSpec) -> None:
        """Turn the request into the next page's request."""


class SinglePagePaginator(Paginator):
    """The endpoint returns everything in one response."""

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Stop after the first page."""
        self._has_next_page = False

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Never called: there is no next page."""


class OffsetPaginator(Paginator):
    """`limit`/`offset` paging (OneRoster REST, Ed-Fi ODS).

    Stops when the offset reaches the total (from a header or body field) or, with no
    total, on a short page. An empty page always stops, so a total that overcounts (rows
    deleted mid-run) cannot loop forever.

    Args:
        limit: page size asked for.
        limit_param: query parameter for the page size.
        offset_param: query parameter for the 0-based offset.
        total_header: response header with the total row count (OneRoster `X-Total-Count`,
            Ed-Fi `Total-Count` with `totalCount=true`); None to ignore headers.
        total_path: dotted body path of the total, when the vendor puts it in the body.
        record_id: dotted path of each record's id. When set, the offset advances by the
            records not seen before, so a page that repeats earlier rows and arrives cut
            short in the same response still loses nothing.
    """

    def __init__(
        self,
        limit: int = 100,
        limit_param: str = "limit",
        offset_param: str = "offset",
        total_header: str | None = "X-Total-Count",
        total_path: str | None = None,
        record_id: str | None = None,
    ) -> None:
        super().__init__()
        self.limit = limit
        self.limit_param = limit_param
        self.offset_param = offset_param
        self.total_header = total_header
        self.total_path = total_path
        self.record_id = record_id
        self._offset = 0
        self._seen: set[object] = set()

    def init_request(self, request: PreparedRequestSpec) -> None:
        """Start at the caller's offset (default 0) with this paginator's limit."""
        self._offset = _as_int(request.params.get(self.offset_param, 0), self.offset_param) or 0
        request.params[self.limit_param] = self.limit
        request.params[self.offset_param] = self._offset

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Advance by the rows received and compare with the total."""
        total = None
        if self.total_header:
            total = _as_int(response.headers.get(self.total_header), self.total_header)
        if total is None and self.total_path:
            total = _as_int(find(_json(response), self.total_path), self.total_path)
        # Advance by what arrived, not by `limit`: servers silently cap the page size
        # (OneRoster vendors default to 100 and cap at 100-3000 whatever we ask), and
        # advancing by `limit` would skip the rows in between. But never by more than
        # `limit`: a page padded with repeats of the previous page's rows holds more than
        # the window asked for, and counting them would skip as many real rows.
        if self.record_id:
            ids = [find(record, self.record_id) for record in records]
            # A record without an id cannot be recognised as a repeat: it counts as new, or
            # two of them would advance the offset by one and the next page repeat this one.
            nameless = sum(1 for i in ids if i in (None, ""))
            new = {i for i in ids if i not in (None, "") and i not in self._seen}
            self._seen.update(new)
            self._offset += len(new) + nameless
        else:
            self._offset += min(len(records), self.limit)
        if not records:
            self._has_next_page = False
        elif total is not None:
            self._has_next_page = self._offset < total
        else:
            self._has_next_page = len(records) >= self.limit

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Ask for the rows after those received."""
        request.params[self.offset_param] = self._offset


class PageNumberPaginator(Paginator):
    """`page`/`per_page` paging with an optional total page count in the body.

    Args:
        page_param: query parameter for the page number.
        size_param: query parameter for the page size; None when the vendor fixes it.
        size: page size asked for.
        total_pages_path: dotted body path of the page count; without it (or when it is
            absent) a short or empty page stops.
        base: number of the first page (1 for most vendors, 0 for some).
    """

    def __init__(
        self,
        page_param: str = "page",
        size_param: str | None = "per_page",
        size: int = 100,
        total_pages_path: str | None = "total_pages",
        base: int = 1,
    ) -> None:
        super().__init__()
        self.page_param = page_param
        self.size_param = size_param
        self.size = size
        self.total_pages_path = total_pages_path
        self.base = base
        self._page = base

    def init_request(self, request: PreparedRequestSpec) -> None:
        """Start at the caller's page (default `base`)."""
        start = _as_int(request.params.get(self.page_param), self.page_param)
        self._page = self.base if start is None else start
        request.params[self.page_param] = self._page
        if self.size_param:
            request.params[self.size_param] = self.size

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Move to the next page number unless this was the last."""
        total_pages = None
        if self.total_pages_path:
            total_pages = _as_int(find(_json(response), self.total_pages_path), "total pages")
        self._page += 1
        if not records:
            self._has_next_page = False
        elif total_pages is not None:
            self._has_next_page = self._page - self.base < total_pages
        else:
            self._has_next_page = len(records) >= self.size

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Ask for the next page number."""
        request.params[self.page_param] = self._page


class CursorPaginator(Paginator):
    """Range cursors: Clever's `links[rel=next]` or a cursor field in the body.

    Clever v3 answers `{"data": [...], "links": [{"rel": "next", "uri":
    "/v3.0/users?starting_after=<id>"}]}`; the uri is host-relative and paging ends when no
    `next` link is present (Clever's "Paging and limits" page). Parameters the caller set
    and the link omits are kept, so filters such as `role=student` survive a link that
    carries only the cursor.

    Args:
        cursor_param: query parameter set from `cursor_path`.
        next_link_rel: `rel` of the link to follow.
        links_path: dotted body path of the links array.
        cursor_path: dotted body path of a cursor value; when set, links are not read and
            the value is sent as `cursor_param` on the same URL.
        last_record_id: dotted path of the id inside each record; when set, the next
            request resumes after the last record actually received rather than where the
            link says. A page cut short in transit then costs a re-fetch, not a silent gap.
    """

    def __init__(
        self,
        cursor_param: str = "starting_after",
        next_link_rel: str = "next",
        links_path: str = "links",
        cursor_path: str | None = None,
        last_record_id: str | None = None,
    ) -> None:
        super().__init__()
        self.cursor_param = cursor_param
        self.next_link_rel = next_link_rel
        self.links_path = links_path
        self.cursor_path = cursor_path
        self.last_record_id = last_record_id
        self._next = ""
        self._last_id: str | None = None

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Find the next cursor or link; none means this was the last page."""
        document = _json(response)
        if self.cursor_path:
            cursor = find(document, self.cursor_path)
            self._next = "" if cursor in (None, "") else str(cursor)
        else:
            links = find(document, self.links_path) or []
            if not isinstance(links, list):
                raise PageFormatError(f"{self.links_path!r} is not a list of links")
            uris = [
                link.get("uri")
                for link in links
                if isinstance(link, dict) and link.get("rel") == self.next_link_rel
            ]
            self._next = urljoin(response.url, uris[0]) if uris and uris[0] else ""
            last = find(records[-1], self.last_record_id) if self.last_record_id and records else None
            self._last_id = None if last in (None, "") else str(last)
        self._has_next_page = bool(self._next)

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Send the cursor, or follow the link keeping parameters it does not override."""
        if self.cursor_path:
            request.params[self.cursor_param] = self._next
            return
        parts = urlsplit(self._next)
        request.url = urlunsplit(parts._replace(query="", fragment=""))
        request.params = {**request.params, **dict(parse_qsl(parts.query, keep_blank_values=True))}
        if self._last_id is not None:
            request.params[self.cursor_param] = self._last_id


class PageTokenPaginator(Paginator):
    """Opaque page tokens (Google Classroom `nextPageToken`, Ed-Fi 7.3 `Next-Page-Token`).

    Only the token decides: Google Classroom may return an EMPTY page that still carries a
    `nextPageToken` (the page was filtered server-side), and stopping there would drop the
    rest of the collection.

    Args:
        token_param: query parameter for the token.
        token_path: dotted body path of the next token.
        token_header: response header holding the token instead (Ed-Fi ODS/API ≥ 7.3).
    """

    def __init__(
        self,
        token_param: str = "pageToken",
        token_path: str = "nextPageToken",
        token_header: str | None = None,
    ) -> None:
        super().__init__()
        self.token_param = token_param
        self.token_path = token_path
        self.token_header = token_header
        self._token = ""

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Keep paging while the response carries a non-empty token."""
        if self.token_header:
            token = response.headers.get(self.token_header)
        else:
            token = find(_json(response), self.token_path)
        self._token = str(token) if token else ""
        self._has_next_page = bool(self._token)

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Send the token on the same URL and filters."""
        request.params[self.token_param] = self._token


class HeaderLinkPaginator(Paginator):
    """RFC 8288 (ex-5988) `Link` header paging (Canvas, OneRoster REST, LTI AGS).

    The next URL is opaque and complete: Canvas puts a bookmark, `per_page` and every
    filter in it, so it replaces the request's parameters instead of merging with them.

    Args:
        rel: link relation to follow.
    """

    def __init__(self, rel: str = "next") -> None:
        super().__init__()
        self.rel = rel
        self._next = ""

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Read the `Link` header; no matching relation means the last page."""
        link = response.links.get(self.rel, {}).get("url")
        self._next = urljoin(response.url, link) if link else ""
        self._has_next_page = bool(self._next)

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Follow the link."""
        request.url, request.params = self._next, {}


class BodyUrlPaginator(Paginator):
    """A next URL in the body: xAPI `more`, Schoology `links.next`.

    xAPI 1.0.3 Data §2.5: `more` is a relative IRL, empty when done, to be resolved
    against the LRS base with scheme, host and port omitted, and treated as opaque.

    Args:
        path: dotted body path of the next URL.
    """

    def __init__(self, path: str = "more") -> None:
        super().__init__()
        self.path = path
        self._next = ""

    def update_state(self, response: requests.Response, records: list[dict[str, Any]]) -> None:
        """Read the next URL; absent or empty means the last page."""
        link = find(_json(response), self.path)
        if link is not None and not isinstance(link, str):
            raise PageFormatError(f"{self.path!r} is not a URL string")
        self._next = urljoin(response.url, link) if link else ""
        self._has_next_page = bool(self._next)

    def update_request(self, request: PreparedRequestSpec) -> None:
        """Follow the URL: it is opaque and carries its whole query."""
        request.url, request.params = self._next, {}
