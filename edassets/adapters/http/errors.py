"""Typed errors the HTTP adapters raise, one class per thing an operator does about it.

Airbyte's declarative CDK maps every failure to a failure type and a message someone can
act on; these classes are that taxonomy. `str(error)` is always one line naming the
platform, district, method, redacted URL and outcome, e.g.::

    rostering_api/d1: GET https://api.example.com/v3.0/users?limit=100 → 503 after 5 attempts
    over 12.3s: upstream unavailable; retry later or check the vendor status page

(on one line). Messages never carry secrets (URLs are redacted by the caller) nor response
bodies, which may hold student PII; `MalformedPayload.body` keeps the raw bytes as an
attribute so the caller can archive them.
"""

from typing import Any, ClassVar


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _restore(cls: type["AdapterError"], state: dict[str, Any]) -> "AdapterError":
    error = cls.__new__(cls)
    error.__dict__.update(state)
    return error


class AdapterError(Exception):
    """Base of every error an HTTP adapter raises.

    Attributes:
        platform: the platform spec's name.
        district: district id the request ran for.
        request: method and redacted URL, e.g. "GET https://host/v3.0/users?limit=100".
        status: last HTTP status seen, None when no response arrived.
        outcome: what happened, e.g. "503 after 5 attempts over 12.3s".
        advice: what the operator should do about it.
    """

    default_advice: ClassVar[str] = "request failed"

    def __init__(
        self,
        *,
        platform: str,
        district: str,
        request: str,
        status: int | None,
        outcome: str,
        advice: str | None = None,
    ) -> None:
        super().__init__()
        self.platform = platform
        self.district = district
        self.request = request
        self.status = status
        self.outcome = outcome
        self.advice = advice or self.default_advice

    def __str__(self) -> str:
        where = f"{self.platform or '-'}/{self.district or '-'}"
        return _one_line(f"{where}: {self.request} → {self.outcome}: {self.advice}")

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors break Exception's default pickling (it replays
        # self.args); Dagster's multiprocess executor pickles errors across processes.
        return (_restore, (type(self), dict(self.__dict__)))


class AuthError(AdapterError):
    """The vendor refused the credentials (401/403 after one refresh, or a failed login)."""

    default_advice = (
        "credentials rejected; check this district's credentials and the app's "
        "authorization with the vendor"
    )


class RateLimited(AdapterError):
    """Still throttled when the retry budget ran out.

    Attributes:
        retry_after: seconds the server last asked us to wait, None when it did not say.
    """

    default_advice = "rate limited; lower the platform's rate budget or run again later"

    def __init__(self, *, retry_after: float | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.retry_after = retry_after


class UpstreamUnavailable(AdapterError):
    """5xx responses, connection errors or timeouts that outlasted the bounded retries."""

    default_advice = "upstream unavailable; retry later or check the vendor status page"


class RequestRejected(AdapterError):
    """A 4xx other than auth or throttling: the request itself is wrong for this vendor."""

    default_advice = (
        "request rejected; check the endpoint path, parameters and the district's "
        "data-sharing permissions"
    )


class MalformedPayload(AdapterError):
    """The response cannot be read as the spec says (bad JSON, no records path, truncated).

    Attributes:
        page_index: 0-based page number within the pagination, None for a single `get`.
        body: the raw bytes received, for the caller to archive; never put in the message.
        archive_key: where the caller archived `body`; fill it in before re-raising so the
            message points the operator at the evidence.
    """

    def __init__(
        self,
        *,
        page_index: int | None,
        body: bytes,
        archive_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.page_index = page_index
        self.body = body
        self.archive_key = archive_key

    def __str__(self) -> str:
        page = "" if self.page_index is None else f" on page {self.page_index}"
        evidence = (
            f"raw body archived at {self.archive_key}"
            if self.archive_key
            else "archive error.body to inspect it"
        )
        where = f"{self.platform or '-'}/{self.district or '-'}"
        return _one_line(
            f"{where}: {self.request} → {self.outcome}{page} ({len(self.body)} bytes): "
            f"malformed payload; {evidence} and compare it with the vendor's documented format"
        )


class CredentialExchangeError(Exception):
    """An auth scheme failed to obtain credentials (token endpoint, login form).

    Raised by `auth.py` without platform context; `RestClient` turns it into `AuthError`
    (or retries it when `retryable`).

    Attributes:
        request: method and redacted URL of the credential request.
        status: HTTP status of the credential endpoint, None when no response arrived.
        reason: short, secret-free description (an OAuth error code, "login rejected").
        retryable: True for 5xx/429/connection failures worth retrying.
    """

    def __init__(self, *, request: str, status: int | None, reason: str, retryable: bool) -> None:
        super().__init__(_one_line(f"{request} → {status or 'no response'}: {reason}"))
        self.request = request
        self.status = status
        self.reason = reason
        self.retryable = retryable
