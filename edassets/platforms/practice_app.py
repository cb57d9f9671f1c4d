"""A generic practice-app REST API (K12_FORMATS §3 #20): students' practice sessions as learning activity.

API: `GET {base}/v1/sessions?page=N&per_page=M`, JSON `{"sessions": [...], "page": N,
"per_page": M, "total_pages": T}`; a per-district key in the `X-Api-Key` header; paging by
page number until `total_pages`; a per-key rate limit answered with 429 and `Retry-After`
(seconds), which the client waits out. There is no incremental listing: every sync is the
whole list of sessions, and a session is an event, so the feed appends and upserts
(`events`), never deactivating a session merely because a listing missed it.

One session is one `learning_activity` row: which lesson, video, quiz or practice set
(`activity.id|title|type`), what became of it (`status`), when, and its score. Quirks this
spec relies on (#20):
- timestamps (`started_at`, `ended_at`, `deleted_at`) are the district's wall clock with no
  offset (`2026-01-05 16:40:12`): read in the district's time zone, DST included, so the
  duration across a DST change is the real one. `minutes` is rounded for display; the
  duration is the span of the two timestamps, exact to the second;
- scores are percent strings (`"87%"`): raw score on a 0-100 scale, scaled to 0..1. A bare
  number is not this vendor's spelling (14 what: percent, points, a fraction?) and is
  quarantined rather than guessed;
- `student_id` is the SIS number with its leading zeros stripped (`0012345` -> `12345`):
  persons resolve through the crosswalk's SIS ids, which match numbers with or without
  leading zeros;
- `class_id` is the roster's section id (the app is rostered from the district's roster);
- soft deletes: a deleted session stays listed with `deleted_at` set and is written
  inactive, so it is counted, loaded and visibly withdrawn, never silently dropped;
- `status` is the app's word for the outcome; the unified verb is the xAPI verb IRI
  (K12_FORMATS §1.4), so activity from every platform reads alike.
"""

from collections.abc import Mapping

import pandas as pd

from edassets.adapters.codes import code_map
from edassets.adapters.http import ApiKeyAuth, PageNumberPaginator, RateLimit, RetryPolicy
from edassets.adapters.sources import Api, Endpoint
from edassets.adapters.spec import ApiSpec, Crosswalk, Derived, FeedSpec, ParseContext, PlatformSpec, col
from edassets.adapters.transforms import boolean, is_present, utc_timestamp
from edassets.schema import entities as e

PLATFORM = "practice_app"
XAPI_VERBS = "http://adlnet.gov/expapi/verbs/"
VERB = code_map({status: XAPI_VERBS + status for status in ("completed", "experienced", "passed", "failed", "attempted")},
                "practice-app session status")
PERCENT_RULE = "percent string like 87%"


def percent(values: pd.Series) -> pd.Series:
    """Percent strings to numbers on the 0-100 scale: "87%" -> 87.0, "92.5 %" -> 92.5.

    Args:
        values: raw strings.

    Returns:
        ``Float64`` Series; a bare number, "87" or "abc", is NA (not this vendor's spelling).
    """
    found = values.astype(pd.StringDtype("pyarrow")).str.strip().str.extract(r"^(\d+(?:\.\d+)?)\s*%$", expand=False)
    return found.astype("Float64")


def _local_time(column: str) -> Derived:
    """A UTC instant from a naive district-local date-time (#20: timestamps carry no offset)."""
    return Derived(sources=((column,),), rule="district-local date-time (YYYY-MM-DD HH:MM:SS)",
                   fn=lambda source, context: utc_timestamp(source[column], tz=context.timezone.key))


def _duration(source: pd.DataFrame, context: ParseContext) -> pd.Series:
    started, ended = (utc_timestamp(source[c], tz=context.timezone.key) for c in ("started_at", "ended_at"))
    return (ended - started).dt.total_seconds().astype("Float64")


def _scored(value: float | None = None) -> Derived:
    """Where a session has a score (lessons and videos have none): the bound `value` of the
    0-100 scale, or, without a value, the score scaled to 0..1. The score's own parse
    failure is reported once, on score_raw."""
    def derive(source: pd.DataFrame, _: ParseContext) -> pd.Series:
        score = percent(source["score"])
        return score / 100 if value is None else score.where(score.isna(), value)

    return Derived(sources=(("score",),), fn=derive, rule=PERCENT_RULE, may_be_empty=True)


def _active(source: pd.DataFrame, _: ParseContext) -> pd.Series:
    # Any deleted_at at all withdraws the session: its value says when, not whether.
    return pd.Series(~is_present(source["deleted_at"]), index=source.index, dtype="boolean")


def _auth(credentials: Mapping[str, str], _: str) -> ApiKeyAuth:
    return ApiKeyAuth(credentials["api_key"], header="X-Api-Key")


SESSIONS = FeedSpec(
    name="sessions",
    entity=e.LEARNING_ACTIVITY,
    description="Practice sessions (lessons, videos, quizzes, practice sets) with time spent and score.",
    source=Api(Endpoint(path="/v1/sessions", records_path="sessions")),
    sync_mode="events",
    crosswalk=Crosswalk(column="person_id", id_types=("sis_id",)),
    fields=({
        "event_id": col("id"),
        "person_id": col("student_id"),
        "source_person_id": col("student_id"),
        "class_id": col("class_id"),
        "activity_type": col("activity.type"),
        "verb": col("status", parse=VERB),
        "object_id": col("activity.id"),
        "object_name": col("activity.title"),
        "started_at": _local_time("started_at"),
        "ended_at": _local_time("ended_at"),
        "duration_seconds": Derived(sources=(("started_at",), ("ended_at",)), fn=_duration, rule="session span"),
        "score_raw": col("score", parse=percent, rule=PERCENT_RULE),
        "score_min": _scored(0.0),
        "score_max": _scored(100.0),
        "score_scaled": _scored(),
        "completed": col("completed", parse=boolean, rule="boolean"),
        "active": Derived(sources=(("deleted_at",),), fn=_active, rule="deleted_at"),
    },),
)

SPEC = PlatformSpec(
    name=PLATFORM,
    title="Practice app",
    description="A practice app's REST API (per-district X-Api-Key): sessions, time spent, scores.",
    feeds=(SESSIONS,),
    api=ApiSpec(
        auth=_auth,
        credentials=("api_key",),
        paginator=lambda: PageNumberPaginator(page_param="page", size_param="per_page", size=500,
                                              total_pages_path="total_pages"),
        # The app allows a burst per key and answers 429 + Retry-After past it: the retry
        # policy waits the hint out, and the budget keeps those waits rare.
        rate_limit=RateLimit(requests_per_second=10, concurrency=1),
        retry=RetryPolicy(max_attempts=8, max_elapsed_s=180),
    ),
)
