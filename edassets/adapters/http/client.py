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
import urllib3
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    wait_exponential,
    wait_random,
)
from tenacity.wait import wait_base

from edassets.adapters.http.auth import Auth
from edassets.adapters.http.errors import (
    AdapterError,
    AuthError,
    CredentialExchangeError,
    MalformedPayload,
    RateLimited,
    RequestRejected,
    UpstreamUnavailable,
)
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
    is_throttled,
    server_wait_hint,
)
from edassets.adapters.http.redaction import (
    guard_library_loggers,
    redact_headers,
    redact_url,
)

_log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024


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


class _Transient(Exception):
    """An attempt failed in a way worth retrying; converted to a typed error at the end."""

    def __init__(
        self,
        label: str,
        status: int | None,
        *,
        throttled: bool = False,
        retry_after: float | None = None,
        partial_body: bytes | None = None,
    ) -> None:
        super().__init__(label)
        self.label = label
        self.status = status
        self.throttled = throttled
        self.retry_after = retry_after
        self.partial_body = partial_body


@dataclass
class _Progress:
    """Bookkeeping of one logical request across its attempts."""

    display: str
    started: float
    attempts: int = 0
    refreshed: bool = False


class RestClient:
    """HTTP client for one vendor API and one district.

    Args:
        base_url: API root; request paths are appended to it, absolute URLs (LTI AGS
            endpoints from launch claims) are used as given.
        auth: auth scheme from `auth.py`.
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
        self._auth = auth
        self._paginator = paginator or SinglePagePaginator()
        self._rate_limit = rate_limit or RateLimit(None)
        self._retry = retry or RetryPolicy()
        self._actions = default_error_actions() | dict(error_actions or {})
        self._timeout_s = timeout_s
        self._session = session or requests.Session()
        self._headers = dict(headers or {})
        self._sleep = sleep
        self._clock = clock
        self._secret_params = auth.secret_params if auth else ()
        if auth is not None:
            auth.bind(self._session, timeout_s)
        guard_library_loggers(auth.secrets if auth else ())

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
        return self._send(request, page_index=None)

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
            response = self._send(request, page_index=index)
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

    def _describe(self, request: PreparedRequestSpec) -> str:
        url = requests.Request(request.method, request.url, params=request.params).prepare().url
        return f"{request.method} {redact_url(url or request.url, self._secret_params)}"

    def _context(self, progress: _Progress, status: int | None, outcome: str) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "district": self.district,
            "request": progress.display,
            "status": status,
            "outcome": outcome,
        }

    def _send(self, request: PreparedRequestSpec, page_index: int | None) -> requests.Response:
        progress = _Progress(display=self._describe(request), started=self._clock())
        policy = self._retry
        backoff: wait_base = wait_exponential(
            multiplier=policy.backoff_base_s, max=policy.backoff_max_s
        )
        if policy.jitter:
            backoff += wait_random(0, policy.backoff_base_s)

        def wait(state: RetryCallState) -> float:
            failure = state.outcome.exception() if state.outcome else None
            hint = failure.retry_after if isinstance(failure, _Transient) else None
            return backoff(state) if hint is None else hint

        def stop(state: RetryCallState) -> bool:
            # Stop rather than start a wait that would end past the budget.
            elapsed = self._clock() - progress.started
            return (
                state.attempt_number >= policy.max_attempts
                or elapsed + state.upcoming_sleep > policy.max_elapsed_s
            )

        def announce(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            _log.info(
                "%s/%s: %s → %s; retrying in %.1fs (attempt %d of %d)",
                self.platform or "-",
                self.district or "-",
                progress.display,
                failure,
                state.upcoming_sleep,
                state.attempt_number + 1,
                policy.max_attempts,
            )

        retrying = Retrying(
            stop=stop,
            wait=wait,
            retry=retry_if_exception_type(_Transient),
            before_sleep=announce,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(self._attempt, request, progress)
        except _Transient as exc:
            raise self._exhausted(exc, progress, page_index) from None

    def _attempt(self, request: PreparedRequestSpec, progress: _Progress) -> requests.Response:
        progress.attempts += 1
        while True:
            response = self._exchange(request, progress)
            action = self._action_for(response)
            if action is None or action is ErrorAction.IGNORE:
                return response
            status = response.status_code
            if action is ErrorAction.RETRY:
                raise _Transient(
                    str(status),
                    status,
                    throttled=is_throttled(response),
                    retry_after=server_wait_hint(response),
                )
            if action is ErrorAction.REFRESH_THEN_RETRY:
                if not progress.refreshed and self._refresh(progress):
                    progress.refreshed = True
                    continue
                # A 2xx here is a session that ended on the login page (FormLoginSession).
                label = str(status) if status >= 400 else f"{status} on the login page"
                outcome = f"{label} after refreshing credentials" if progress.refreshed else label
                raise AuthError(**self._context(progress, status, outcome))
            raise self._failure(response, progress)

    def _exchange(self, request: PreparedRequestSpec, progress: _Progress) -> requests.Response:
        with self._rate_limit.slot():
            sent = self._clock()
            try:
                response = self._session.request(
                    request.method,
                    request.url,
                    params=request.params,
                    headers={**self._headers, **request.headers},
                    json=request.json,
                    auth=self._auth,
                    timeout=self._timeout_s,
                    stream=True,
                )
            except CredentialExchangeError as exc:
                raise self._credential_failure(exc, progress) from None
            except (requests.Timeout, requests.ConnectionError) as exc:
                self._log_attempt(progress, type(exc).__name__, sent)
                # No `from exc`: requests' messages contain the full URL, query and all.
                raise _Transient(type(exc).__name__, None) from None
            try:
                self._read_body(response)
            finally:
                self._log_attempt(progress, response.status_code, sent)
        return response

    @staticmethod
    def _read_body(response: requests.Response) -> None:
        """Read the whole body, keeping what arrived if the connection breaks.

        `read1` hands over each piece as it arrives; requests' `iter_content` (urllib3
        `read(amt)`) buffers internally and loses the partial bytes when it raises.
        Content-Encoding (gzip) is decoded: the bytes are the entity the vendor sent.
        """
        chunks: list[bytes] = []
        try:
            while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
                chunks.append(chunk)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            # Fewer bytes than Content-Length, a reset, a read timeout: usually transient,
            # so retried; the partial bytes are kept for MalformedPayload if every
            # attempt breaks.
            response.close()
            partial = b"".join(chunks)
            label = f"{response.status_code} with a body cut off after {len(partial)} bytes"
            raise _Transient(
                f"{label} ({type(exc).__name__})", response.status_code, partial_body=partial
            ) from None
        body = b"".join(chunks)
        # Where requests keeps a read body, so .json()/.text work for paginators; marking
        # it consumed makes close() return the connection to the pool instead of dropping it.
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]  # requests' own flag, not in its stubs
        response.close()

    def _log_attempt(self, progress: _Progress, status: int | str, sent: float) -> None:
        elapsed = self._clock() - sent
        _log.debug(
            "http %s status=%s attempt=%d elapsed_s=%.3f platform=%s district=%s",
            progress.display,
            status,
            progress.attempts,
            elapsed,
            self.platform,
            self.district,
            extra={
                "http": {
                    "request": progress.display,
                    "status": status,
                    "attempt": progress.attempts,
                    "elapsed_s": round(elapsed, 3),
                    "platform": self.platform,
                    "district": self.district,
                }
            },
        )

    def _action_for(self, response: requests.Response) -> ErrorAction | None:
        if self._auth is not None and self._auth.session_expired(response):
            return ErrorAction.REFRESH_THEN_RETRY
        status = response.status_code
        if status < 400:
            return None
        if status == 403 and is_throttled(response):
            return ErrorAction.RETRY
        return self._actions.get(status, ErrorAction.FAIL)

    def _refresh(self, progress: _Progress) -> bool:
        if self._auth is None:
            return False
        try:
            return self._auth.on_unauthorized()
        except CredentialExchangeError as exc:
            raise self._credential_failure(exc, progress) from None

    def _credential_failure(self, exc: CredentialExchangeError, progress: _Progress) -> Exception:
        where = f"{exc.status or exc.reason} from {exc.request}"
        if exc.retryable:
            return _Transient(where, exc.status)
        return AuthError(**self._context(progress, exc.status, f"{where}: {exc.reason}"))

    def _failure(self, response: requests.Response, progress: _Progress) -> AdapterError:
        status = response.status_code
        context = self._context(progress, status, str(status))
        if status in (401, 403):
            return AuthError(**context)
        if is_throttled(response):
            return RateLimited(retry_after=server_wait_hint(response), **context)
        if status >= 500:
            return UpstreamUnavailable(**context)
        return RequestRejected(**context)

    def _exhausted(
        self, exc: _Transient, progress: _Progress, page_index: int | None
    ) -> AdapterError:
        elapsed = self._clock() - progress.started
        attempts = f"{progress.attempts} attempt{'s' if progress.attempts != 1 else ''}"
        outcome = f"{exc.label} after {attempts} over {elapsed:.1f}s"
        if exc.retry_after is not None:
            outcome += f" (server asked to wait {exc.retry_after:.1f}s)"
        context = self._context(progress, exc.status, outcome)
        if exc.partial_body is not None:
            return MalformedPayload(page_index=page_index, body=exc.partial_body, **context)
        if exc.throttled:
            return RateLimited(retry_after=exc.retry_after, **context)
        return UpstreamUnavailable(**context)

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
