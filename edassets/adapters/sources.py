"""Where a feed's bytes come from: one tagged value per feed (ARCHITECTURE decision 2).

A feed names its source once; everything else is derived from it: the platform's delivery
kind (`file_drop`, `api`, `push`), the Dagster kinds of its raw assets, the header
signatures that recognise renamed files, and the reader its bytes go through
(`edassets.adapters.readers`).

- `Files(name, signature=(), format="csv", aliases=())`: a file the district hands over,
  found by its name or one of its aliases (case-insensitively; the name may be a glob
  pattern such as `SR_v*.csv` for an export whose name varies) or, renamed, by its header
  columns; read by the reader registered for `format`.
- `Api(endpoint)`: an API endpoint paged through by the platform's `ApiSpec`; its pages are
  JSON and read as such (`format` is always `json_pages`).
- `Inbox(name, format="json")`: bodies a vendor pushes, archived by the receiver before they
  are acknowledged. Declared so a push platform can be written; the factory refuses it
  until the receiver lands (there is no inbox layout to read yet).
- `Custom(...)`: one function of code, for the vendors that truly need it:
  - `Custom(name=..., read=fn)`: a handed-over file in a layout no registered reader
    knows (fixed-width, an HTML page). `fn(data, context) -> DataFrame` gets the file's
    bytes exactly as received and the district's `ParseContext`, and returns one row per
    record, in file order, every value a string (use "" for an empty cell). It raises
    `ValueError` when the bytes are not its layout at all (the drop then fails naming
    the file). A record it cannot split it keeps as a row with what it could read: the
    mapping then quarantines it with a reason, and the ledger still counts it.
  - `Custom(fetch=fn, records_path=...)`: an API no declarative endpoint describes (a
    GraphQL query, a login form then HTML pages). `fn(client, context)` gets the
    district's authenticated, rate-limited, retrying `RestClient` and a `FetchContext`, and
    yields each response body as the bytes received, in order; each is archived as one
    page, then read as JSON pages (records at `records_path`) or, given `read`, by `read`
    page by page.

Nothing here does I/O.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

import pandas as pd

from edassets.adapters.http import Paginator, RestClient

Delivery = Literal["file_drop", "api", "push"]
"""How a platform's bytes arrive: handed-over files, fetched pages, or pushed bodies."""

PAGES_FORMAT = "json_pages"
"""Format name of fetched API pages (JSON bodies with a record list)."""


@dataclass(frozen=True)
class ParseContext:
    """What a derived column, or a custom read, may know about the batch besides its bytes."""

    district_id: str
    timezone: ZoneInfo
    platform: str


@dataclass(frozen=True)
class FetchContext:
    """What a custom fetch knows about the fetch it makes.

    A custom fetch keeps no cursor (cursors advance through `Endpoint.incremental`): each
    fetch is whole, and its batch has the feed's `sync_mode`.

    Attributes:
        district_id: the district whose data is fetched.
        base_url: the district's API root (the client already prefixes it to request paths).
    """

    district_id: str
    base_url: str


CustomRead = Callable[[bytes, ParseContext], pd.DataFrame]
"""`read(data, context) -> frame`: one file's (or page's) bytes to one string row per record."""

CustomFetch = Callable[[RestClient, FetchContext], Iterable[bytes]]
"""`fetch(client, context) -> bodies`: every response body of one fetch, exactly as received."""


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
class Files:
    """A file the district hands over.

    Attributes:
        name: the file's name in the drop (matched case-insensitively), or a glob pattern
            when one export has several names (`SR_v*.csv`); also its table's name.
        signature: header columns that identify the file when a district renamed it
            ("Fall results.csv"); empty: recognised by name only.
        format: registered reader of its bytes (see `edassets.adapters.readers`).
        aliases: other names the same file goes by (another export version's name, such
            as a `_v1` suffix); a file so named plays `name`'s role.
    """

    name: str
    signature: tuple[str, ...] = ()
    format: str = "csv"
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("Files needs the file's name")

    @property
    def delivery(self) -> Delivery:
        """Handed-over files."""
        return "file_drop"

    @property
    def kinds(self) -> frozenset[str]:
        """The file format, as a Dagster kind (`csv`)."""
        return frozenset({self.format})


@dataclass(frozen=True)
class Api:
    """An API endpoint paged through with the platform's `ApiSpec`."""

    endpoint: Endpoint
    delivery: ClassVar[Delivery] = "api"
    kinds: ClassVar[frozenset[str]] = frozenset({"api"})


@dataclass(frozen=True)
class Inbox:
    """Bodies a vendor pushes (webhook, xAPI, Caliper), archived by the receiver.

    Attributes:
        name: the inbox's name under the platform (one per kind of pushed body).
        format: registered reader of each body.
    """

    name: str
    format: str = "json"
    delivery: ClassVar[Delivery] = "push"
    kinds: ClassVar[frozenset[str]] = frozenset({"webhook"})


@dataclass(frozen=True)
class Custom:
    """One function of code where no declaration fits (see the module docstring for both signatures).

    Attributes:
        name: read-only sources: the handed-over file `read` reads (matched as `Files` names are).
        signature: header columns identifying that file when renamed (its first line read as CSV).
        read: bytes of one file or page -> one string row per record.
        fetch: authenticated client -> every response body of one fetch.
        records_path: fetched pages read without `read`: dotted path of their record list.
    """

    name: str = ""
    signature: tuple[str, ...] = ()
    read: CustomRead | None = None
    fetch: CustomFetch | None = None
    records_path: str = ""

    def __post_init__(self) -> None:
        if self.read is None and self.fetch is None:
            raise ValueError("Custom needs a read or a fetch function")
        if self.fetch is None and not self.name:
            raise ValueError("Custom(read=...) needs the name of the file it reads")
        if self.fetch is not None and (self.name or self.signature):
            raise ValueError("Custom(fetch=...) fetches its pages; a file name or signature means nothing to it")

    @property
    def delivery(self) -> Delivery:
        """Fetched pages with a fetch function, handed-over files without."""
        return "api" if self.fetch is not None else "file_drop"

    @property
    def kinds(self) -> frozenset[str]:
        """`python`, plus `api` when it fetches."""
        return frozenset({"python", "api"}) if self.fetch is not None else frozenset({"python"})


Source = Files | Api | Inbox | Custom
"""Where a feed's bytes come from."""
