"""The sandbox: the vendor APIs and file drops of the synthetic world, served over real HTTP.

No vendor is reachable from here (ARCHITECTURE decision 9), so adapters, assets and tests
talk to this server exactly as they would to the vendor: same URLs shape, auth, paging,
envelopes, errors and rate limits, plus switchable faults (`faults.py`). What it serves is
`world.state(district, today)` rendered by `render.py`, so the truth is known.

URL layout (`{url}` = `SandboxServer.url`):

    POST {url}/oneroster/{district}/oauth/token                     OneRoster OAuth 2 client credentials
    GET  {url}/oneroster/{district}/ims/oneroster/v1p1/{collection}  OneRoster 1.1 REST (K12_FORMATS §1.1)
    GET  {url}/v3.0/{collection}                                     Clever Data API v3.0 (§1.2)
    GET  {url}/clever/v3.0/{collection}                              the same Clever API, under a prefix
    GET  {url}/files/{district}/oneroster.zip                        OneRoster 1.1 CSV drop (flat zip)
    GET  {url}/files/{district}/nwea_map.zip                         NWEA MAP Growth export drop

OneRoster picks the district by path (each district runs its own SIS endpoint); Clever by
bearer token (one token per district app, §1.2), as in reality. Credentials come from
`credentials.SandboxCredentials.for_district(district, seed)`.
"""

import base64
import binascii
import hmac
import io
import json
import logging
import math
import operator
import re
import secrets
import threading
import time
import zipfile
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, unquote_plus, urlencode, urlsplit

import pandas as pd

from edassets.sandbox.credentials import CREDENTIAL_NAMES, SandboxCredentials, env_var_name
from edassets.sandbox.faults import (
    ID_FIELDS,
    ActiveFaults,
    FaultInjector,
    FaultPlan,
    corrupt_record,
    get_path,
    rename_field,
)

__all__ = [
    "CLEVER_COLLECTIONS",
    "ONEROSTER_COLLECTIONS",
    "LoggedRequest",
    "Renderers",
    "SandboxServer",
    "serve",
]

_log = logging.getLogger(__name__)

Record = Mapping[str, Any]

ONEROSTER_COLLECTIONS = ("orgs", "academicSessions", "courses", "classes", "users", "enrollments", "demographics")
CLEVER_COLLECTIONS = ("districts", "schools", "users", "sections", "courses", "terms")
_CLEVER_ROLES = frozenset({"student", "teacher", "staff", "district_admin", "contact"})
_FILE_DROPS = {"oneroster.zip": "oneroster_csv", "nwea_map.zip": "nwea_map"}

_ONEROSTER_DEFAULT_LIMIT, _ONEROSTER_MAX_LIMIT = 100, 5000  # §1.1: spec default 100; MS SDS asks for 5000
_CLEVER_DEFAULT_LIMIT, _CLEVER_MAX_LIMIT = 100, 10_000  # §1.2: larger than 10000 → 413
# Aeries-style OAuth 2 scopes for OneRoster 1.1 (§1.1 Auth).
_ONEROSTER_SCOPES = ("https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly "
                     "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly")
# Query parameters whose values are secrets wherever a client puts them (RFC 6750 §2.3 allows
# `access_token` in the query): they never reach the request log.
_SECRET_PARAMS = frozenset({"access_token", "client_secret", "client_id", "token", "password"})
_HTML_ERROR = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
               b"</center><hr><center>nginx</center></body></html>")


# --- the world the server renders ---------------------------------------------------------


class _District(Protocol):
    @property
    def district_id(self) -> str: ...


class _WorldOptions(Protocol):
    @property
    def districts(self) -> Sequence[_District]: ...


class SandboxWorld(Protocol):
    """What the server needs of `edassets.sandbox.world.World`."""

    @property
    def options(self) -> _WorldOptions:
        """The options the world was generated from; `districts` lists the districts served."""
        ...

    def state(self, district_id: str, as_of: date) -> Any:
        """The district as of a day (a `WorldState`)."""
        ...


