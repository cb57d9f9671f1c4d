"""`RestClient`: one vendor API with its auth, paging, rate budget, retries and error taxonomy.

Platform modules never hold a session; they declare auth, paginator, rate limit and error
overrides in their spec, and the asset factory builds one `RestClient` per (platform,
district) from it. `paginate` yields `Page`s carrying the exact bytes received, so the
caller archives a page before anything parses it, and a page that cannot be parsed
raises `MalformedPayload` carrying those bytes.
"""

import copy
import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import requests

from edassets.adapters.http.auth import Auth
from edassets.adapters.http.errors import MalformedPayload
from edassets.adapters.http.paginators import (
    Paginator,
    PreparedRequestSpec,
    SinglePagePaginator,
    find,
)
from edassets.adapters.http.policy import (
    ErrorAction,
    RateLimit,
    RetryPolicy,
    default_error_actions,
)
from edassets.adapters.http.redaction import (
    guard_library_loggers,
    redact_headers,
    redact_url,
)
from edassets.adapters.http.transport import Transport

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    """One response of a paginated read.

    Attributes:
        index: 0-based page number within this `paginate` call.
        url: final URL of the response, redacted.
        status: HTTP status.
        headers: response headers, redacted.
        body: the bytes received, exactly; archive these before trusting `records`.
        records: the list found at the records path.
        fetched_at: when the body finished arriving (UTC).
    """

    index: int
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    records: list[dict[str, Any]]
    fetched_at: datetime


