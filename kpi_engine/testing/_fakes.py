"""Fakes for tests: a clock whose sleep only moves time forward."""

from __future__ import annotations

import threading

__all__ = ["FakeClock"]


class FakeClock:
    """A clock for ``ConnectorContext``: ``sleep`` returns at once and advances ``monotonic``.

    ``sleeps`` lists every wait asked for, so tests can assert on backoff and rate-limit waits.
    """

    def __init__(self, start: float = 1000.0) -> None:  # float ok: seconds
        self.now = start
        self.sleeps: list[float] = []  # float ok: seconds
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:  # float ok: seconds
        with self._lock:
            self.sleeps.append(seconds)
            self.now += max(0.0, seconds)

    @property
    def slept(self) -> float:
        """Total seconds of waiting asked for."""
        return sum(self.sleeps)
