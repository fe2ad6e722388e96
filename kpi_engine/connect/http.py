"""The HTTP layer every connector shares: timeouts, retries, rate limits, pacing, token refresh.

``HttpClient`` wraps a ``requests.Session``. Each call waits for the pacer (a token bucket
sized from the CRM's published budget), sends, and lets the connector's ``classify`` hook
turn a response into ``None`` (fine) or one of the connector errors, so that each CRM's own
signals drive what happens next:

- ``TransientError`` (timeouts, dropped connections, 5xx): retried with exponential backoff
  and jitter, up to ``RetryPolicy.max_attempts``;
- ``RateLimited``: waits ``retry_after`` (or ``RetryPolicy.rate_limit_wait``) and retries,
  unless the scope is ``daily`` or the wait is longer than ``RetryPolicy.max_rate_limit_wait``;
- ``AuthenticationError`` with ``expired``: the auth refreshes its token once (one refresh
  even when several calls fail at the same time) and the call is repeated;
- anything else is raised.

Time is injected (``clock``): tests pass a fake clock whose ``sleep`` only advances time.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit

import requests

from .errors import AuthenticationError, ConnectorError, RateLimited, TransientError
from .secrets import redact

__all__ = [
    "Auth",
    "Classifier",
    "Clock",
    "HttpClient",
    "HttpStats",
    "RetryPolicy",
    "SystemClock",
    "TokenBucket",
    "default_classify",
    "parse_retry_after",
]

log = logging.getLogger("kpi_engine.http")

Classifier = Callable[[requests.Response], ConnectorError | None]
"""Turns a response into None (a good answer) or the error it means."""


class Clock(Protocol):
    """Where the HTTP layer reads time and waits: ``SystemClock`` or a test's fake clock."""

    def monotonic(self) -> float: ...  # float ok: seconds, not money

    def sleep(self, seconds: float) -> None: ...  # float ok: seconds


class SystemClock:
    """Real time."""

    def monotonic(self) -> float:  # float ok: seconds, not money
        return time.monotonic()

    def sleep(self, seconds: float) -> None:  # float ok: seconds
        if seconds > 0:
            time.sleep(seconds)


class Auth(Protocol):
    """Puts credentials on a request; may refresh them when the CRM says they expired."""

    can_refresh: bool

    def apply(self, headers: dict[str, str]) -> str | None:
        """Add the credentials to ``headers``; return the token used (for ``refresh``)."""

    def refresh(self, stale: str | None) -> None:
        """Get a new token unless another call already replaced ``stale``."""


@dataclass(frozen=True)
class RetryPolicy:
    """How persistent a client is. Times in seconds."""

    max_attempts: int = 5
    backoff_base: float = 0.5  # float ok: seconds
    backoff_max: float = 30.0  # float ok: seconds
    jitter: float = 0.5  # float ok: share of the delay drawn at random
    rate_limit_wait: float = 10.0  # float ok: seconds, when a 429 names no wait
    max_rate_limit_wait: float = 120.0  # float ok: seconds; a longer wait stops the sync
    max_rate_limit_retries: int = 50
    connect_timeout: float = 10.0  # float ok: seconds
    read_timeout: float = 60.0  # float ok: seconds

    def backoff(self, attempt: int, draw: Callable[[], float] = random.random) -> float:  # float ok: seconds, not money
        """Delay before retry number ``attempt`` (1, 2, ...): exponential, capped, with jitter."""
        delay = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return delay * (1 - self.jitter) + delay * self.jitter * draw()


