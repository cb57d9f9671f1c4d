"""A generic practice app's REST API (K12_FORMATS §3 #20): `X-Api-Key`, page/per_page, 429 + Retry-After.

Route: ``GET {url}/practice-app/v1/sessions?page=N&per_page=M`` (pages from 1, `per_page`
up to 1000), answering ``{"sessions": [...], "page", "per_page", "total", "total_pages"}``.
The key in `X-Api-Key` picks the district (one key per district), so the base URL is the same
for every district. Each key may make `rate_limit` requests per `window_s` seconds; past
that the app answers 429 with `Retry-After` in whole seconds until the window ends.

A session is one of the world's learning events, the way a practice app shows it (#20):
times are the district's wall clock without an offset (``2026-01-05 16:40:12``), the score
a percent string (``"85%"``) on scored activities only, the student the SIS number with its
leading zeros stripped, the class the roster's section id (the app is rostered from the
district's roster). A few sessions were deleted by a teacher right after they ended: they
stay listed, with ``deleted_at``. Session ids are the app's own (``ps_`` + 16 hex digits).

Truth: one learning_activity row per session, the person and class canonical, the verb the
xAPI verb IRI, the score as raw 0-100, min 0, max 100 and scaled 0..1 where scored, and
deleted sessions inactive.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from edassets.sandbox import wire
from edassets.sandbox.emulators.base import API_FAULTS, ApiEmulator, Host, sis_ghost_id
from edassets.sandbox.http import Call, QueryError, Response, int_param, json_response
from edassets.sandbox.world import XAPI_VERBS, WorldState

COLLECTIONS = ("sessions",)
_DEFAULT_PER_PAGE, _MAX_PER_PAGE = 100, 1000
_DELETED_SHARE = 0.03  # sessions a teacher removed (an accidental start, a shared device)
_DELETED_AFTER = pd.Timedelta(minutes=5)
_LOCAL = "%Y-%m-%d %H:%M:%S"


def _session_ids(event_keys: pd.Series) -> list[str]:
    """The app's session ids: stable per world event, never the world's internal key."""
    return [f"ps_{hashlib.blake2b(key.encode(), digest_size=8).hexdigest()}" for key in event_keys.tolist()]


def _deleted(session_ids: list[str]) -> np.ndarray:
    """Which sessions were deleted: a fixed share, chosen by id (the same on every sync)."""
    return np.array([int(i[3:], 16) / 16**16 < _DELETED_SHARE for i in session_ids], dtype=bool)


def _roster_scheme(state: WorldState) -> str:
    from edassets.sandbox.emulators import EMULATORS  # the registry imports this module

    return EMULATORS[state.spec.roster_source].id_scheme


def _sessions(state: WorldState, roster_scheme: str) -> pd.DataFrame:
    """One row per session, every value as the truth and the wire both need it."""
    events = state.learning_activity
    ids = _session_ids(events["event_key"])
    sis = events["person_key"].map(wire.lookup(state.persons, "person_key", "sis_id"))
    return events.assign(
        session_id=ids,
        student_id=sis.str.lstrip("0"),
        person_id=events["person_key"].map(wire.lookup(state.persons, "person_key", roster_scheme)),
        class_id=events["class_key"].map(wire.lookup(state.classes, "class_key", roster_scheme)),
        kind=events["object_id"].str.rsplit("/", n=1).str[-1].str.rsplit("-", n=1).str[0],
        status=events["verb"].str.removeprefix(XAPI_VERBS),
        percent=(events["score_scaled"] * 100).round(2),
        deleted=_deleted(ids),
    )


class PracticeAppEmulator(ApiEmulator):
    """A practice app serving every district's sessions, one API key each."""

    platform = "practice_app"
    title = "Practice app"
    id_scheme = "sis_id"
    credentials: ClassVar[Mapping[str, int]] = {"api_key": 40}
    # A short page is invisible to page-number paging: `total_pages` still counts the full
    # pages, and no client can tell half a page from a last one. The sandbox does not fake
    # what no page-number vendor's client could survive (a body cut short is still served).
    fault_kinds = API_FAULTS - {"truncated_page"}
    collections = COLLECTIONS
    id_field = "id"
    collection_entities: ClassVar[Mapping[str, str]] = {"sessions": "learning_activity"}
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {
        "missing_id": {"sessions": ("id",)},
        # "14" without a percent sign: no spelling of this app's scores (#20).
        "out_of_range_score": {"sessions": ("score",)},
        "future_date": {"sessions": ("started_at",)},
        # An SIS number no roster knows: the session is unmatched.
        "dangling_reference": {"sessions": ("student_id",)},
    }

    def __init__(self, host: Host, *, rate_limit: int = 50, window_s: float = 1.0) -> None:
        """Serve on `host`.

        Args:
            host: the running server.
            rate_limit: requests one key may make per window.
            window_s: length of the fixed rate window, in seconds.
        """
        super().__init__(host)
        self._rate_limit = rate_limit
        self._window_s = window_s
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}  # key -> (window number, requests in it)

    ghost_id = classmethod(sis_ghost_id)

    @classmethod
    def render(cls, state: WorldState, collection: str) -> list[dict[str, Any]]:
        """The district's sessions, oldest first."""
        if collection not in COLLECTIONS:
            raise ValueError(f"unknown practice-app collection {collection!r}; expected one of {COLLECTIONS}")
        sessions = _sessions(state, _roster_scheme(state))
        tz = state.spec.timezone
        started = sessions["started_at"].dt.tz_convert(tz)
        ended = sessions["ended_at"].dt.tz_convert(tz)
        deleted_at = (ended + _DELETED_AFTER).dt.strftime(_LOCAL).where(sessions["deleted"])
        scores = [None if pd.isna(p) else f"{p:g}%" for p in sessions["percent"].tolist()]
        activities = [{"id": i, "title": t, "type": k} for i, t, k in zip(
            sessions["object_id"].tolist(), sessions["object_name"].tolist(), sessions["kind"].tolist(), strict=True)]
        return wire.records({
            "id": sessions["session_id"].tolist(),
            "student_id": wire.texts(sessions["student_id"]),
            "class_id": wire.texts(sessions["class_id"]),
            "activity": activities,
            "status": wire.texts(sessions["status"]),
            "started_at": started.dt.strftime(_LOCAL).tolist(),
            "ended_at": ended.dt.strftime(_LOCAL).tolist(),
            "minutes": (sessions["duration_seconds"] / 60).round(1).tolist(),
            "score": scores,
            "completed": sessions["completed"].tolist(),
            "updated_at": deleted_at.fillna(ended.dt.strftime(_LOCAL)).tolist(),
            "deleted_at": wire.nullable(deleted_at),
        })

    @classmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """Every session, deleted ones inactive, pointing at the canonical person and class."""
        sessions = _sessions(state, roster_scheme)
        scored = sessions["percent"].notna()
        return {"learning_activity": pd.DataFrame({
            "district_id": state.spec.district_id,
            "source_platform": cls.platform,
            "event_id": sessions["session_id"],
            "person_id": sessions["person_id"],
            "source_person_id": sessions["student_id"],
            "class_id": sessions["class_id"],
            "activity_type": sessions["kind"],
            "verb": sessions["verb"],
            "object_id": sessions["object_id"],
            "object_name": sessions["object_name"],
            "started_at": sessions["started_at"],
            "ended_at": sessions["ended_at"],
            "duration_seconds": sessions["duration_seconds"].astype(float),
            "score_raw": sessions["percent"],
            "score_min": sessions["percent"].where(~scored, 0.0),
            "score_max": sessions["percent"].where(~scored, 100.0),
            "score_scaled": sessions["score_scaled"],
            "completed": sessions["completed"],
            "active": ~sessions["deleted"],
        })}

    def rate_limited(self, retry_after: float) -> Response:
        """429 with `Retry-After` in whole seconds, rounded up: a client waiting it out is never early."""
        return json_response(429, {"error": "rate limit exceeded"}, {"Retry-After": str(max(math.ceil(retry_after), 1))})

    def base_url(self, district_id: str) -> str:
        """The app's API root: the key picks the district."""
        return f"{self.host.url}/practice-app"

    def handle(self, call: Call) -> Response | None:
        """Route `/practice-app/v1/<collection>`."""
        match call.parts:
            case ("practice-app", "v1", collection):
                return self.claim_get(call) or self._page(collection, call)
        return None

    def _page(self, collection: str, call: Call) -> Response:
        key = call.headers.get("X-Api-Key") or ""
        district = self.host.district_by_credential(self.platform, "api_key", key)
        if district is None:
            return json_response(401, {"error": "invalid or missing X-Api-Key"})
        call.exchange.district_id = district
        wait = self._count(key)
        if wait is not None:
            return self.rate_limited(wait)
        if collection not in COLLECTIONS:
            return json_response(404, {"error": f"unknown resource {collection}"})
        try:
            page = int_param(call.query, "page", 1, 1)
            per_page = min(int_param(call.query, "per_page", _DEFAULT_PER_PAGE, 1), _MAX_PER_PAGE)
        except QueryError as error:
            return json_response(400, {"error": str(error)})

        active, failed = self.host.open_data_request(self, call.exchange)
        if failed is not None:
            return failed
        rows = self.host.records(self.platform, district, collection)
        start = (page - 1) * per_page
        records = self.host.served(self, district, collection, rows[start: start + per_page], rows[:start], active,
                                   call.exchange)
        document = {collection: records, "page": page, "per_page": per_page, "total": len(rows),
                    "total_pages": math.ceil(len(rows) / per_page)}
        return self.host.finish(json_response(200, document), active, call.exchange)

    def _count(self, key: str) -> float | None:
        """Count a request in the key's fixed window; the seconds left in it when over the limit."""
        now = time.monotonic()
        window = int(now // self._window_s)
        with self._lock:
            start, used = self._windows.get(key, (window, 0))
            used = used + 1 if start == window else 1
            self._windows[key] = (window, used)
        if used <= self._rate_limit:
            return None
        return (window + 1) * self._window_s - now
