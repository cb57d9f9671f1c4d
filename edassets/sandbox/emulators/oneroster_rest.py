"""OneRoster 1.1 REST (K12_FORMATS §1.1): OAuth 2 client credentials, limit/offset paging, filters.

Routes (`{url}` = the server's URL; each district runs its own SIS endpoint, so the district
is in the path)::

    POST {url}/oneroster/{district}/oauth/token                     OAuth 2 client credentials
    GET  {url}/oneroster/{district}/ims/oneroster/v1p1/{collection}  a collection page

Pages carry `X-Total-Count` and an RFC 5988 `Link` header; `filter` takes one or two
predicates (`dateLastModified>'…'` is the delta sync), `sort`/`orderBy` sort. Errors are
imsx_StatusInfo documents. Tokens expire after `token_ttl_s` and can be revoked by the
`token_expiry` fault mid-pagination (a client must fetch a new one).
"""

from __future__ import annotations

import math
import operator
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

import pandas as pd

from edassets.sandbox.emulators import oneroster
from edassets.sandbox.emulators.base import API_FAULTS, ApiEmulator, Host, Record
from edassets.sandbox.faults import get_path
from edassets.sandbox.http import Call, QueryError, Response, basic, bearer, int_param, json_response, same
from edassets.sandbox.world import WorldState

_DEFAULT_LIMIT, _MAX_LIMIT = 100, 5000  # §1.1: spec default 100; MS SDS asks for 5000
# Aeries-style OAuth 2 scopes for OneRoster 1.1 (§1.1 Auth).
_SCOPES = ("https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly "
           "https://purl.imsglobal.org/spec/or/v1p1/scope/roster-demographics.readonly")


def _imsx(status: int, code_minor: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    """A OneRoster error: an imsx_StatusInfo document (§1.1 Deletions/errors)."""
    return json_response(status, {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_CodeMinor": {"imsx_codeMinorField": [
            {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": code_minor},
        ]},
    }, headers)


def _oauth_error(status: int, error: str, description: str, headers: Mapping[str, str] | None = None) -> Response:
    """A token endpoint error (RFC 6749 §5.2)."""
    return json_response(status, {"error": error, "error_description": description}, headers)