class TokenBucket:
    """Paces calls under a budget of ``limit`` calls per ``interval`` seconds.

    Starts full (a burst of ``limit`` is allowed), then refills continuously. ``update`` follows
    a budget the CRM announces in its response headers.
    """

    def __init__(self, limit: int, interval: float = 1.0, *, clock: Clock | None = None) -> None:  # float ok: seconds
        self.clock = clock or SystemClock()
        self._lock = threading.Lock()
        self.limit = limit
        self.interval = interval
        self._tokens = float(limit)  # float ok: a budget, not money
        self._stamp = self.clock.monotonic()
        self.waited = 0.0  # float ok: seconds spent waiting

    def update(self, limit: int, interval: float) -> None:  # float ok: seconds
        with self._lock:
            if limit > 0 and interval > 0 and (limit, interval) != (self.limit, self.interval):
                self.limit, self.interval = limit, interval
                self._tokens = min(self._tokens, float(limit))  # float ok: a budget

    def acquire(self) -> None:
        """Take one call from the budget, waiting for it to refill when it is empty.

        A call reserves its token at once (the budget may go below zero) and waits for its
        debt, so concurrent callers queue fairly and no caller spins.
        """
        with self._lock:
            now = self.clock.monotonic()
            rate = self.limit / self.interval
            self._tokens = min(float(self.limit), self._tokens + (now - self._stamp) * rate)  # float ok: a budget
            self._stamp = now
            self._tokens -= 1
            wait = -self._tokens / rate if self._tokens < 0 else 0.0
        if wait > 0:
            self.waited += wait
            self.clock.sleep(wait)


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:  # float ok: seconds, not money
    """Seconds named by a ``Retry-After`` header (delta seconds or an HTTP date); None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))  # float ok: seconds
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _short_body(response: requests.Response, limit: int = 300) -> str:
    text = (response.text or "").strip().replace("\n", " ")
    return redact(text[:limit] + ("…" if len(text) > limit else ""))


def default_classify(response: requests.Response) -> ConnectorError | None:
    """The generic reading of an HTTP status: 2xx fine, 401/403 auth, 429 rate limit, 5xx transient."""
    status = response.status_code
    if status < 300:
        return None
    where = f"{response.request.method} {_path(response.url)}" if response.request is not None else _path(response.url)
    if status == 401:
        return AuthenticationError(
            f"the server refused the credentials (HTTP 401 on {where}).",
            status=status,
            expired=True,
            hint="check the token or its expiry",
        )
    if status == 403:
        return AuthenticationError(
            f"the credentials may not do this (HTTP 403 on {where}): {_short_body(response)}",
            status=status,
            hint="check the scopes granted to the token",
        )
    if status == 429:
        return RateLimited(
            f"rate limited (HTTP 429 on {where}).",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            status=status,
        )
    if status == 408 or status >= 500:
        return TransientError(f"the server failed (HTTP {status} on {where}).", status=status)
    return ConnectorError(
        f"the server refused the request (HTTP {status} on {where}): {_short_body(response)}", status=status
    )


def _path(url: str) -> str:
    return redact(url.split("?", 1)[0])


@dataclass
class HttpStats:
    """What a client did: calls sent, retries, rate-limit answers, refreshes and time waited."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    waited: float = 0.0  # float ok: seconds
    statuses: dict[int, int] = field(default_factory=dict)


