"""What an emulator is: one platform's view of the sandbox world, in the vendor's own wire format.

ARCHITECTURE decision 9: no vendor is reachable, so the sandbox plays each one. The world,
the HTTP server, faults, truth and accuracy are generic machinery; everything a platform
adds lives in its emulator (`edassets/sandbox/emulators/<platform>.py`):

* what it serves: an `ApiEmulator` answers its own routes (`handle`) and renders records per
  collection; a `FileEmulator` renders the files of a drop, which the server hands out as
  ``/files/<district>/<platform>.zip`` and onboarding writes into folders;
* how it authenticates: the credentials it hands out (`credentials`, name -> hex length)
  and how `handle` checks them;
* how it pages, in `handle`;
* the ground truth of its records (`truth`): what a correct pipeline loads from it;
* which faults make sense for it (`fault_kinds`) and where bad records go
  (`bad_record_targets`).

An emulator renders the world independently of the platform module (it never imports it),
or the accuracy it measures would prove nothing.

Rendering and truth are class-level and pure; an instance belongs to one running server
(`Host`) and holds whatever state the vendor keeps per client: issued tokens, rate windows.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import pandas as pd

from edassets.sandbox.http import Call, Exchange, Response, json_response

if TYPE_CHECKING:
    from edassets.sandbox.faults import ActiveFaults
    from edassets.sandbox.world import WorldState

Record = Mapping[str, Any]

TRANSPORT_FAULTS = frozenset({"rate_limit_storm", "server_error", "slow", "truncated_page"})
"""Fault kinds every emulator's data requests can suffer."""
FILE_FAULTS = TRANSPORT_FAULTS | {"bad_records"}
"""What a file drop can suffer: transport faults and corrupted rows."""
API_FAULTS = FILE_FAULTS | {"malformed_json", "duplicate_records", "renamed_field"}
"""What a JSON API can suffer, token expiry aside (only platforms with refreshable tokens)."""


class Host(Protocol):
    """What the running server offers an emulator while it answers a call."""

    @property
    def url(self) -> str:
        """`http://<host>:<port>` of the server."""
        ...

    def has_district(self, district_id: str) -> bool:
        """Whether the world serves this district."""
        ...

    def credentials(self, platform: str, district_id: str) -> Mapping[str, str]:
        """The credentials the platform handed the district (`credentials.sandbox_credentials`)."""
        ...

    def district_by_credential(self, platform: str, name: str, value: str) -> str | None:
        """The district a credential value belongs to (vendors that pick the district by token)."""
        ...

    def records(self, platform: str, district_id: str, collection: str) -> list[dict[str, Any]]:
        """The collection's records for the day served, rendered once and cached."""
        ...

    def open_data_request(self, emulator: Emulator, exchange: Exchange) -> tuple[ActiveFaults, Response | None]:
        """Count one data request: the faults in effect, and the 429/5xx to send instead, if any."""
        ...

    def served(self, emulator: ApiEmulator, district_id: str, collection: str, page: list[dict[str, Any]],
               before: list[dict[str, Any]], active: ActiveFaults, exchange: Exchange) -> list[Record]:
        """The page's records as sent: truncated, repeated, corrupted or renamed as the faults say."""
        ...

    def finish(self, response: Response, active: ActiveFaults, exchange: Exchange) -> Response:
        """Break a finished JSON answer when a body fault is active."""
        ...