@dataclass(frozen=True)
class Renderers:
    """The pure functions that turn a world state into each vendor's wire format.

    The seam tests use to serve small fake worlds; the default is `edassets.sandbox.render`.

    Attributes:
        oneroster_rest_records: (state, collection) -> OneRoster 1.1 JSON records.
        clever_records: (state, collection) -> Clever v3.0 records, sorted by ascending id.
        oneroster_csv_files: state -> file name -> bytes of a OneRoster CSV drop.
        nwea_map_files: state -> file name -> bytes of a NWEA MAP Growth export.
    """

    oneroster_rest_records: Callable[[Any, str], list[dict[str, Any]]]
    clever_records: Callable[[Any, str], list[dict[str, Any]]]
    oneroster_csv_files: Callable[[Any], dict[str, bytes]]
    nwea_map_files: Callable[[Any], dict[str, bytes]]

    @classmethod
    def default(cls) -> "Renderers":
        """The real renderers of `edassets.sandbox.render`."""
        from edassets.sandbox import render

        return cls(render.oneroster_rest_records, render.clever_records, render.oneroster_csv_files,
                   render.nwea_map_files)


# --- requests and responses ---------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the sandbox saw it, for assertions. Holds no secret.

    Attributes:
        method: HTTP method.
        path: path and query, values of secret-bearing query parameters redacted.
        status: status sent.
        platform: `oneroster_rest`, `clever`, `oneroster_csv`, `nwea_map`, or None (no route).
        district_id: the district served, when known.
        faults: fault kinds that changed this response.
    """

    method: str
    path: str
    status: int
    platform: str | None
    district_id: str | None
    faults: tuple[str, ...]


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    send_bytes: int | None = None
    """Send only this many body bytes, then close: a Content-Length the body does not honour."""


@dataclass
class _Exchange:
    """What the router learns while handling one request, for the log."""

    platform: str | None = None
    district_id: str | None = None
    faults: list[str] = field(default_factory=list)


class _QueryError(Exception):
    """A query parameter the server rejects with 400."""

    def __init__(self, message: str, code_minor: str) -> None:
        super().__init__(message)
        self.code_minor = code_minor


def _json(status: int, document: object, headers: Mapping[str, str] | None = None) -> _Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return _Response(status, body, {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


def _imsx(status: int, code_minor: str, description: str, headers: Mapping[str, str] | None = None) -> _Response:
    """A OneRoster error: an imsx_StatusInfo document (§1.1 Deletions/errors)."""
    return _json(status, {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor},
        ]},
    }, headers)


def _oauth_error(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> _Response:
    """A token endpoint error (RFC 6749 §5.2)."""
    return _json(status, {"error": error, "error_description": description}, headers)


def _redact(target: str) -> str:
    split = urlsplit(target)
    if not split.query:
        return split.path
    pairs = [(k, "REDACTED" if k.lower() in _SECRET_PARAMS else v)
             for k, v in parse_qsl(split.query, keep_blank_values=True)]
    return f"{split.path}?{urlencode(pairs)}"


def _bearer(headers: Message) -> str | None:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip() or None


def _basic(headers: Message) -> tuple[str, str] | None:
    """HTTP Basic client credentials; RFC 6749 §2.3.1 form-encodes both halves first."""
    scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def _int_param(query: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _QueryError(f"{name} must be an integer", "invalid_selection_field") from None
    if value < minimum:
        raise _QueryError(f"{name} must be at least {minimum}", "invalid_selection_field")
    return value


# --- OneRoster filter (§1.1 Filtering) ----------------------------------------------------

_PREDICATE = r"([A-Za-z][A-Za-z0-9_.]*)\s*(!=|>=|<=|=|>|<|~)\s*'([^']*)'"
_FILTER = re.compile(rf"^\s*{_PREDICATE}(?:\s+(AND|OR)\s+{_PREDICATE})?\s*$")
_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le,
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    return str(value)


def _instant(text: str) -> datetime | None:
    """An ISO-8601 date-time (naive = UTC), or None: `...00Z` and `...00.000Z` are one instant."""
    if "T" not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Predicate:
    field: str
    op: str
    value: str

    def __call__(self, record: Record) -> bool:
        found = get_path(record, self.field)
        if found is None:
            return self.op == "!="
        text = _text(found)
        if self.op == "~":
            return self.value.lower() in text.lower()
        left, right = _instant(text), _instant(self.value)
        if left is not None and right is not None:
            return _COMPARE[self.op](left, right)
        return _COMPARE[self.op](text, self.value)


def _parse_filter(raw: str | None) -> tuple[list[_Predicate], str]:
    """`<field><op>'<value>'`, optionally two joined by ` AND ` or ` OR ` (§1.1 Filtering)."""
    if raw is None:
        return [], "AND"
    match = _FILTER.match(raw)
    if match is None:
        raise _QueryError("filter must be <field><op>'<value>' with op one of = != > >= < <= ~, "
                          "at most two joined by ' AND ' or ' OR '", "invalid_filter_field")
    first, join, second = match.group(1, 2, 3), match.group(4), match.group(5, 6, 7)
    predicates = [_Predicate(*first)] + ([_Predicate(*second)] if join else [])
    for predicate in predicates:
        # A delta sync that sends a malformed cursor must fail loudly, not get everything.
        if predicate.field == "dateLastModified" and _instant(predicate.value) is None:
            raise _QueryError("dateLastModified must be compared with an ISO-8601 date-time", "invalid_filter_field")
    return predicates, join or "AND"


# --- the server ---------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    sandbox: "SandboxServer"


class _Handler(BaseHTTPRequestHandler):
    """Socket I/O only: the sandbox decides every response."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the vendors offer; every response has Content-Length
    server: _HTTPServer

    def do_GET(self) -> None:
        """Answer a GET."""
        self._answer()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._answer()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Silenced: the default writes the raw request line, query secrets included, to stderr."""

    def _answer(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        exchange = _Exchange()
        response = self.server.sandbox._dispatch(self.command, self.path, self.headers, body, exchange)
        # Logged before sending: a client that has its answer must find the request in the log.
        self.server.sandbox._record(self.command, self.path, response.status, exchange)
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            if response.send_bytes is not None:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(response.body[: response.send_bytes])
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up, e.g. a `slow` fault outlasted its timeout


class SandboxServer:
    """Every vendor API and file drop of a synthetic world, on one local port.

    The socket is bound on construction (so `url` is known at once); `start()` serves it
    from a background thread. Use as a context manager to start and stop.

    Attributes:
        url: `http://<host>:<port>`.
        request_log: every request answered, oldest first (no secrets).
    """

    def __init__(
        self,
        world: SandboxWorld,
        *,
        faults: FaultPlan | None = None,
        seed: int = 11,
        host: str = "127.0.0.1",
        port: int = 0,
        today: date | None = None,
        renderers: Renderers | None = None,
        token_ttl_s: float = 3600,
        clever_rate_limit: int = 1200,
    ) -> None:
        """Bind the socket; nothing is served until `start()`.

        Args:
            world: the synthetic world (`World.generate(...)`).
            faults: faults to inject; none by default.
            seed: credential seed (`SandboxCredentials.for_district(district, seed)`).
            host: interface to bind.
            port: port to bind; 0 picks a free one.
            today: the day whose `WorldState` is served; defaults to the local date.
            renderers: wire-format renderers; defaults to `edassets.sandbox.render`.
            token_ttl_s: lifetime of OneRoster access tokens (`expires_in`).
            clever_rate_limit: Clever requests allowed per token per clock minute (§1.2: 1200).
        """
        self._world = world
        self._renderers = renderers or Renderers.default()
        self._plan = faults or FaultPlan()
        self._faults = FaultInjector(self._plan)
        self._today = today or date.today()
        self._token_ttl_s = token_ttl_s
        self._clever_rate_limit = clever_rate_limit
        self._districts = [d.district_id for d in world.options.districts]
        self._credentials = {d: SandboxCredentials.for_district(d, seed) for d in self._districts}
        self._clever_tokens = {c.clever_token: d for d, c in self._credentials.items()}

        self._lock = threading.Lock()  # tokens, rate windows, injected records, request log
        self._render_lock = threading.Lock()  # the day served and its caches: each render happens once
        # Caches for the day served, emptied by set_today: states, rendered records, zipped drops.
        self._states: dict[str, Any] = {}
        self._rendered: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._zips: dict[tuple[str, str], bytes] = {}
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (district, monotonic expiry)
        self._rate_windows: dict[str, tuple[int, int]] = {}  # Clever token -> (minute, requests in it)
        self._injected: set[tuple[str, str, str, str, str]] = set()
        self.request_log: list[LoggedRequest] = []

        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self.url = f"http://{host}:{self._httpd.server_port}"
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> "SandboxServer":
        """Serve from a background thread; returns self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> "SandboxServer":
        """Start serving."""
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        """Stop serving."""
        self.stop()

    # --- what tests and the CLI ask ---------------------------------------------------------

    def set_today(self, day: date) -> None:
        """Serve the world as of `day` from now on (sync 1 on one day, sync 2 on a later one)."""
        with self._render_lock:
            self._today = day
            self._states.clear()
            self._rendered.clear()
            self._zips.clear()

    def base_url(self, platform: str, district_id: str) -> str:
        """The base URL a platform spec uses for a district.

        Args:
            platform: `oneroster_rest` (append `/oauth/token` or `/ims/oneroster/v1p1/<collection>`),
                `clever` (`url` itself: Clever links are host-relative, e.g. `/v3.0/users`; the
                district is chosen by token, so the URL is the same for every district), `oneroster_csv`
                or `nwea_map` (the drop folder; append `/oneroster.zip` or `/nwea_map.zip`).
            district_id: a district of the world.

        Raises:
            ValueError: unknown platform or district.
        """
        if district_id not in self._credentials:
            raise ValueError(f"the sandbox world has no district {district_id!r}")
        if platform == "oneroster_rest":
            return f"{self.url}/oneroster/{district_id}"
        if platform == "clever":
            return self.url
        if platform in _FILE_DROPS.values():
            return f"{self.url}/files/{district_id}"
        raise ValueError(f"the sandbox does not serve platform {platform!r}")

    def injected_bad_records(self) -> pd.DataFrame:
        """Records a `bad_records` fault corrupted in responses so far: the quarantine ground truth.

        Returns:
            One row per corrupted record: district_id, platform, collection, record_id (the
            record's real id, also when the defect emptied it) and kind.
        """
        with self._lock:
            rows = sorted(self._injected)
        return pd.DataFrame(rows, columns=["district_id", "platform", "collection", "record_id", "kind"])

    # --- routing ----------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: Message, body: bytes, exchange: _Exchange) -> _Response:
        split = urlsplit(target)
        parts = [unquote(p) for p in split.path.split("/") if p]
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        match parts:
            case ["oneroster", district, "oauth", "token"]:
                exchange.platform, exchange.district_id = "oneroster_rest", district
                if method != "POST":
                    return _oauth_error(405, "invalid_request", "use POST", {"Allow": "POST"})
                return self._oneroster_token(district, headers, body)
            case ["oneroster", district, "ims", "oneroster", "v1p1", collection]:
                exchange.platform, exchange.district_id = "oneroster_rest", district
                if method != "GET":
                    return _imsx(405, "invalid_request", "use GET", {"Allow": "GET"})
                origin = f"http://{headers.get('Host')}" if headers.get("Host") else self.url
                return self._oneroster_page(district, collection, query, headers, f"{origin}{split.path}",
                                            split.query, exchange)
            # Clever's links are host-relative (`/v3.0/users?starting_after=…`), so the API is
            # also served at the root, exactly where a client following them lands.
            case ["clever", "v3.0", collection] | ["v3.0", collection]:
                exchange.platform = "clever"
                if method != "GET":
                    return _json(405, {"error": "use GET"}, {"Allow": "GET"})
                return self._clever_page(collection, query, headers, split.query, exchange)
            case ["files", district, name] if name in _FILE_DROPS:
                exchange.platform, exchange.district_id = _FILE_DROPS[name], district
                if method != "GET":
                    return _json(405, {"error": "use GET"}, {"Allow": "GET"})
                return self._file_drop(district, name, exchange)
        return _json(404, {"error": f"nothing is served at {split.path}"})

    def _record(self, method: str, target: str, status: int, exchange: _Exchange) -> None:
        entry = LoggedRequest(method, _redact(target), status, exchange.platform, exchange.district_id,
                              tuple(exchange.faults))
        with self._lock:
            self.request_log.append(entry)
        _log.debug("sandbox %s %s -> %s faults=%s", entry.method, entry.path, entry.status, entry.faults)

    # --- OneRoster 1.1 REST (§1.1) ----------------------------------------------------------

    def _oneroster_token(self, district: str, headers: Message, body: bytes) -> _Response:
        """OAuth 2 client credentials (RFC 6749 §4.4), as 1.1 vendors such as Aeries offer (§1.1 Auth)."""
        if district not in self._credentials:
            return _oauth_error(404, "invalid_request", f"unknown district {district}")
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        basic = _basic(headers)
        if basic and ("client_id" in form or "client_secret" in form):
            # RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
            return _oauth_error(400, "invalid_request", "client authenticated by both Basic and body")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
        client_id, client_secret = basic or (form.get("client_id"), form.get("client_secret"))
        expected = self._credentials[district]
        if not (_same(client_id, expected.oneroster_client_id)
                and _same(client_secret, expected.oneroster_client_secret)):
            challenge = {"WWW-Authenticate": 'Basic realm="oneroster"'} if basic else {}
            return _oauth_error(401, "invalid_client", "client authentication failed", challenge)
        token = secrets.token_hex(20)
        with self._lock:
            self._tokens[token] = (district, time.monotonic() + self._token_ttl_s)
        return _json(200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": math.ceil(self._token_ttl_s),
            "scope": form.get("scope") or _ONEROSTER_SCOPES,
        }, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _oneroster_auth(self, district: str, headers: Message) -> tuple[_Response | None, str]:
        """(401 response or None, the token): RFC 6750 §3.1 challenges."""
        token = _bearer(headers)
        if token is None:
            # No credentials at all: the challenge carries no error code (RFC 6750 §3.1).
            return _imsx(401, "unauthorisedrequest", "bearer token required",
                         {"WWW-Authenticate": 'Bearer realm="oneroster"'}), ""
        with self._lock:
            issued = self._tokens.get(token)
            expired = issued is not None and issued[1] <= time.monotonic()
            if expired:
                del self._tokens[token]
        if issued is None or expired or issued[0] != district:
            reason = "the access token expired" if expired else "unknown or revoked token"
            challenge = f'Bearer realm="oneroster", error="invalid_token", error_description="{reason}"'
            return _imsx(401, "unauthorisedrequest", reason, {"WWW-Authenticate": challenge}), token
        return None, token

    def _oneroster_page(self, district: str, collection: str, query: Mapping[str, str], headers: Message,
                        base: str, raw_query: str, exchange: _Exchange) -> _Response:
        if district not in self._credentials:
            return _imsx(404, "unknownobject", f"unknown district {district}")
        denied, token = self._oneroster_auth(district, headers)
        if denied is not None:
            return denied
        if collection not in ONEROSTER_COLLECTIONS:
            return _imsx(404, "unknownobject", f"unknown collection {collection}")
        rows = self._records("oneroster_rest", district, collection)
        try:
            limit = min(_int_param(query, "limit", _ONEROSTER_DEFAULT_LIMIT, 1), _ONEROSTER_MAX_LIMIT)
            offset = _int_param(query, "offset", 0, 0)
            predicates, join = _parse_filter(query.get("filter"))
            rows = _filtered(rows, predicates, join)
            rows = _sorted(rows, query.get("sort"), query.get("orderBy", "asc"))
        except _QueryError as error:
            return _imsx(400, error.code_minor, str(error))

        active = self._faults.draw("oneroster_rest")
        failed = self._transport_fault("oneroster_rest", active, exchange)
        if failed is not None:
            return failed
        page = rows[offset: offset + limit]
        records = self._served(district, "oneroster_rest", collection, page, rows[:offset], active, exchange)
        response = _json(200, {collection: records}, {
            "X-Total-Count": str(len(rows)),
            "Link": _link_header(base, raw_query, offset, limit, len(rows)),
        })
        if active.get("token_expiry") is not None:
            # Revoked before the answer leaves, so the client's very next page is refused.
            with self._lock:
                self._tokens.pop(token, None)
            exchange.faults.append("token_expiry")
        return self._body_fault(response, active, exchange)

    # --- Clever Data API v3.0 (§1.2) --------------------------------------------------------

    def _clever_page(self, collection: str, query: Mapping[str, str], headers: Message, raw_query: str,
                     exchange: _Exchange) -> _Response:
        token = _bearer(headers)
        district = self._clever_tokens.get(token or "")
        if token is None or district is None:
            return _json(401, {"error": "invalid auth"})
        exchange.district_id = district
        limited, rate_headers = self._clever_rate(token)
        if limited:
            return _json(429, {"error": "rate limit exceeded"}, rate_headers)
        if collection not in CLEVER_COLLECTIONS:
            return _json(404, {"error": f"unknown resource {collection}"}, rate_headers)
        if "ending_before" in query:
            # Clever answers 501 to requests it does not support; the sandbox pages forward only.
            return _json(501, {"error": "ending_before is not supported by the sandbox"}, rate_headers)
        try:
            limit = _int_param(query, "limit", _CLEVER_DEFAULT_LIMIT, 1)
        except _QueryError as error:
            return _json(400, {"error": str(error)}, rate_headers)
        if limit > _CLEVER_MAX_LIMIT:
            return _json(413, {"error": f"limit may not exceed {_CLEVER_MAX_LIMIT}"}, rate_headers)
        role = query.get("role")
        if role is not None and (collection != "users" or role not in _CLEVER_ROLES):
            return _json(400, {"error": f"role must be one of {sorted(_CLEVER_ROLES)} on users"}, rate_headers)

        active = self._faults.draw("clever")
        failed = self._transport_fault("clever", active, exchange)
        if failed is not None:
            return failed
        rows = self._records("clever", district, collection)
        if role is not None:
            rows = [r for r in rows if role in (r.get("roles") or {})]
        after = query.get("starting_after")
        start = bisect_right([r["id"] for r in rows], after) if after else 0
        page = rows[start: start + limit]
        records = self._served(district, "clever", collection, page, rows[:start], active, exchange)
        links = [{"rel": "self", "uri": f"/v3.0/{collection}" + (f"?{raw_query}" if raw_query else "")}]
        # A truncated page claims more even at the end, built from the page as it should have
        # been: `starting_after` then differs from the last id received, and the gap shows.
        if page and (start + limit < len(rows) or "truncated_page" in exchange.faults):
            params = {"limit": str(limit), **({"role": role} if role else {}), "starting_after": page[-1]["id"]}
            links.append({"rel": "next", "uri": f"/v3.0/{collection}?{urlencode(params)}"})
        document = {"data": [{"data": r, "uri": f"/v3.0/{collection}/{r.get('id', '')}"} for r in records],
                    "links": links}
        return self._body_fault(_json(200, document, rate_headers), active, exchange)

    def _clever_rate(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count a request against the token's fixed one-minute window (§1.2 Rate limit)."""
        now = time.time()
        window = int(now // 60)
        with self._lock:
            start, used = self._rate_windows.get(token, (window, 0))
            used = used + 1 if start == window else 1
            self._rate_windows[token] = (window, used)
        return used > self._clever_rate_limit, {
            "X-RateLimit-Limit": str(self._clever_rate_limit),
            "X-RateLimit-Remaining": str(max(self._clever_rate_limit - used, 0)),
            "X-RateLimit-Reset": str((window + 1) * 60),
        }

    # --- file drops ---------------------------------------------------------------------------

    def _file_drop(self, district: str, name: str, exchange: _Exchange) -> _Response:
        if district not in self._credentials:
            return _json(404, {"error": f"unknown district {district}"})
        platform = _FILE_DROPS[name]
        active = self._faults.draw(platform)
        failed = self._transport_fault(platform, active, exchange)
        if failed is not None:
            return failed
        response = _Response(200, self._zip(district, platform), {
            "Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{name}"'})
        if active.get("truncated_page") is not None:
            response.send_bytes = len(response.body) // 2
            exchange.faults.append("truncated_page")
        return response

    # --- rendering ------------------------------------------------------------------------------

    def _state(self, district: str) -> Any:
        """The district's `WorldState` for the day served; call with the render lock held."""
        if district not in self._states:
            self._states[district] = self._world.state(district, self._today)
        return self._states[district]

    def _records(self, platform: str, district: str, collection: str) -> list[dict[str, Any]]:
        with self._render_lock:
            key = (platform, district, collection)
            if key not in self._rendered:
                render = (self._renderers.oneroster_rest_records if platform == "oneroster_rest"
                          else self._renderers.clever_records)
                self._rendered[key] = render(self._state(district), collection)
            return self._rendered[key]

    def _zip(self, district: str, platform: str) -> bytes:
        """The drop as a flat zip (§1.1 CSV binding: no subfolders), byte-identical for a day."""
        with self._render_lock:
            key = (platform, district)
            if key not in self._zips:
                render = (self._renderers.oneroster_csv_files if platform == "oneroster_csv"
                          else self._renderers.nwea_map_files)
                day = self._today
                buffer = io.BytesIO()
                with zipfile.ZipFile(buffer, "w") as archive:
                    for name, data in render(self._state(district)).items():
                        # A fixed timestamp keeps the bytes, and so the archive's sha256, stable.
                        info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
                        info.compress_type = zipfile.ZIP_DEFLATED
                        archive.writestr(info, data)
                self._zips[key] = buffer.getvalue()
            return self._zips[key]

    # --- faults ---------------------------------------------------------------------------------

    def _transport_fault(self, platform: str, active: ActiveFaults, exchange: _Exchange) -> _Response | None:
        """Apply `slow`, then answer 429 or 5xx instead of the page if such a fault is active."""
        if (slow := active.get("slow")) is not None:
            exchange.faults.append("slow")
            time.sleep(slow.param("delay_s"))
        if (storm := active.get("rate_limit_storm")) is not None:
            exchange.faults.append("rate_limit_storm")
            wait = storm.param("retry_after")
            if platform == "clever":
                # Clever says when the window resets, as a Unix time (§1.2), not how long to wait.
                return _json(429, {"error": "rate limit exceeded"}, {
                    "X-RateLimit-Limit": str(self._clever_rate_limit), "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(math.ceil(time.time() + wait))})
            headers = {"Retry-After": str(math.ceil(wait))}
            if platform == "oneroster_rest":
                return _imsx(429, "server_busy", "too many requests", headers)
            return _json(429, {"error": "too many requests"}, headers)
        if (error := active.get("server_error")) is not None:
            exchange.faults.append("server_error")
            status = error.param("status")
            if platform == "oneroster_rest":
                return _imsx(status, "server_busy", "the server is unavailable")
            return _json(status, {"error": "the server is unavailable"})
        return None

    def _served(self, district: str, platform: str, collection: str, page: list[dict[str, Any]],
                before: list[dict[str, Any]], active: ActiveFaults, exchange: _Exchange) -> list[Record]:
        """The page's records as sent: truncated or with repeats if asked, persistent faults applied.

        Args:
            district: the district served.
            platform: `oneroster_rest` or `clever`.
            collection: the collection served.
            page: the records the page should hold.
            before: every record before the page, in order (what `duplicate_records` repeats).
            active: the faults in effect.
            exchange: collects the faults that changed the answer.
        """
        records: list[Record] = list(page)
        truncated = active.get("truncated_page")
        if truncated is not None and truncated.param("variant") == "short" and records:
            records = records[: len(records) // 2]
            exchange.faults.append("truncated_page")
        if (duplicate := active.get("duplicate_records")) is not None and before:
            records = before[-duplicate.param("repeat"):] + records
            exchange.faults.append("duplicate_records")
        if (bad := active.get("bad_records")) is not None:
            injected = []
            for i, record in enumerate(records):
                records[i], kind = corrupt_record(record, platform=platform, collection=collection, fault=bad,
                                                  seed=self._plan.seed)
                if kind is not None:
                    injected.append((district, platform, collection, str(record.get(ID_FIELDS[platform], "")), kind))
            if injected:
                with self._lock:
                    self._injected.update(injected)
                exchange.faults.append("bad_records")
        if (renamed := active.get("renamed_field")) is not None:
            renamed_records = [rename_field(r, renamed, collection) for r in records]
            if any(a is not b for a, b in zip(renamed_records, records, strict=True)):
                exchange.faults.append("renamed_field")
            records = renamed_records
        return records

    @staticmethod
    def _body_fault(response: _Response, active: ActiveFaults, exchange: _Exchange) -> _Response:
        """Break a finished JSON answer: a cut or HTML body, or fewer bytes than Content-Length."""
        if (malformed := active.get("malformed_json")) is not None:
            exchange.faults.append("malformed_json")
            if malformed.param("variant") == "html":
                response.body = _HTML_ERROR
                response.headers["Content-Type"] = "text/html"
            else:
                response.body = response.body[: len(response.body) // 2]
        truncated = active.get("truncated_page")
        if truncated is not None and truncated.param("variant") == "content_length":
            response.send_bytes = len(response.body) // 2
            exchange.faults.append("truncated_page")
        return response


def _filtered(rows: list[dict[str, Any]], predicates: list[_Predicate], join: str) -> list[dict[str, Any]]:
    if not predicates:
        return rows
    for predicate in predicates:
        if rows and not any(get_path(r, predicate.field) is not None for r in rows):
            raise _QueryError(f"no such field {predicate.field}", "invalid_filter_field")
    combine = all if join == "AND" else any
    return [r for r in rows if combine(p(r) for p in predicates)]


def _sorted(rows: list[dict[str, Any]], sort: str | None, order: str) -> list[dict[str, Any]]:
    if order not in ("asc", "desc"):
        raise _QueryError("orderBy must be asc or desc", "invalid_selection_field")
    if sort is None:
        return rows
    if rows and not any(get_path(r, sort) is not None for r in rows):
        raise _QueryError(f"no such field {sort}", "invalid_selection_field")
    return sorted(rows, key=lambda r: _text(get_path(r, sort) or ""), reverse=order == "desc")


def _link_header(base: str, raw_query: str, offset: int, limit: int, total: int) -> str:
    """RFC 5988 `Link` with first/prev/next/last absolute URLs (§1.1 Paging)."""
    kept = [(k, v) for k, v in parse_qsl(raw_query, keep_blank_values=True) if k not in ("limit", "offset")]

    def url(at: int) -> str:
        return f"{base}?{urlencode([*kept, ('limit', str(limit)), ('offset', str(at))])}"

    last = max(total - 1, 0) // limit * limit
    links = [(url(0), "first")]
    if offset > 0:
        links.append((url(max(offset - limit, 0)), "prev"))
    if offset + limit < total:
        links.append((url(offset + limit), "next"))
    links.append((url(last), "last"))
    return ", ".join(f'<{u}>; rel="{rel}"' for u, rel in links)


def serve(port: int, options: Any, *, host: str = "127.0.0.1", seed: int = 11, faults: FaultPlan | None = None,
          today: date | None = None) -> None:
    """Generate the world and serve it until interrupted (`edassets sandbox --port N`).

    Prints the URL, each district's base URLs and the names of the environment variables
    that hold its credentials (never the values: see `credentials.env_vars`).

    Args:
        port: port to listen on (0 picks a free one).
        options: `WorldOptions` for `World.generate`.
        host: interface to bind.
        seed: credential seed.
        faults: faults to inject.
        today: the day served; defaults to the local date.
    """
    from edassets.sandbox.world import World

    with SandboxServer(World.generate(options), faults=faults, seed=seed, host=host, port=port,
                       today=today) as server:
        print(f"edassets sandbox serving on {server.url}", flush=True)
        for district in server._districts:
            print(f"  {district}: oneroster_rest {server.base_url('oneroster_rest', district)}  "
                  f"clever {server.base_url('clever', district)}  files {server.base_url('oneroster_csv', district)}",
                  flush=True)
            names = ", ".join(env_var_name(district, name) for name in CREDENTIAL_NAMES)
            print(f"    credentials: {names}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("sandbox stopped", flush=True)