class HttpClient:
    """A CRM's HTTP endpoint: one session, one retry policy, one pacer, one auth."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        retry: RetryPolicy | None = None,
        pacer: TokenBucket | None = None,
        classify: Classifier | None = None,
        observe: Callable[[requests.Response], None] | None = None,
        clock: Clock | None = None,
        session: requests.Session | None = None,
        headers: Mapping[str, str] | None = None,
        draw: Callable[[], float] = random.random,
        name: str = "crm",
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.auth = auth
        self.retry = retry or RetryPolicy()
        self.clock = clock or SystemClock()
        self.pacer = pacer
        self.classify = classify or default_classify
        self.observe = observe
        self.session = session or requests.Session()
        self.headers = dict(headers or {})
        self.draw = draw
        self.name = name
        self.stats = HttpStats()
        self._stats_lock = threading.Lock()

    def url(self, path: str) -> str:
        """An absolute URL for a path relative to the base; an absolute URL (a next-page link the CRM
        answered with) only on the base's own scheme, host and port: the client's credentials never
        go where a CRM payload points."""
        if not path.lower().startswith(("http://", "https://")):
            return urljoin(self.base_url, path.lstrip("/"))
        wanted, given = urlsplit(self.base_url), urlsplit(path)
        if (given.scheme.lower(), given.hostname, given.port) != (wanted.scheme.lower(), wanted.hostname, wanted.port):
            raise ConnectorError(
                f"{self.name} answered with a link to {given.hostname or 'an unnamed host'}, which is not "
                f"{wanted.hostname}; the call was not made.",
                hint="check the connector's base URL; a CRM never sends its pages elsewhere",
            )
        return path

    def _count(self, **deltas: Any) -> None:
        with self._stats_lock:
            for key, value in deltas.items():
                setattr(self.stats, key, getattr(self.stats, key) + value)

    def _wait(self, seconds: float) -> None:  # float ok: seconds
        self._count(waited=seconds)
        self.clock.sleep(seconds)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send a call, retrying and waiting as the policy and the CRM's answers say."""
        url = self.url(path)
        attempt = 0
        rate_limited = 0
        refreshed = False
        while True:
            attempt += 1
            if self.pacer is not None:
                before = self.pacer.waited
                self.pacer.acquire()
                self._count(waited=self.pacer.waited - before)
            sent_headers = {**self.headers, **(headers or {})}
            token = self.auth.apply(sent_headers) if self.auth is not None else None
            started = self.clock.monotonic()
            problem: ConnectorError | None
            response: requests.Response | None
            try:
                answer = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    data=data,
                    headers=sent_headers,
                    timeout=(self.retry.connect_timeout, self.retry.read_timeout),
                )
            except requests.Timeout:
                response = None
                problem = TransientError(f"{self.name} did not answer in time ({method} {_path(url)}).")
            except requests.ConnectionError as exc:
                response = None
                problem = TransientError(f"cannot reach {self.name} ({method} {_path(url)}): {type(exc).__name__}.")
            else:
                response = answer
                with self._stats_lock:
                    self.stats.requests += 1
                    self.stats.statuses[answer.status_code] = self.stats.statuses.get(answer.status_code, 0) + 1
                if self.observe is not None:
                    self.observe(answer)
                problem = self.classify(answer)
                log.debug(
                    "%s %s -> %s in %.0f ms (attempt %d)",
                    method,
                    url,
                    answer.status_code,
                    (self.clock.monotonic() - started) * 1000,
                    attempt,
                )
                if problem is None:
                    return answer
            if response is None:
                with self._stats_lock:
                    self.stats.requests += 1
            if (
                isinstance(problem, AuthenticationError)
                and problem.expired
                and self.auth is not None
                and self.auth.can_refresh
                and not refreshed
            ):
                log.info("%s: token expired, refreshing it", self.name)
                self.auth.refresh(token)
                refreshed = True
                self._count(refreshes=1)
                attempt -= 1
                continue
            if isinstance(problem, RateLimited):
                self._count(rate_limited=1)
                rate_limited += 1
                wait = problem.retry_after if problem.retry_after is not None else self.retry.rate_limit_wait
                if (
                    problem.scope == "daily"
                    or wait > self.retry.max_rate_limit_wait
                    or rate_limited > self.retry.max_rate_limit_retries
                ):
                    raise problem
                log.info("%s: rate limited (%s), waiting %.1f s", self.name, problem.scope, wait)
                self._wait(wait)
                attempt -= 1
                continue
            if isinstance(problem, TransientError) and attempt < self.retry.max_attempts:
                delay = self.retry.backoff(attempt, self.draw)
                log.info(
                    "%s: %s Retrying in %.1f s (attempt %d of %d).",
                    self.name,
                    problem.message,
                    delay,
                    attempt + 1,
                    self.retry.max_attempts,
                )
                self._count(retries=1)
                self._wait(delay)
                continue
            assert problem is not None
            raise problem

    def get_json(
        self, path: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET and decode JSON."""
        return _json(self.request("GET", path, params=params, headers=headers), self.name)

    def post_json(
        self,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """POST a JSON body and decode the JSON answer."""
        return _json(self.request("POST", path, params=params, json=json, headers=headers), self.name)

    def close(self) -> None:
        self.session.close()


def _json(response: requests.Response, name: str) -> Any:
    """The answer's JSON; numbers with a fraction are exact ``Decimal`` (money is never a binary float)."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        raise TransientError(
            f"{name} sent an answer that is not JSON ({_path(response.url)}): {_short_body(response, 120)}"
        ) from None
