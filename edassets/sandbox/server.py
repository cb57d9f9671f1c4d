"""The sandbox: every emulated vendor API and file drop of the synthetic world, over real HTTP.

No vendor is reachable from here (ARCHITECTURE decision 9), so adapters, assets and tests
talk to this server exactly as they would to the vendor: same URL shapes, auth, paging,
envelopes, errors and rate limits, plus switchable faults (`faults.py`). What it serves is
`world.state(district, today)` rendered by each platform's emulator
(`edassets/sandbox/emulators/`), so the truth is known.

The server is generic: sockets, routing, caching, credentials and faults. An API emulator
answers its own routes (each documents them); every file emulator's drop is served as

    GET {url}/files/{district}/{platform}.zip        the drop as a flat zip

Credentials come from `credentials.sandbox_credentials(platform, district, seed)`.
"""

import io
import logging
import threading
import time
import zipfile
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

import pandas as pd

from edassets.sandbox.credentials import env_var_name, sandbox_credentials
from edassets.sandbox.emulators import EMULATORS, ApiEmulator, Emulator, FileEmulator
from edassets.sandbox.emulators.base import Record
from edassets.sandbox.faults import (
    ActiveFaults,
    FaultInjector,
    FaultPlan,
    InjectedRecord,
    corrupt_file,
    corrupt_record,
    rename_field,
)
from edassets.sandbox.http import Call, Exchange, LoggedRequest, Response, json_response, redact

__all__ = ["LoggedRequest", "SandboxServer", "SandboxWorld", "serve"]

_log = logging.getLogger(__name__)

_HTML_ERROR = (b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
               b"</center><hr><center>nginx</center></body></html>")