class RestClient:
    """HTTP client for one vendor API and one district.

    Args:
        base_url: API root; request paths are appended to it, absolute URLs (LTI AGS
            endpoints from launch claims) are used as given.
        auth: auth scheme (`edassets.adapters.http.auth`).
        paginator: default paging strategy; single page when None.
        rate_limit: client-side budget; share one instance between clients spending the
            same vendor budget. None gives this client its own unlimited budget with one
            request in flight (a shared default instance would serialise every client).
        retry: retry policy for transient failures.
        error_actions: per-status overrides of `default_error_actions()`.
        timeout_s: connect and read timeout per attempt.
        platform: platform name, for messages and logs.
        district: district id, for messages and logs.
        session: requests session to use (one is created when None).
        headers: headers sent with every request (e.g. `X-Experience-API-Version`).
        sleep: sleep function for backoff (injectable for tests).
        clock: monotonic clock for the retry budget (injectable for tests).
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        paginator: Paginator | None = None,
        rate_limit: RateLimit | None = None,
        retry: RetryPolicy | None = None,
        error_actions: Mapping[int, ErrorAction] | None = None,
        timeout_s: float = 30,
        platform: str = "",
        district: str = "",
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.platform = platform
        self.district = district
        self._paginator = paginator or SinglePagePaginator()
        self._retry = retry or RetryPolicy()
        self._session = session or requests.Session()
        self._sleep = sleep
        self._secret_params = auth.secret_params if auth else ()
        if auth is not None:
            auth.bind(self._session, timeout_s)
        guard_library_loggers(auth.secrets if auth else ())
        self._transport = Transport(
            session=self._session,
            auth=auth,
            rate_limit=rate_limit or RateLimit(None),
            retry=self._retry,
            actions=default_error_actions() | dict(error_actions or {}),
            timeout_s=timeout_s,
            headers=headers or {},
            platform=platform,
            district=district,
            secret_params=self._secret_params,
            sleep=sleep,
            clock=clock,
        )

    def __repr__(self) -> str:
        return (
            f"RestClient({self.base_url!r}, platform={self.platform!r}, district={self.district!r})"
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session's pooled connections."""
        self._session.close()

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> requests.Response:
        """One GET with retries and the error taxonomy applied.

        Args:
            path: path under `base_url`, or an absolute URL.
            params: query parameters.

        Returns:
            The response with its body read; a status the spec maps to IGNORE is returned
            as is.

        Raises:
            AdapterError: a typed error (see `errors.py`).
        """
        request = PreparedRequestSpec("GET", self._url(path), dict(params or {}))
        return self._transport.send(request, page_index=None)

    def paginate(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        records_path: str | None,
        paginator: Paginator | None = None,
        absent_means_empty: bool = False,
    ) -> Iterator[Page]:
        """Yield every page of a collection.

        Each page is yielded before the paginator reads it, so a caller that archives
        pages keeps the evidence even when the next-page field is broken. A response the
        spec maps to IGNORE ends the pagination without a page (e.g. a 404 for a child
        collection of a deleted parent).

        Args:
            path: path under `base_url`, or an absolute URL.
            params: query parameters of the first request (filters, an offset or cursor
                to resume from).
            records_path: dotted path of the record list ("users", "data",
                "result.items"); "" or None when the body is the list.
            paginator: strategy for this call instead of the client's default; it is
                deep-copied, so a spec's instance is never mutated.
            absent_means_empty: read a missing records path as no records. Google APIs
                render proto3 JSON, which omits empty repeated fields, so an empty
                Classroom page is `{"nextPageToken": "…"}` with no `courses` key.
                Off by default: elsewhere a missing path is a spec or vendor error, and
                reading it as "no rows" would deactivate a whole snapshot.

        Yields:
            Pages in order.

        Raises:
            MalformedPayload: invalid JSON, missing records path, truncated body, or a
                next-page request identical to the last one.
            AdapterError: other typed errors (see `errors.py`).
        """
        request = PreparedRequestSpec("GET", self._url(path), dict(params or {}))
        pager = copy.deepcopy(paginator or self._paginator)
        pager.init_request(request)
        index = 0
        while True:
            fetched = self._fetch_page(request, index, records_path, absent_means_empty)
            if fetched is None:  # only IGNOREd statuses end a pagination early
                return
            response, records = fetched
            yield Page(
                index=index,
                url=redact_url(response.url, self._secret_params),
                status=response.status_code,
                headers=redact_headers(response.headers),
                body=response.content,
                records=records,
                fetched_at=datetime.now(UTC),
            )
            try:
                pager.update_state(response, records)
            except ValueError as exc:  # PageFormatError, or a next-page field in bad JSON
                raise self._malformed(
                    response, index, f"pagination field unusable ({exc})"
                ) from None
            if not pager.has_next_page:
                return
            previous = (request.url, dict(request.params))
            pager.update_request(request)
            if (request.url, request.params) == previous:
                raise self._malformed(response, index, "next-page request repeats this one")
            index += 1

    def _fetch_page(
        self, request: PreparedRequestSpec, index: int, records_path: str | None, absent_means_empty: bool
    ) -> tuple[requests.Response, list[dict[str, Any]]] | None:
        """One page, re-requested when its body does not parse.

        A 200 whose JSON is cut short or replaced by an HTML error page is, in practice, a
        proxy or load-balancer hiccup: asking again usually gets the real page. Only when
        every attempt of the retry policy fails does the last body become a MalformedPayload.
        """
        attempt = 1
        while True:
            response = self._transport.send(request, page_index=index)
            if response.status_code >= 400:
                return None
            try:
                return response, self._records(response, records_path, index, absent_means_empty)
            except MalformedPayload:
                if attempt >= self._retry.max_attempts:
                    raise
            _log.info("%s/%s: page %d did not parse (attempt %d), asking again", self.platform, self.district,
                      index, attempt)
            self._sleep(min(self._retry.backoff_base_s * 2 ** (attempt - 1), self._retry.backoff_max_s))
            attempt += 1

    def _url(self, path: str) -> str:
        if urlsplit(path).scheme:
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path else self.base_url

    def _records(
        self,
        response: requests.Response,
        records_path: str | None,
        page_index: int,
        absent_means_empty: bool,
    ) -> list[dict[str, Any]]:
        try:
            document = json.loads(response.content)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
            raise self._malformed(response, page_index, reason) from None
        except UnicodeDecodeError:
            raise self._malformed(response, page_index, "body is not UTF-8/16/32 text") from None
        records = find(document, records_path)
        if records is None and absent_means_empty and isinstance(document, dict):
            return []
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            where = repr(records_path) if records_path else "the body"
            raise self._malformed(
                response, page_index, f"records path {where} is missing or not a list of objects"
            )
        return records

    def _malformed(
        self, response: requests.Response, page_index: int, reason: str
    ) -> MalformedPayload:
        request = response.request
        display = f"{request.method} {redact_url(request.url or '', self._secret_params)}"
        return MalformedPayload(
            page_index=page_index,
            body=response.content,
            platform=self.platform,
            district=self.district,
            request=display,
            status=response.status_code,
            outcome=f"{response.status_code}: {reason}",
        )
