"""The declarative vocabulary a platform module is written in.

A platform is data (ARCHITECTURE decision 2): a `PlatformSpec` names its feeds, and each
`FeedSpec` says which file it reads, which entity it fills and where every target column
comes from. The machinery that executes a spec lives elsewhere (`mapping.py`,
`file_drop.py`, `edassets/assets/`); nothing here does I/O.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import pandas as pd

from edassets.adapters.http import Auth, ErrorAction, Paginator, RateLimit, RetryPolicy
from edassets.handoffs import SyncMode
from edassets.schema.model import Entity

API_RECORDS = "records"
"""Table key of an API feed's flattened records."""

Transform = Callable[[pd.Series], pd.Series]
"""Vectorised parser: strings in, typed values out, NA where a present value is invalid."""


@dataclass(frozen=True)
class ParseContext:
    """What a derived column may know about the batch besides its rows."""

    district_id: str
    timezone: ZoneInfo
    platform: str


@dataclass(frozen=True)
class Column:
    """A target column read from one source column.

    Attributes:
        names: header names to look for, first match wins (current name, then legacy ones).
        parse: transform applied to the strings; None keeps trimmed text.
        rule: what the value must be, named in the quarantine report when parsing fails.
    """

    names: tuple[str, ...]
    parse: Transform | None = None
    rule: str = "text"


@dataclass(frozen=True)
class Const:
    """A target column with the same value on every row."""

    value: object


@dataclass(frozen=True)
class Derived:
    """A target column computed from several source columns by a small pure function.

    Attributes:
        sources: source columns the function reads (header alternates are resolved first,
            so the function sees the first name of each tuple).
        fn: vectorised function of (source frame, context) returning one Series.
        rule: what the value must be, named in the quarantine report when it fails.
        may_be_empty: an empty result from present sources is a legitimate "nothing here"
            (a state id looked for among several typed ids), not a parse failure.
    """

    sources: tuple[tuple[str, ...], ...]
    fn: Callable[[pd.DataFrame, ParseContext], pd.Series]
    rule: str
    may_be_empty: bool = False


FieldSource = Column | Const | Derived


def col(*names: str, parse: Transform | None = None, rule: str | None = None) -> Column:
    """Shorthand for `Column`: `col("Course", "MeasurementScale", parse=text)`."""
    return Column(names=names, parse=parse, rule=rule or (parse.__name__ if parse else "text"))


def _alternatives(side: str | tuple[str, ...]) -> tuple[str, ...]:
    """One header name or several alternatives, as a tuple."""
    return (side,) if isinstance(side, str) else tuple(side)


@dataclass(frozen=True)
class Join:
    """Columns brought in from a second file of the same drop, as `<stem>.<column>`.

    Attributes:
        file: file name inside the drop (matched case-insensitively).
        on: (column in the primary file, column in this file) pairs. Either side may be a
            tuple of alternative header names; row by row, the first one holding a value
            is the key (OneRoster 1.0 keys demographics by `userSourcedId`, 1.1 by `sourcedId`).
        keep: columns of this file to bring in.
        where: (column, allowed values) filter applied to this file first, e.g. only
            OneRoster 1.2 `roles.csv` rows with roleType=primary.
        endpoint: API feeds: the endpoint whose records form this table (`file` is then
            just the table's name, e.g. OneRoster REST `demographics`).
    """

    file: str
    on: tuple[tuple[str | tuple[str, ...], str | tuple[str, ...]], ...]
    keep: tuple[str, ...]
    where: tuple[str, frozenset[str]] | None = None
    endpoint: "Endpoint | None" = None

    @property
    def prefix(self) -> str:
        """Prefix of joined column names: the file stem and a dot."""
        return self.file.rsplit(".", 1)[0] + "."

    @property
    def keys(self) -> tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]:
        """`on` with both sides as tuples of alternative header names."""
        return tuple((_alternatives(left), _alternatives(right)) for left, right in self.on)


@dataclass(frozen=True)
class Crosswalk:
    """The feed names persons by a platform id that must be mapped to canonical persons.

    Attributes:
        column: mapped column holding the platform's id; replaced by the canonical id and
            kept as `source_person_id`.
        id_types: crosswalk id types to try, in order (e.g. sis_id, then state_id).
    """

    column: str
    id_types: tuple[str, ...]