Renderer = Callable[..., Any]
"""An emulator's `render` stand-in: (state, collection) -> records, or state -> files."""


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
        exchange = Exchange()
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
    """Every emulated vendor API and file drop of a synthetic world, on one local port.

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
        renderers: Mapping[str, Renderer] | None = None,
        emulator_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """Bind the socket; nothing is served until `start()`.

        Args:
            world: the synthetic world (`World.generate(...)`).
            faults: faults to inject; none by default.
            seed: credential seed (`sandbox_credentials(platform, district, seed)`).
            host: interface to bind.
            port: port to bind; 0 picks a free one.
            today: the day whose `WorldState` is served; defaults to the local date.
            renderers: platform -> stand-in for its emulator's `render` (tests serve small
                hand-made worlds this way).
            emulator_options: platform -> keyword options of its emulator's constructor
                (a token lifetime, a rate limit).

        Raises:
            TypeError: an option an emulator does not take.
        """
        self._world = world
        self._renderers = dict(renderers or {})
        self._plan = faults or FaultPlan()
        self._faults = FaultInjector(self._plan)
        self._today = today or date.today()
        self._districts = [d.district_id for d in world.options.districts]
        self._credentials = {(platform, d): sandbox_credentials(platform, d, seed)
                             for platform in EMULATORS for d in self._districts}
        self._by_credential = {(platform, name, value): d for (platform, d), values in self._credentials.items()
                               for name, value in values.items()}

        self._lock = threading.Lock()  # injected records, request log
        self._render_lock = threading.Lock()  # the day served and its caches: each render happens once
        # Caches for the day served, emptied by set_today: states, rendered records, zipped drops.
        self._states: dict[str, Any] = {}
        self._rendered: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._zips: dict[tuple[str, str], bytes] = {}
        self._injected: set[tuple[str, str, InjectedRecord]] = set()
        self.request_log: list[LoggedRequest] = []

        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.sandbox = self
        self.url = f"http://{host}:{self._httpd.server_port}"
        options = emulator_options or {}
        unknown = set(options) - set(EMULATORS)
        if unknown:
            raise TypeError(f"no emulator for {sorted(unknown)}; known: {sorted(EMULATORS)}")
        self._emulators: dict[str, Emulator] = {
            name: emulator_class(self, **options.get(name, {})) for name, emulator_class in EMULATORS.items()}
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

    @property
    def districts(self) -> tuple[str, ...]:
        """The districts served."""
        return tuple(self._districts)

    @property
    def today(self) -> date:
        """The day whose world state is served."""
        return self._today

    def set_today(self, day: date) -> None:
        """Serve the world as of `day` from now on (sync 1 on one day, sync 2 on a later one)."""
        with self._render_lock:
            self._today = day
            self._states.clear()
            self._rendered.clear()
            self._zips.clear()

    def base_url(self, platform: str, district_id: str) -> str:
        """The base URL a district's registry entry uses for a platform (its emulator says what to append).

        Raises:
            ValueError: unknown platform or district.
        """
        if district_id not in self._districts:
            raise ValueError(f"the sandbox world has no district {district_id!r}")
        if platform not in self._emulators:
            raise ValueError(f"the sandbox does not serve platform {platform!r}; known: {sorted(self._emulators)}")
        return self._emulators[platform].base_url(district_id)

    def drop_url(self, platform: str, district_id: str) -> str:
        """Where a file platform's drop for the district is served as a zip."""
        emulator_class = EMULATORS.get(platform)
        if emulator_class is None or not issubclass(emulator_class, FileEmulator):
            raise ValueError(f"{platform!r} is not an emulated file platform")
        return f"{self.base_url(platform, district_id)}/{emulator_class.drop_name()}"

    def drop_files(self, platform: str, district_id: str) -> dict[str, bytes]:
        """A file platform's drop for the district as of the day served, faults applied: name -> bytes."""
        emulator_class = EMULATORS[platform]
        assert issubclass(emulator_class, FileEmulator)
        with self._render_lock:
            files = self._render(platform, district_id)
        bad = self._faults.persistent(platform).get("bad_records")
        if bad is None:
            return files
        served = {}
        for name, data in files.items():
            served[name], injected = corrupt_file(data, emulator=emulator_class, name=name, fault=bad,
                                                  seed=self._plan.seed)
            self._note_injected(district_id, platform, injected)
        return served

    def injected_bad_records(self) -> pd.DataFrame:
        """Records a `bad_records` fault corrupted so far: the quarantine ground truth.

        Returns:
            One row per corrupted record: district_id, platform, collection, record_id (the
            record's real id, also when the defect emptied it), served_id (the id as served)
            and kind.
        """
        with self._lock:
            rows = sorted((d, p, r.collection, r.record_id, r.served_id, r.kind) for d, p, r in self._injected)
        return pd.DataFrame(rows, columns=["district_id", "platform", "collection", "record_id", "served_id", "kind"])

    # --- what emulators ask (`emulators.base.Host`) ------------------------------------------

    def has_district(self, district_id: str) -> bool:
        """Whether the world serves this district."""
        return district_id in self._districts

    def credentials(self, platform: str, district_id: str) -> Mapping[str, str]:
        """The credentials the platform handed the district."""
        return self._credentials[(platform, district_id)]

    def district_by_credential(self, platform: str, name: str, value: str) -> str | None:
        """The district a credential value belongs to."""
        return self._by_credential.get((platform, name, value))

    def records(self, platform: str, district_id: str, collection: str) -> list[dict[str, Any]]:
        """The collection's records for the day served, rendered once and cached."""
        with self._render_lock:
            key = (platform, district_id, collection)
            if key not in self._rendered:
                self._rendered[key] = self._render(platform, district_id, collection)
            return self._rendered[key]

    def open_data_request(self, emulator: Emulator, exchange: Exchange) -> tuple[ActiveFaults, Response | None]:
        """Count one data request; apply `slow`, then answer 429 or 5xx instead if such a fault is active."""
        active = self._faults.draw(emulator.platform)
        if (slow := active.get("slow")) is not None:
            exchange.faults.append("slow")
            time.sleep(slow.param("delay_s"))
        if (storm := active.get("rate_limit_storm")) is not None:
            exchange.faults.append("rate_limit_storm")
            return active, emulator.rate_limited(storm.param("retry_after"))
        if (error := active.get("server_error")) is not None:
            exchange.faults.append("server_error")
            return active, emulator.unavailable(error.param("status"))
        return active, None

    def served(self, emulator: ApiEmulator, district_id: str, collection: str, page: list[dict[str, Any]],
               before: list[dict[str, Any]], active: ActiveFaults, exchange: Exchange) -> list[Record]:
        """The page's records as sent: truncated or with repeats if asked, persistent faults applied.

        Args:
            emulator: the emulator serving the page.
            district_id: the district served.
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
                records[i], kind = corrupt_record(record, emulator=type(emulator), collection=collection, fault=bad,
                                                  seed=self._plan.seed)
                if kind is not None:
                    record_id = str(record.get(emulator.id_field, ""))
                    served_id = str(records[i].get(emulator.id_field, ""))
                    injected.append(InjectedRecord(collection, record_id, served_id, kind))
            if injected:
                self._note_injected(district_id, emulator.platform, injected)
                exchange.faults.append("bad_records")
        if (renamed := active.get("renamed_field")) is not None:
            renamed_records = [rename_field(r, renamed, collection) for r in records]
            if any(a is not b for a, b in zip(renamed_records, records, strict=True)):
                exchange.faults.append("renamed_field")
            records = renamed_records
        return records

    def finish(self, response: Response, active: ActiveFaults, exchange: Exchange) -> Response:
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

    # --- routing ----------------------------------------------------------------------------

    def _dispatch(self, method: str, target: str, headers: Any, body: bytes, exchange: Exchange) -> Response:
        split = urlsplit(target)
        parts = tuple(unquote(p) for p in split.path.split("/") if p)
        match parts:
            case ("files", district, name) if self._file_platform(name) is not None:
                platform = self._file_platform(name)
                exchange.platform, exchange.district_id = platform, district
                if method != "GET":
                    return json_response(405, {"error": "use GET"}, {"Allow": "GET"})
                return self._file_drop(str(platform), district, name, exchange)
        origin = f"http://{headers.get('Host')}" if headers.get("Host") else self.url
        call = Call(method, parts, dict(parse_qsl(split.query, keep_blank_values=True)), split.query, headers, body,
                    f"{origin}{split.path}", exchange)
        for emulator in self._emulators.values():
            response = emulator.handle(call)
            if response is not None:
                return response
        return json_response(404, {"error": f"nothing is served at {split.path}"})

    @staticmethod
    def _file_platform(name: str) -> str | None:
        return next((p for p, e in EMULATORS.items() if issubclass(e, FileEmulator) and e.drop_name() == name), None)

    def _record(self, method: str, target: str, status: int, exchange: Exchange) -> None:
        entry = LoggedRequest(method, redact(target), status, exchange.platform, exchange.district_id,
                              tuple(exchange.faults))
        with self._lock:
            self.request_log.append(entry)
        _log.debug("sandbox %s %s -> %s faults=%s", entry.method, entry.path, entry.status, entry.faults)

    def _note_injected(self, district_id: str, platform: str, injected: list[InjectedRecord]) -> None:
        with self._lock:
            self._injected.update((district_id, platform, record) for record in injected)

    # --- file drops ---------------------------------------------------------------------------

    def _file_drop(self, platform: str, district: str, name: str, exchange: Exchange) -> Response:
        if district not in self._districts:
            return json_response(404, {"error": f"unknown district {district}"})
        active, failed = self.open_data_request(self._emulators[platform], exchange)
        if failed is not None:
            return failed
        response = Response(200, self._zip(district, platform, exchange), {
            "Content-Type": "application/zip", "Content-Disposition": f'attachment; filename="{name}"'})
        if active.get("truncated_page") is not None:
            response.send_bytes = len(response.body) // 2
            exchange.faults.append("truncated_page")
        return response

    def _zip(self, district: str, platform: str, exchange: Exchange) -> bytes:
        """The drop as a flat zip (no subfolders), byte-identical for a day."""
        key = (platform, district)
        with self._render_lock:
            cached = self._zips.get(key)
            day = self._today
        if cached is None:
            files = self.drop_files(platform, district)
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                for name, data in files.items():
                    # A fixed timestamp keeps the bytes, and so the archive's sha256, stable.
                    info = zipfile.ZipInfo(name, date_time=(day.year, day.month, day.day, 0, 0, 0))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, data)
            cached = buffer.getvalue()
            with self._render_lock:
                self._zips[key] = cached
        if self._faults.persistent(platform).get("bad_records") is not None:
            exchange.faults.append("bad_records")
        return cached

    # --- rendering ------------------------------------------------------------------------------

    def _render(self, platform: str, district: str, *collection: str) -> Any:
        """Render with the emulator (or its stand-in); call with the render lock held."""
        if district not in self._states:
            self._states[district] = self._world.state(district, self._today)
        render = self._renderers.get(platform)
        if render is None:
            emulator_class = EMULATORS[platform]
            assert issubclass(emulator_class, ApiEmulator | FileEmulator)
            render = emulator_class.render
        return render(self._states[district], *collection)


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
        for district in server.districts:
            urls = "  ".join(f"{platform} {server.base_url(platform, district)}" for platform in EMULATORS)
            print(f"  {district}: {urls}", flush=True)
            names = ", ".join(env_var_name(district, platform, name)
                              for platform, emulator_class in EMULATORS.items() for name in emulator_class.credentials)
            print(f"    credentials: {names}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("sandbox stopped", flush=True)