class OneRosterRestEmulator(ApiEmulator):
    """A district's OneRoster 1.1 REST server."""

    platform = "oneroster_rest"
    title = "OneRoster REST"
    roster = True
    id_scheme = "sourced_id"
    credentials: ClassVar[Mapping[str, int]] = {"client_id": 32, "client_secret": 64}
    # Only OneRoster tokens can be fetched again (client credentials, §1.1).
    fault_kinds = API_FAULTS | {"token_expiry"}
    collections = oneroster.COLLECTIONS
    id_field = "sourcedId"
    collection_entities = oneroster.COLLECTION_ENTITIES
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        # Not demographics: a demographics record is the user's, joined by its id; without the
        # id the user loads without a birth date, which no check can tell from a user who has none.
        "missing_id": {collection: ("sourcedId",) for collection in oneroster.COLLECTIONS if collection != "demographics"},
        # Roster APIs carry no scores, so a grade past the top of CEDS codes (§1.1 Grades).
        "out_of_range_score": {"users": ("grades",)},
        "future_date": {"demographics": ("birthDate",)},
        "dangling_reference": {
            "enrollments": ("user",), "classes": ("course",), "courses": ("org",),
            "users": ("orgs",), "academicSessions": ("parent",), "orgs": ("parent",),
        },
    }  # fmt: skip

    def __init__(self, host: Host, *, token_ttl_s: float = 3600) -> None:
        """Serve on `host`.

        Args:
            host: the running server.
            token_ttl_s: lifetime of access tokens (`expires_in`).
        """
        super().__init__(host)
        self._token_ttl_s = token_ttl_s
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # access token -> (district, monotonic expiry)

    @classmethod
    def render(cls, state: WorldState, collection: str) -> list[dict[str, Any]]:
        """The collection's OneRoster 1.1 records, sorted by sourcedId."""
        return oneroster.records(state, collection)

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """The district's roster in sourcedIds (`oneroster.roster_truth`)."""
        return oneroster.roster_truth(state)

    def base_url(self, district_id: str) -> str:
        """Append `/oauth/token` or `/ims/oneroster/v1p1/<collection>`."""
        return f"{self.host.url}/oneroster/{district_id}"

    def rate_limited(self, retry_after: float) -> Response:
        """429 as an imsx document with `Retry-After`."""
        return _imsx(429, "server_busy", "too many requests", {"Retry-After": str(math.ceil(retry_after))})

    def unavailable(self, status: int) -> Response:
        """5xx as an imsx document."""
        return _imsx(status, "server_busy", "the server is unavailable")

    def handle(self, call: Call) -> Response | None:
        """Route the token endpoint and collection pages."""
        match call.parts:
            case ("oneroster", district, "oauth", "token"):
                call.exchange.platform, call.exchange.district_id = self.platform, district
                if call.method != "POST":
                    return _oauth_error(405, "invalid_request", "use POST", {"Allow": "POST"})
                return self._token(district, call)
            case ("oneroster", district, "ims", "oneroster", "v1p1", collection):
                call.exchange.platform, call.exchange.district_id = self.platform, district
                if call.method != "GET":
                    return _imsx(405, "invalid_request", "use GET", {"Allow": "GET"})
                return self._page(district, collection, call)
        return None

    def _token(self, district: str, call: Call) -> Response:
        """OAuth 2 client credentials (RFC 6749 §4.4), as 1.1 vendors such as Aeries offer (§1.1 Auth)."""
        if not self.host.has_district(district):
            return _oauth_error(404, "invalid_request", f"unknown district {district}")
        form = dict(parse_qsl(call.body.decode("utf-8", "replace"), keep_blank_values=True))
        by_header = basic(call.headers)
        if by_header and ("client_id" in form or "client_secret" in form):
            # RFC 6749 §2.3: a client MUST NOT use more than one authentication method.
            return _oauth_error(400, "invalid_request", "client authenticated by both Basic and body")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported")
        client_id, client_secret = by_header or (form.get("client_id"), form.get("client_secret"))
        expected = self.host.credentials(self.platform, district)
        if not (same(client_id, expected["client_id"]) and same(client_secret, expected["client_secret"])):
            challenge = {"WWW-Authenticate": 'Basic realm="oneroster"'} if by_header else {}
            return _oauth_error(401, "invalid_client", "client authentication failed", challenge)
        token = secrets.token_hex(20)
        with self._lock:
            self._tokens[token] = (district, time.monotonic() + self._token_ttl_s)
        return json_response(200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": math.ceil(self._token_ttl_s),
            "scope": form.get("scope") or _SCOPES,
        }, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _authorised(self, district: str, call: Call) -> tuple[Response | None, str]:
        """(401 response or None, the token): RFC 6750 §3.1 challenges."""
        token = bearer(call.headers)
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

    def _page(self, district: str, collection: str, call: Call) -> Response:
        if not self.host.has_district(district):
            return _imsx(404, "unknownobject", f"unknown district {district}")
        denied, token = self._authorised(district, call)
        if denied is not None:
            return denied
        if collection not in self.collections:
            return _imsx(404, "unknownobject", f"unknown collection {collection}")
        rows = self.host.records(self.platform, district, collection)
        try:
            limit = min(int_param(call.query, "limit", _DEFAULT_LIMIT, 1), _MAX_LIMIT)
            offset = int_param(call.query, "offset", 0, 0)
            predicates, join = _parse_filter(call.query.get("filter"))
            rows = _filtered(rows, predicates, join)
            rows = _sorted(rows, call.query.get("sort"), call.query.get("orderBy", "asc"))
        except QueryError as error:
            return _imsx(400, error.code_minor, str(error))

        active, failed = self.host.open_data_request(self, call.exchange)
        if failed is not None:
            return failed
        page = rows[offset: offset + limit]
        records = self.host.served(self, district, collection, page, rows[:offset], active, call.exchange)
        response = json_response(200, {collection: records}, {
            "X-Total-Count": str(len(rows)),
            "Link": _link_header(call.url, call.raw_query, offset, limit, len(rows)),
        })
        if active.get("token_expiry") is not None:
            # Revoked before the answer leaves, so the client's very next page is refused.
            with self._lock:
                self._tokens.pop(token, None)
            call.exchange.faults.append("token_expiry")
        return self.host.finish(response, active, call.exchange)


# --- filter, sort and links (§1.1 Filtering, Paging) ----------------------------------------

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
        raise QueryError("filter must be <field><op>'<value>' with op one of = != > >= < <= ~, "
                         "at most two joined by ' AND ' or ' OR '", "invalid_filter_field")
    first, join, second = match.group(1, 2, 3), match.group(4), match.group(5, 6, 7)
    predicates = [_Predicate(*first)] + ([_Predicate(*second)] if join else [])
    for predicate in predicates:
        # A delta sync that sends a malformed cursor must fail loudly, not get everything.
        if predicate.field == "dateLastModified" and _instant(predicate.value) is None:
            raise QueryError("dateLastModified must be compared with an ISO-8601 date-time", "invalid_filter_field")
    return predicates, join or "AND"


def _filtered(rows: list[dict[str, Any]], predicates: list[_Predicate], join: str) -> list[dict[str, Any]]:
    if not predicates:
        return rows
    for predicate in predicates:
        if rows and not any(get_path(r, predicate.field) is not None for r in rows):
            raise QueryError(f"no such field {predicate.field}", "invalid_filter_field")
    combine = all if join == "AND" else any
    return [r for r in rows if combine(p(r) for p in predicates)]


def _sorted(rows: list[dict[str, Any]], sort: str | None, order: str) -> list[dict[str, Any]]:
    if order not in ("asc", "desc"):
        raise QueryError("orderBy must be asc or desc")
    if sort is None:
        return rows
    if rows and not any(get_path(r, sort) is not None for r in rows):
        raise QueryError(f"no such field {sort}")
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
