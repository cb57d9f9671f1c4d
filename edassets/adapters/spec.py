"""The declarative vocabulary a platform module is written in.

A platform is data (ARCHITECTURE decision 2): a `PlatformSpec` names its feeds, and each
`FeedSpec` says where its bytes come from (one source, `edassets.adapters.sources`),
which entity it fills and where every target column comes from. What a platform would
otherwise declare a second time (its delivery kind, Dagster kinds, file signatures,
readers) is derived from the feeds' sources. The machinery that executes a spec lives
elsewhere (`mapping.py`, `file_drop.py`, `readers.py`, `edassets/assets/`); nothing here
does I/O.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import cast

import pandas as pd

from edassets.adapters.http import Auth, ErrorAction, Paginator, RateLimit, RetryPolicy
from edassets.adapters.readers import reader_for
from edassets.adapters.sources import Api, Custom, Delivery, Endpoint, Files, Inbox, ParseContext, Source
from edassets.handoffs import SyncMode
from edassets.schema.model import Entity

API_RECORDS = "records"
"""Table key of an API feed's flattened records."""

Transform = Callable[[pd.Series], pd.Series]
"""Vectorised parser: strings in, typed values out, NA where a present value is invalid."""


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
        signature: file-drop feeds: header columns identifying this file when a district
            renamed it (as `Files.signature`).
    """

    file: str
    on: tuple[tuple[str | tuple[str, ...], str | tuple[str, ...]], ...]
    keep: tuple[str, ...]
    where: tuple[str, frozenset[str]] | None = None
    endpoint: Endpoint | None = None
    signature: tuple[str, ...] = ()

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
class FeedSpec:
    """One stream of records from a platform into one entity.

    Attributes:
        name: snake_case feed name; the last part of the asset keys.
        entity: target entity of the unified schema.
        description: one sentence shown in the UI.
        fields: target column -> source. One mapping per output row per record; several
            mappings unpivot a record into several rows (identifier crosswalk rows).
        source: where the feed's bytes come from: `Files`, `Api`, `Inbox` or `Custom`
            (`edassets.adapters.sources`). Required.
        sync_mode: how batches relate to the warehouse unless the drop's manifest says otherwise.
        joins: other tables whose columns the mapping may use: files of the same drop,
            read by the feed's own reader, or (`Join.endpoint`) endpoints of the same API.
            A custom fetch fetches all it needs itself, so it has none.
        where: (source column, allowed values): only matching records belong to this feed.
        where_reason: why a record `where` sets aside is not loaded, as its not-applicable
            outcome says (default: it belongs to another feed).
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
    # Typed as always set: the None default only lets `__post_init__` refuse a feed without
    # a source with the same ValueError as a feed with a wrong one, instead of a TypeError.
    source: Source = cast(Source, None)
    sync_mode: SyncMode = "snapshot"
    joins: tuple[Join, ...] = ()
    where: tuple[str, frozenset[str]] | None = None
    where_reason: str = "another feed's record"
    required_values: tuple[str, ...] = ()
    crosswalk: Crosswalk | None = None
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    optional: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source, Source):
            raise ValueError(f"feed {self.name} needs one source: Files(...), Api(...), Inbox(...) or Custom(...), "
                             f"not {self.source!r}")
        if isinstance(self.source, Custom) and self.source.fetch is not None and self.joins:
            raise ValueError(f"feed {self.name}: a custom fetch fetches every table itself; it takes no joins")
        if not isinstance(self.source, Inbox):
            try:
                reader_for(self.source)
            except ValueError as error:
                raise ValueError(f"feed {self.name}: {error}") from None

    @property
    def file(self) -> str:
        """The handed-over file the feed reads; "" for fetched and pushed feeds."""
        source = self.source
        return source.name if isinstance(source, Files | Custom) and source.delivery == "file_drop" else ""

    @property
    def endpoint(self) -> Endpoint | None:
        """The endpoint the feed pages through; None unless its source is `Api`."""
        return self.source.endpoint if isinstance(self.source, Api) else None

    @property
    def table(self) -> str:
        """Key of the feed's own table among the tables handed to the mapping."""
        return self.file.lower() if self.file else API_RECORDS

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the feed reads: its own and its joins'."""
        return (self.file, *(j.file for j in self.joins)) if self.file else ()

    @property
    def signatures(self) -> dict[str, tuple[str, ...]]:
        """File name -> header columns identifying it renamed, for the feed's files that declare one."""
        source = self.source
        own = source.signature if isinstance(source, Files | Custom) else ()
        declared = ((self.file, own), *((j.file, j.signature) for j in self.joins)) if self.file else ()
        return {name: columns for name, columns in declared if columns}

    @property
    def aliases(self) -> dict[str, str]:
        """Alias -> the feed's own file it names (`Files.aliases`)."""
        source = self.source
        return {alias: source.name for alias in source.aliases} if isinstance(source, Files) and self.file else {}


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
        auth: builds the request auth from the district's resolved credentials and base URL;
            it is called only with every name in `credentials` present.
        paginator: factory of the default paginator.
        rate_limit: client-side budget (requests/second, concurrency).
        retry: bounded retries with backoff.
        credentials: names of the credentials each district registers for the platform
            (`client_id`, `client_secret`); the registry and the fetch check them, by name only.
        error_actions: HTTP status -> action, overriding the toolkit defaults.
        default_base_url: base URL when the registry names none for the district.
        timeout_s: per-request timeout.
    """

    auth: Callable[[Mapping[str, str], str], Auth]
    paginator: Callable[[], Paginator]
    rate_limit: RateLimit
    retry: RetryPolicy
    credentials: tuple[str, ...] = ()
    error_actions: Mapping[int, ErrorAction] = field(default_factory=dict)
    default_base_url: str | None = None
    timeout_s: float = 30.0

    def missing_credentials(self, names: Iterable[str]) -> tuple[str, ...]:
        """The declared credential names not among `names`, in declaration order."""
        given = set(names)
        return tuple(name for name in self.credentials if name not in given)


def _file_aliases(platform: str, feeds: tuple[FeedSpec, ...]) -> dict[str, str]:
    """Lower-cased alias -> lower-cased file name it stands for, over all feeds.

    Raises:
        ValueError: an alias is also a file some feed reads, or names two different files.
    """
    files = {name.lower() for feed in feeds for name in feed.files}
    aliases: dict[str, str] = {}
    for feed in feeds:
        for alias, name in feed.aliases.items():
            if alias.lower() in files:
                raise ValueError(f"platform {platform}: {alias} is an alias of {name} and a file of its own")
            if aliases.setdefault(alias.lower(), name.lower()) != name.lower():
                raise ValueError(f"platform {platform}: {alias} is an alias of two files ({aliases[alias.lower()]} "
                                 f"and {name.lower()})")
    return aliases


def _file_signatures(platform: str, feeds: tuple[FeedSpec, ...]) -> dict[str, tuple[str, ...]]:
    """File name -> header signature over all feeds.

    Raises:
        ValueError: two feeds give the same file different signatures.
    """
    signatures: dict[str, tuple[str, ...]] = {}
    for feed in feeds:
        for name, columns in feed.signatures.items():
            if signatures.setdefault(name, columns) != columns:
                raise ValueError(f"platform {platform}: {name} has two signatures ({signatures[name]} and {columns})")
    return signatures


@dataclass(frozen=True)
class PlatformSpec:
    """Everything edassets needs to know to ingest one platform.

    How its bytes arrive, the Dagster kinds of its assets and the signatures of its files
    are derived from its feeds' sources (`delivery`, `kinds`, `file_signatures`).

    Attributes:
        name: snake_case id; the first part of asset keys and the Dagster group.
        title: human name.
        description: what the platform is and how data arrives.
        feeds: the platform's feeds, in load order.
        api: API access (platforms whose feeds fetch).
        manifest: per-file sync modes declared by the drop itself.
        thresholds: quarantine-rate gates.
        roster: the platform can be a district's authoritative roster.
    """

    name: str
    title: str
    description: str
    feeds: tuple[FeedSpec, ...]
    api: ApiSpec | None = None
    manifest: ManifestRule | None = None
    thresholds: Thresholds = Thresholds()
    roster: bool = False

    def __post_init__(self) -> None:
        if not self.feeds:
            raise ValueError(f"platform {self.name} has no feeds")
        deliveries = sorted({feed.source.delivery for feed in self.feeds})
        if len(deliveries) > 1:
            # One raw-step shape per platform: its run is handed files or fetches, never both.
            raise ValueError(f"platform {self.name} mixes deliveries ({', '.join(deliveries)}); "
                             "split it into one platform per delivery")
        if deliveries == ["api"] and self.api is None:
            raise ValueError(f"platform {self.name} fetches its feeds but declares no api=ApiSpec(...)")
        # Conflicting signatures and aliases are refused now, not in a run.
        _file_signatures(self.name, self.feeds)
        _file_aliases(self.name, self.feeds)

    @property
    def delivery(self) -> Delivery:
        """How the platform's bytes arrive, from its feeds' sources: `file_drop`, `api` or `push`."""
        return self.feeds[0].source.delivery

    @property
    def kinds(self) -> frozenset[str]:
        """Dagster kinds of the raw assets: the union of the feeds' source kinds (`csv`, `api`, …)."""
        return frozenset().union(*(feed.source.kinds for feed in self.feeds))

    @property
    def file_signatures(self) -> dict[str, tuple[str, ...]]:
        """Expected file name -> header columns identifying it renamed, from every feed and join."""
        return _file_signatures(self.name, self.feeds)

    @property
    def file_aliases(self) -> dict[str, str]:
        """Lower-cased alias -> lower-cased file name it stands for (`Files.aliases`)."""
        return _file_aliases(self.name, self.feeds)

    def feed(self, name: str) -> FeedSpec:
        """The feed called `name`."""
        for feed_spec in self.feeds:
            if feed_spec.name == name:
                return feed_spec
        raise KeyError(f"platform {self.name} has no feed {name!r}")
