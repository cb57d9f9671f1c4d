"""The HTTP vocabulary the sandbox server and its emulators share: calls, responses, auth headers.

The server (`server.py`) owns sockets, routing, caching and faults; an emulator answers a
`Call` with a `Response`. Everything here is vendor-neutral: a JSON body, a Bearer or Basic
header, a bounded integer parameter, a request log entry that holds no secret.
"""

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit

# Query parameters whose values are secrets wherever a client puts them (RFC 6750 §2.3 allows
# `access_token` in the query): they never reach the request log.
_SECRET_PARAMS = frozenset({"access_token", "client_secret", "client_id", "token", "password", "api_key"})


@dataclass
class Response:
    """What the server sends back.

    Attributes:
        status: HTTP status.
        body: the body bytes.
        headers: response headers (Content-Length is added by the server).
        send_bytes: send only this many body bytes, then close: a Content-Length the body
            does not honour.
    """

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_bytes: int | None = None


@dataclass
class Exchange:
    """What the router and the emulator learn while handling one request, for the log."""

    platform: str | None = None
    district_id: str | None = None
    faults: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Call:
    """One request as an emulator sees it.

    Attributes:
        method: HTTP method.
        parts: the path's segments, URL-decoded.
        query: query parameters (the last value of a repeated name wins).
        raw_query: the query string as sent (for links that must repeat it).
        headers: request headers.
        body: request body.
        url: absolute URL of the path as the client addressed it (Host header honoured).
        exchange: where the emulator notes the district and the faults applied.
    """

    method: str
    parts: tuple[str, ...]
    query: Mapping[str, str]
    raw_query: str
    headers: Message
    body: bytes
    url: str
    exchange: Exchange


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it, for assertions. Holds no secret.

    Attributes:
        method: HTTP method.
        path: path and query, values of secret-bearing query parameters redacted.
        status: status sent.
        platform: the emulator that answered, or None (no route).
        district_id: the district served, when known.
        faults: fault kinds that changed this response.
    """

    method: str
    path: str
    status: int
    platform: str | None
    district_id: str | None
    faults: tuple[str, ...]


class QueryError(Exception):
    """A query parameter the emulator rejects with 400.

    Attributes:
        code_minor: the vendor's error code for it, where the vendor has one.
    """

    def __init__(self, message: str, code_minor: str = "invalid_selection_field") -> None:
        super().__init__(message)
        self.code_minor = code_minor


def json_response(status: int, document: object, headers: Mapping[str, str] | None = None) -> Response:
    """A compact JSON answer."""
    body = json.dumps(document, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def redact(target: str) -> str:
    """A request target with the values of secret-bearing query parameters replaced."""
    split = urlsplit(target)
    if not split.query:
        return split.path
    pairs = [(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v)
             for k, v in parse_qsl(split.query, keep_blank_values=True)]
    return f"{split.path}?{urlencode(pairs)}"


def bearer(headers: Message) -> str | None:
    """The Bearer token of the Authorization header, if any."""
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def basic(headers: Message) -> tuple[str, str] | None:
    """HTTP Basic credentials; RFC 6749 §2.3.1 form-encodes both halves first."""
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(user), unquote_plus(secret)


def same(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a presented secret with the expected one."""
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def int_param(query: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    """An integer query parameter, `default` when absent.

    Raises:
        QueryError: not an integer, or below `minimum`.
    """
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None
    if value < minimum:
        raise QueryError(f"{name} must be at least {minimum}")
    return value
