"""One logical request to a vendor API: rate budget, retries with backoff, and the error taxonomy.

`RestClient` owns one `Transport` and sends every request through `Transport.send`: each
attempt takes a slot of the rate budget, reads the whole body (keeping what arrived when
the connection breaks), maps the status to an `ErrorAction` (retry, refresh-then-retry,
ignore, fail) and, when the retries are spent, raises the typed error of `errors.py`.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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
from edassets.adapters.http.paginators import PreparedRequestSpec
from edassets.adapters.http.policy import (
    ErrorAction,
    RateLimit,
    RetryPolicy,
    is_throttled,
    server_wait_hint,
)
from edassets.adapters.http.redaction import redact_url

_log = logging.getLogger(__name__)

_CHUNK_BYTES = 64 * 1024


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


class Transport:
    """Sends the requests of one `RestClient` (see the module docstring).

    Args:
        session: the session every request goes through.
        auth: auth scheme, already bound to ``session``; None for none.
        rate_limit: the client-side budget shared with other clients of the vendor.
        retry: retry policy for transient failures.
        actions: the error action of every status that has one.
        timeout_s: connect and read timeout per attempt.
        headers: headers sent with every request.
        platform: platform name, for messages and logs.
        district: district id, for messages and logs.
        secret_params: query parameters to redact from URLs in messages.
        sleep: sleep function for backoff.
        clock: monotonic clock for the retry budget.
    """

    def __init__(
        self,
        *,
        session: requests.Session,
        auth: Auth | None,
        rate_limit: RateLimit,
        retry: RetryPolicy,
        actions: Mapping[int, ErrorAction],
        timeout_s: float,
        headers: Mapping[str, str],
        platform: str,
        district: str,
        secret_params: tuple[str, ...],
        sleep: Callable[[float], None],
        clock: Callable[[], float],
    ) -> None:
        self.platform = platform
        self.district = district
        self._session = session
        self._auth = auth
        self._rate_limit = rate_limit
        self._retry = retry
        self._actions = actions
        self._timeout_s = timeout_s
        self._headers = dict(headers)
        self._secret_params = secret_params
        self._sleep = sleep
        self._clock = clock

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

    def send(self, request: PreparedRequestSpec, page_index: int | None) -> requests.Response:
        """Send one request, retrying transient failures within the retry policy.

        Args:
            request: what to send.
            page_index: the page this request fetches, for a MalformedPayload; None for a GET.

        Returns:
            The response, body read; a status whose action is IGNORE is returned as is.

        Raises:
            AdapterError: a typed error (see `errors.py`).
        """
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
