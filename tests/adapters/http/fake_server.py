"""A fake provider API on a real socket, with strict expectations.

`ThreadingHTTPServer` on 127.0.0.1:0 in a background thread. A test registers routes
(method + path → handler); each route counts its calls. In strict mode (Airbyte's strict
HTTP mock idea) `verify()` fails when a registered route was never hit or a request hit
no route, so a test cannot pass by never making the call it meant to check.
"""

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from requests.structures import CaseInsensitiveDict


@dataclass(frozen=True)
class FakeRequest:
    """What the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    url: str

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        return self.query.get(name, [default])[0]

    def int_arg(self, name: str, default: int = 0) -> int:
        """A query parameter as an integer."""
        value = self.arg(name)
        return default if value is None else int(value)

    def form(self) -> dict[str, str]:
        """The body as an urlencoded form."""
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class FakeResponse:
    """What the handler answers.

    Attributes:
        status: HTTP status.
        body: bytes, or str (UTF-8), or anything else (JSON-encoded).
        headers: extra headers.
        delay_s: sleep before answering (timeouts).
        truncate_to: send only this many body bytes while declaring the full length.
    """

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    truncate_to: int | None = None

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
            return self.body.encode(), headers
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode(), headers


Handler = Callable[[FakeRequest], FakeResponse]


@dataclass
class Route:
    """A registered endpoint and how often it was called."""

    method: str
    path: str
    handler: Handler
    expected: bool
    calls: int = 0


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> FakeResponse:
    """A JSON response."""
    return FakeResponse(status=status, body=body, headers=headers or {})


def in_sequence(*responses: FakeResponse) -> Handler:
    """Answer with each response in turn, repeating the last one."""
    counter = iter(range(len(responses)))
    lock = threading.Lock()

    def handler(_: FakeRequest) -> FakeResponse:
        with lock:
            index = next(counter, len(responses) - 1)
        return responses[index]

    return handler


class FakeServer:
    """A route table served over HTTP on an ephemeral port."""

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[FakeRequest] = []
        self.unmatched: list[str] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self._httpd.server_port}"

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return f"{self.base_url}{path}"

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    def route(
        self, method: str, path: str, handler: Handler | FakeResponse, *, expected: bool = True
    ) -> Route:
        """Register an endpoint.

        Args:
            method: HTTP method.
            path: exact path (no query).
            handler: a function of the request, or a fixed response.
            expected: strict mode requires at least one call.
        """
        fn = handler if callable(handler) else (lambda _request, fixed=handler: fixed)
        route = Route(method.upper(), path, fn, expected)
        self.routes[(route.method, path)] = route
        return route

    def calls(self, method: str, path: str) -> int:
        """How often an endpoint was called."""
        return self.routes[(method.upper(), path)].calls

    def verify(self) -> None:
        """In strict mode, fail on expected routes never hit and on unrouted requests."""
        if not self.strict:
            return
        missed = [
            f"{r.method} {r.path}" for r in self.routes.values() if r.expected and not r.calls
        ]
        problems = []
        if missed:
            problems.append(f"expected but never requested: {missed}")
        if self.unmatched:
            problems.append(f"requested but not registered: {self.unmatched}")
        if problems:
            raise AssertionError("; ".join(problems))

    def _dispatch(self, request: FakeRequest) -> FakeResponse:
        with self._lock:
            self.requests.append(request)
            route = self.routes.get((request.method, request.path))
            if route is None:
                self.unmatched.append(f"{request.method} {request.path}")
            else:
                route.calls += 1
        if route is None:
            return FakeResponse(status=599, body=b"no route")
        return route.handler(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are separate writes

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                host = self.headers.get("Host", "")
                request = FakeRequest(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers=CaseInsensitiveDict(self.headers.items()),
                    body=body,
                    url=f"http://{host}{self.path}",
                )
                response = server._dispatch(request)
                if response.delay_s:
                    time.sleep(response.delay_s)
                payload, headers = response.encoded()
                self.send_response(response.status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                if response.truncate_to is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    payload = payload[: response.truncate_to]
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client gave up (timeout tests)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Silence the default stderr access log."""

        return _Handler