@dataclass(frozen=True)
class Incremental:
    """How an endpoint fetches only what changed since the last committed load.

    Attributes:
        cursor_field: record field (flattened, dotted) holding the modification time.
        param: request parameter carrying the filter.
        template: parameter value with `{value}` for the ISO-8601 UTC cursor, e.g.
            OneRoster's `dateLastModified>'{value}'`.
        lookback: re-fetch this much before the cursor: vendors commit rows with
            timestamps slightly in the past, and a re-fetched row is an idempotent upsert.
    """

    cursor_field: str
    param: str
    template: str
    lookback: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Endpoint:
    """Where an API feed's records come from.

    Attributes:
        path: path below the district's base URL.
        records_path: dotted path of the record list in the body ("users", "data").
        params: fixed query parameters.
        paginator: factory of a fresh paginator (paginators are stateful); None = the platform's.
        incremental: cursor-based delta fetching; without it every fetch is a full snapshot.
        record_root: field holding the record inside each list item (Clever wraps every
            record as `{"data": {...}, "uri": ...}`).
        explode: list field -> label: one record per element, with the element in column
            `member` and the label in `member_of` (Clever sections list their students and
            teachers; each pair is an enrollment).
    """

    path: str
    records_path: str
    params: Mapping[str, str] = field(default_factory=dict)
    paginator: Callable[[], Paginator] | None = None
    incremental: Incremental | None = None
    record_root: str | None = None
    explode: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedSpec:
    """One stream of records from a platform into one entity.

    Attributes:
        name: snake_case feed name; the last part of the asset keys.
        entity: target entity of the unified schema.
        description: one sentence shown in the UI.
        fields: target column -> source. One mapping per output row per record; several
            mappings unpivot a record into several rows (identifier crosswalk rows).
        file: file-drop feeds: the file the feed reads (matched case-insensitively in the drop).
        endpoint: API feeds: the endpoint the feed pages through.
        sync_mode: how batches relate to the warehouse unless the drop's manifest says otherwise.
        joins: other files whose columns the mapping may use.
        where: (source column, allowed values): only matching records belong to this feed.
        required_values: target columns whose rows are silently skipped when empty, because
            an empty value means "nothing to record" (a user without an SIS id).
        crosswalk: person ids that need resolving through the identity crosswalk.
        bounds: tighter numeric ranges for this vendor's scores.
        optional: the drop may lack the file without that being an error.
    """

    name: str
    entity: Entity
    description: str
    fields: tuple[Mapping[str, FieldSource], ...]
    file: str = ""
    endpoint: Endpoint | None = None
    sync_mode: SyncMode = "snapshot"
    joins: tuple[Join, ...] = ()
    where: tuple[str, frozenset[str]] | None = None
    required_values: tuple[str, ...] = ()
    crosswalk: Crosswalk | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    optional: bool = False

    def __post_init__(self) -> None:
        if bool(self.file) == (self.endpoint is not None):
            raise ValueError(f"feed {self.name} needs exactly one of file and endpoint")

    @property
    def source(self) -> str:
        """Key of the feed's own table among the tables handed to the mapping."""
        return self.file.lower() if self.file else API_RECORDS

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the feed reads: its own and its joins'."""
        return (self.file, *(j.file for j in self.joins)) if self.file else ()


@dataclass(frozen=True)
class ManifestRule:
    """A drop file that declares, per data file, whether it is a full snapshot, a delta or absent.

    Attributes:
        file: manifest file name.
        property_prefix: prefix of the per-file properties (OneRoster: `file.`).
        modes: manifest value -> sync mode.
    """

    file: str
    property_prefix: str
    modes: Mapping[str, SyncMode]


@dataclass(frozen=True)
class Thresholds:
    """Data-quality gates of a platform.

    Attributes:
        alert: quarantine rate above which a WARN check fails (an operator looks).
        block: quarantine rate above which the blocking check fails and nothing loads.
        max_deactivation: largest share of a district's active records one snapshot may
            deactivate; more looks like a truncated export, and the load is refused.
    """

    alert: float = 0.01
    block: float = 0.20
    max_deactivation: float = 0.5


@dataclass(frozen=True)
class ApiSpec:
    """How to talk to a platform's API; the machinery is in `edassets.adapters.http`.

    Attributes:
        auth: builds the request auth from the district's resolved credentials and base URL.
        paginator: factory of the default paginator.
        rate_limit: client-side budget (requests/second, concurrency).
        retry: bounded retries with backoff.
        error_actions: HTTP status -> action, overriding the toolkit defaults.
        default_base_url: base URL when the registry names none for the district.
        timeout_s: per-request timeout.
    """

    auth: Callable[[Mapping[str, str], str], Auth]
    paginator: Callable[[], Paginator]
    rate_limit: RateLimit
    retry: RetryPolicy
    error_actions: Mapping[int, ErrorAction] = field(default_factory=dict)
    default_base_url: str | None = None
    timeout_s: float = 30.0


@dataclass(frozen=True)
class PlatformSpec:
    """Everything edassets needs to know to ingest one platform.

    Attributes:
        name: snake_case id; the first part of asset keys and the Dagster group.
        title: human name.
        description: what the platform is and how data arrives.
        delivery: how bytes arrive: "file_drop" platforms read files a district hands over,
            "api" platforms page through the vendor's API.
        kinds: Dagster kinds shown on the assets (csv, api, …).
        feeds: the platform's feeds, in load order.
        api: API access (api platforms only).
        manifest: per-file sync modes declared by the drop itself.
        file_signatures: expected file name -> header columns identifying a renamed file.
        thresholds: quarantine-rate gates.
        roster: the platform can be a district's authoritative roster.
    """

    name: str
    title: str
    description: str
    delivery: Literal["file_drop", "api"]
    kinds: frozenset[str]
    feeds: tuple[FeedSpec, ...]
    api: ApiSpec | None = None
    manifest: ManifestRule | None = None
    file_signatures: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    thresholds: Thresholds = Thresholds()
    roster: bool = False

    def feed(self, name: str) -> FeedSpec:
        """The feed called `name`."""
        for feed_spec in self.feeds:
            if feed_spec.name == name:
                return feed_spec
        raise KeyError(f"platform {self.name} has no feed {name!r}")
