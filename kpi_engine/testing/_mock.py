"""A small toolkit for mock CRM servers: a real HTTP server on 127.0.0.1 with scriptable faults.

Subclass ``MockCRMServer``, declare routes with ``@route(method, pattern)`` and answer
``MockResponse`` objects; override ``authenticate`` and the ``*_response`` methods so that faults
speak your CRM's own dialect (its 429 body and headers, its expired-token answer)::

    class AcmeMock(MockCRMServer):
        name = "acme"

        @route("GET", r"/v2/opportunities")
        def opportunities(self, request):
            return MockResponse(200, {"data": [...], "meta": {"next_cursor": None}})

    with AcmeMock() as server:
        server.faults.every(3, "rate_limit")          # every third call is rate limited
        server.faults.burst(2, "server_error", after=5)
        server.tokens.expire_after(10)                # the access token dies 10 calls from now
        server.faults.slow(0.5, every=7)

A mock binds 127.0.0.1 only. ``run_mock_server(cls)`` gives it a command line.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "FaultRule",
    "Faults",
    "MockCRMServer",
    "MockRequest",
    "MockResponse",
    "TokenBook",
    "route",
    "run_mock_server",
]

LOCALHOST = "127.0.0.1"


@dataclass
class MockRequest:
    """One request as the mock saw it (``number`` counts from 1 over the server's life)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    number: int = 0
    match: re.Match[str] | None = None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value[7:] if value.lower().startswith("bearer ") else None


@dataclass
class MockResponse:
    """An answer: a status, a JSON-able body (or text/bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # float ok: seconds to wait before answering


Responder = MockResponse | str | Callable[[MockRequest], MockResponse]


@dataclass
class FaultRule:
    """A scripted fault: answers ``respond`` to requests for which ``applies`` is true."""

    applies: Callable[[MockRequest], bool]
    respond: Responder | None = None
    delay: float = 0.0  # float ok: seconds
    times: int | None = None  # how many times it may fire (None: no limit)
    fired: int = 0


class Faults:
    """The scripted faults of a mock server; the first rule that applies answers."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._lock = threading.Lock()

    @staticmethod
    def _paths(paths: str | None) -> Callable[[MockRequest], bool]:
        pattern = re.compile(paths) if paths else None
        return lambda r: pattern is None or bool(pattern.search(r.path))

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def every(self, k: int, respond: Responder, *, paths: str | None = None, times: int | None = None) -> FaultRule:
        """Every ``k``-th request (by request number) gets ``respond``."""
        on_path = self._paths(paths)
        return self.add(FaultRule(lambda r: on_path(r) and r.number % k == 0, respond, times=times))

    def burst(self, count: int, respond: Responder, *, after: int = 0, paths: str | None = None) -> FaultRule:
        """``count`` consecutive requests after request number ``after`` get ``respond``."""
        on_path = self._paths(paths)
        return self.add(FaultRule(lambda r: on_path(r) and after < r.number <= after + count, respond))

    def at(self, number: int, respond: Responder) -> FaultRule:
        """Request number ``number`` gets ``respond``."""
        return self.add(FaultRule(lambda r: r.number == number, respond))

    def slow(
        self, seconds: float, *, every: int = 1, paths: str | None = None, times: int | None = None
    ) -> FaultRule:  # float ok
        """Every ``every``-th request is answered after ``seconds``."""
        on_path = self._paths(paths)
        return self.add(FaultRule(lambda r: on_path(r) and r.number % every == 0, None, delay=seconds, times=times))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def match(self, request: MockRequest) -> FaultRule | None:
        with self._lock:
            for rule in self.rules:
                if (rule.times is None or rule.fired < rule.times) and rule.applies(request):
                    rule.fired += 1
                    return rule
        return None


class TokenBook:
    """Access tokens a mock accepts: static ones (private apps) and issued ones that can expire.

    ``counter`` tells the current request number, so that ``expire_after(n)`` means "n more calls".
    """

    def __init__(self, static: list[str] | None = None, counter: Callable[[], int] = lambda: 0) -> None:
        self.static = set(static or [])
        self.counter = counter
        self.live: dict[str, int | None] = {}  # token -> last request number it is good for (None: no limit)
        self.expired: set[str] = set()
        self.issued = 0
        self.lifetime: int | None = None
        self._lock = threading.Lock()

    def issue(self) -> str:
        """A new access token (an OAuth refresh)."""
        with self._lock:
            self.issued += 1
            token = f"mock-access-{self.issued}-{secrets.token_hex(8)}"
            self.live[token] = None if self.lifetime is None else self.counter() + self.lifetime
            return token

    def grant(self, token: str) -> None:
        """Accept ``token`` as a live access token (seed a starting OAuth token)."""
        with self._lock:
            self.live[token] = None if self.lifetime is None else self.counter() + self.lifetime

    def expire_all(self) -> None:
        """Every issued token expires now (static private-app tokens do not)."""
        with self._lock:
            self.expired.update(self.live)
            self.live.clear()

    def expire_after(self, requests: int, *, every_token: bool = False) -> None:
        """Live issued tokens expire after ``requests`` more calls; with ``every_token`` new ones too."""
        with self._lock:
            now = self.counter()
            for token in self.live:
                self.live[token] = now + requests
            if every_token:
                self.lifetime = requests

    def check(self, token: str | None, request_number: int) -> str:
        """``ok``, ``expired`` or ``invalid`` for a presented token."""
        with self._lock:
            if token is None:
                return "invalid"
            if token in self.static:
                return "ok"
            if token in self.expired:
                return "expired"
            if token not in self.live:
                return "invalid"
            last = self.live[token]
            if last is not None and request_number > last:
                del self.live[token]
                self.expired.add(token)
                return "expired"
            return "ok"


def route(method: str, pattern: str) -> Callable[[Callable[..., MockResponse]], Callable[..., MockResponse]]:
    """Declare a handler for ``method`` and a full-match path regex (named groups reach ``request.match``)."""

    def mark(function: Callable[..., MockResponse]) -> Callable[..., MockResponse]:
        function._mock_route = (method.upper(), re.compile(pattern))  # type: ignore[attr-defined]
        return function

    return mark


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


class MockCRMServer:
    """Base of mock CRM servers: routing, faults, token book, request log, start/stop."""

    name: ClassVar[str] = "crm"
    _routes: ClassVar[list[tuple[str, re.Pattern[str], str]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        routes = []
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                spec = getattr(value, "_mock_route", None)
                if spec is not None:
                    routes.append((spec[0], spec[1], attr))
        cls._routes = routes

    def __init__(self, *, host: str = LOCALHOST, port: int = 0, static_tokens: list[str] | None = None) -> None:
        if host != LOCALHOST:
            raise ValueError("mock servers bind 127.0.0.1 only")
        self.host = host
        self.port = port
        self.faults = Faults()
        self.tokens = TokenBook(static_tokens, counter=lambda: len(self.requests))
        self.requests: list[MockRequest] = []
        self.log_requests = False
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MockCRMServer:
        server = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, name=f"mock-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> MockCRMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def request_count(self) -> int:
        return len(self.requests)

    # --- what subclasses override -----------------------------------------------------

    def authenticate(self, request: MockRequest) -> MockResponse | None:
        """None when the request may proceed; else the CRM's answer (default: bearer tokens)."""
        verdict = self.tokens.check(request.bearer, request.number)
        if verdict == "ok":
            return None
        return (
            self.expired_token_response(request)
            if verdict == "expired"
            else MockResponse(401, {"error": "invalid token"})
        )

    def public(self, request: MockRequest) -> bool:
        """Whether a path needs no authentication (token endpoints)."""
        return False

    def rate_limit_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(429, {"error": "rate limited"}, {"Retry-After": "1"})

    def daily_limit_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(429, {"error": "daily limit"})

    def server_error_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(
            503, "<html><body><h1>503 Service Unavailable</h1></body></html>", {"Content-Type": "text/html"}
        )

    def expired_token_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(401, {"error": "token expired"})

    def decorate(self, request: MockRequest, response: MockResponse) -> MockResponse:
        """Add headers every answer carries (rate-limit counters, request ids)."""
        return response

    # --- dispatch ---------------------------------------------------------------------

    def _resolve(self, respond: Responder, request: MockRequest) -> MockResponse:
        if isinstance(respond, MockResponse):
            return respond
        if isinstance(respond, str):
            return getattr(self, f"{respond}_response")(request)
        return respond(request)

    def handle(self, request: MockRequest) -> MockResponse:
        with self._lock:
            request.number = len(self.requests) + 1
            self.requests.append(request)
        delay = 0.0  # float ok: seconds
        rule = self.faults.match(request)
        if rule is not None:
            delay = rule.delay
            if rule.respond is not None:
                response = self._resolve(rule.respond, request)
                response.delay = max(response.delay, delay)
                return self.decorate(request, response)
        for method, pattern, attr in self._routes:
            if method != request.method:
                continue
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            request.match = match
            if not self.public(request):
                denied = self.authenticate(request)
                if denied is not None:
                    denied.delay = max(denied.delay, delay)
                    return self.decorate(request, denied)
            response = getattr(self, attr)(request)
            response.delay = max(response.delay, delay)
            return self.decorate(request, response)
        return self.decorate(
            request, MockResponse(404, {"status": "error", "message": f"no route {request.method} {request.path}"})
        )


def _make_handler(server: MockCRMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes: no 40 ms delayed-ACK stalls

        def log_message(self, format: str, *args: Any) -> None:
            if server.log_requests:
                super().log_message(format, *args)

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = MockRequest(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                response = server.handle(request)
            except Exception as exc:  # noqa: BLE001 - a mock answers 500 for its own bugs, as a server would
                response = MockResponse(
                    500, {"status": "error", "message": f"mock failure: {type(exc).__name__}: {exc}"}
                )
            if response.delay:
                time.sleep(response.delay)
            if isinstance(response.body, bytes):
                payload, ctype = response.body, "application/octet-stream"
            elif isinstance(response.body, str):
                payload, ctype = response.body.encode("utf-8"), "text/plain; charset=utf-8"
            else:
                payload, ctype = (
                    json.dumps(response.body, default=_default, separators=(",", ":")).encode("utf-8"),
                    "application/json;charset=utf-8",
                )
            self.send_response(response.status)
            headers = {"Content-Type": ctype, **response.headers}
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


def run_mock_server(
    factory: Callable[[argparse.Namespace], MockCRMServer],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> None:
    """Command line of a mock: parse ``argv``, build the server with ``factory``, serve until Ctrl-C.

    ``parser`` should have ``--port``; the server prints its URL and how to point a connector at it.
    """
    args = parser.parse_args(argv)
    server = factory(args)
    server.port = args.port
    server.log_requests = getattr(args, "verbose", False)
    server.start()
    hint = getattr(server, "usage_hint", lambda: "")()
    print(f"{server.name} mock listening on {server.url}" + (f"\n{hint}" if hint else ""), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def iter_pages(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
