"""Rate budgets, retry policy and what to do about each HTTP status.

The status → action table is Airbyte's declarative error handler in miniature (retry,
refresh-then-retry, ignore, fail); `RateLimit` is its declared call-rate budget. Server
throttling hints (`Retry-After`, `X-RateLimit-Reset`) are read here; `client.py` decides
how long it may actually wait.
"""

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from enum import Enum

import requests


class ErrorAction(Enum):
    """What the client does with a response status."""

    RETRY = "retry"
    REFRESH_THEN_RETRY = "refresh_then_retry"
    IGNORE = "ignore"
    FAIL = "fail"


def default_error_actions() -> dict[int, ErrorAction]:
    """The status table every platform starts from; a spec overrides single statuses.

    Statuses not listed fail (4xx → `RequestRejected`, 5xx → `UpstreamUnavailable`).
    A 403 that is really throttling (Canvas) is recognised by `is_throttled`, not here.

    Returns:
        A fresh dict the caller may update.
    """
    retry = ErrorAction.RETRY
    return {
        401: ErrorAction.REFRESH_THEN_RETRY,
        403: ErrorAction.FAIL,
        404: ErrorAction.FAIL,
        408: retry,
        429: retry,
        500: retry,
        502: retry,
        503: retry,
        504: retry,
    }


def is_throttled(response: requests.Response) -> bool:
    """Whether a response says "slow down" rather than "no".

    Canvas throttles with `403 Forbidden (Rate Limit Exceeded)` and a non-positive
    `X-Rate-Limit-Remaining`, not with 429 (Canvas "Throttling" API docs), so a 403 counts
    as throttling when its body or that header says so.

    Args:
        response: a response whose body has been read.

    Returns:
        True for 429 and for Canvas-style throttling 403s.
    """
    if response.status_code == 429:
        return True
    if response.status_code != 403:
        return False
    if b"rate limit exceeded" in response.content[:1024].lower():
        return True
    remaining = response.headers.get("X-Rate-Limit-Remaining")
    try:
        return remaining is not None and float(remaining) <= 0
    except ValueError:
        return False


# Reset values above this are Unix epoch seconds; below, delta seconds. Clever documents
# X-RateLimit-Reset as an epoch timestamp, the IETF RateLimit-Reset draft as delta-seconds,
# and vendors mix both under either name.
_EPOCH_THRESHOLD = 1_000_000_000


def server_wait_hint(
    response: requests.Response, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds the server asked us to wait, from its throttling headers.

    Reads `Retry-After` (delta seconds or HTTP-date, RFC 9110 §10.2.3), then
    `X-RateLimit-Reset` / `RateLimit-Reset` (epoch or delta seconds).

    Args:
        response: the throttled (or 503) response.
        now: wall clock in epoch seconds; HTTP dates and epoch resets are wall-clock.

    Returns:
        Non-negative seconds, or None when no header gives a usable value.
    """
    retry_after = response.headers.get("Retry-After")
    if retry_after:
        value = retry_after.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - now())
        except (TypeError, ValueError):
            pass
    for name in ("X-RateLimit-Reset", "RateLimit-Reset"):
        reset = response.headers.get(name)
        if not reset:
            continue
        try:
            seconds = float(reset)
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds - now() if seconds > _EPOCH_THRESHOLD else seconds)
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry transient failures.

    Attributes:
        max_attempts: total attempts per request, first included.
        max_elapsed_s: wall budget per request; no wait may run past it.
        backoff_base_s: first backoff; doubles per attempt.
        backoff_max_s: cap on one computed backoff (server hints may ask for longer).
        jitter: add up to `backoff_base_s` of random jitter to each backoff.
    """

    max_attempts: int = 5
    max_elapsed_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be ≥ 1, got {self.max_attempts}")
        if self.max_elapsed_s <= 0 or self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("retry budget and backoff durations must be positive")


class RateLimit:
    """A client-side call budget: request spacing plus a concurrency cap.

    A token bucket of capacity one: requests are spaced at least `1 / requests_per_second`
    apart, never bursting, because vendor limits are windows we must not exceed at their
    edges (Clever: 1,200/min per token). Share one instance between every client that
    spends the same vendor budget. Thread-safe.

    Args:
        requests_per_second: sustained rate; None means no spacing.
        concurrency: requests in flight at once.
        clock: monotonic clock (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        requests_per_second: float | None,
        concurrency: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be positive, got {requests_per_second}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be ≥ 1, got {concurrency}")
        self.requests_per_second = requests_per_second
        self.concurrency = concurrency
        self._clock = clock
        self._sleep = sleep
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next_start = -math.inf

    def __repr__(self) -> str:
        return f"RateLimit({self.requests_per_second!r}, concurrency={self.concurrency})"

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for budget, then hold one concurrency slot for the duration of a request."""
        with self._slots:
            if self.requests_per_second is not None:
                with self._lock:
                    now = self._clock()
                    start = max(now, self._next_start)
                    self._next_start = start + 1.0 / self.requests_per_second
                if start > now:
                    self._sleep(start - now)
            yield