class Emulator(ABC):
    """One platform of the sandbox. Subclass `ApiEmulator` or `FileEmulator`.

    Attributes:
        platform: the platform id, as the platform module names itself.
        title: human name (the demo names districts after it).
        roster: the platform can be a district's authoritative roster.
        id_scheme: the world column holding the ids this platform shows (`sourced_id`,
            `clever_id`, …). A roster platform's ids are the district's canonical ids.
        credentials: what the vendor hands a district: credential name -> length in hex
            characters (values are derived, see `credentials.py`).
        fault_kinds: the faults that make sense for this platform.
        collection_entities: collection or file -> unified entity its records become (for
            scoring injected bad records).
        bad_record_targets: bad-record kind -> collection or file -> field paths or columns a
            defect of that kind may go to (the first one the record has, non-empty).
    """

    platform: ClassVar[str]
    title: ClassVar[str]
    roster: ClassVar[bool] = False
    id_scheme: ClassVar[str] = "sourced_id"
    credentials: ClassVar[Mapping[str, int]] = {}
    fault_kinds: ClassVar[frozenset[str]] = TRANSPORT_FAULTS
    collection_entities: ClassVar[Mapping[str, str]] = {}
    bad_record_targets: ClassVar[Mapping[str, Mapping[str, tuple[str, ...]]]] = {}

    def __init__(self, host: Host, **options: Any) -> None:
        """Serve on `host`; `options` are the emulator's own settings (none by default).

        Raises:
            TypeError: an option this emulator does not take.
        """
        if options:
            raise TypeError(f"{self.platform} emulator takes no options; got {sorted(options)}")
        self.host = host

    @classmethod
    @abstractmethod
    def truth(cls, state: WorldState, roster_scheme: str) -> dict[str, pd.DataFrame]:
        """Entity -> the rows a correct pipeline loads from this platform for the district.

        Args:
            state: the district on the last sync day.
            roster_scheme: `id_scheme` of the district's roster platform: canonical ids
                (a non-roster platform's persons resolve to them through the crosswalk).
        """

    @classmethod
    def ghost_id(cls, digest: bytes) -> str:
        """An id that names nothing, shaped like the platform's ids (default: a UUID)."""
        h = digest[8:].hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"

    @abstractmethod
    def base_url(self, district_id: str) -> str:
        """Where a district's registry entry points for this platform."""

    def handle(self, call: Call) -> Response | None:
        """Answer a request on this emulator's routes; None = not one of them."""
        return None

    def rate_limited(self, retry_after: float) -> Response:
        """The vendor's 429 (default: JSON with `Retry-After`)."""
        return json_response(429, {"error": "too many requests"}, {"Retry-After": str(max(round(retry_after), 0))})

    def unavailable(self, status: int) -> Response:
        """The vendor's 5xx (default: a JSON error)."""
        return json_response(status, {"error": "the server is unavailable"})


def sis_ghost_id(cls: type[Emulator], digest: bytes) -> str:
    """A nine-digit SIS id that names nothing (world SIS ids have six to eight digits).

    The `ghost_id` of platforms that name students by SIS id: ``ghost_id = classmethod(sis_ghost_id)``.
    """
    return str(100_000_000 + int.from_bytes(digest[8:16]) % 900_000_000)


class ApiEmulator(Emulator):
    """A platform that serves JSON records page by page.

    Attributes:
        collections: the collections it serves.
        id_field: the field (dotted path) holding a record's id.
    """

    collections: ClassVar[tuple[str, ...]]
    id_field: ClassVar[str] = "id"
    fault_kinds = API_FAULTS

    @classmethod
    @abstractmethod
    def render(cls, state: WorldState, collection: str) -> list[dict[str, Any]]:
        """The collection's records for a district on a day, in the order the vendor pages them.

        Raises:
            ValueError: an unknown collection.
        """

    @abstractmethod
    def handle(self, call: Call) -> Response | None:
        """Answer a request on this emulator's routes; None = not one of them."""

    def claim_get(self, call: Call) -> Response | None:
        """Claim a call on one of this emulator's read-only routes: the 405 to send unless it is a GET."""
        call.exchange.platform = self.platform
        if call.method != "GET":
            return json_response(405, {"error": "use GET"}, {"Allow": "GET"})
        return None


class FileEmulator(Emulator):
    """A platform whose data a district hands over as files.

    Attributes:
        record_keys: file -> the columns whose values, joined by ``:``, name a row's record
            (the unified record id the truth uses).
        quote_all: the vendor quotes every value (rewritten rows keep the layout).
    """

    record_keys: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    quote_all: ClassVar[bool] = False
    fault_kinds = FILE_FAULTS

    @classmethod
    @abstractmethod
    def render(cls, state: WorldState) -> dict[str, bytes]:
        """The drop for a district on a day: file name -> bytes."""

    @classmethod
    def drop_name(cls) -> str:
        """The zip the server hands the drop out as."""
        return f"{cls.platform}.zip"

    def base_url(self, district_id: str) -> str:
        """The drop folder: append `drop_name()`."""
        return f"{self.host.url}/files/{district_id}"
