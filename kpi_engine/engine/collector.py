"""The cyclic garbage collector paused while rules run: scoped to a ``with`` block, shared by threads.

A run allocates a few objects per person and rule and keeps most of them (its outcome lines); each
automatic collection walks every object still alive, so collections grew with the run and took half
its time (``benchmarks/rule_bench.py``). A run makes no reference cycles it drops, and anything it
frees is freed by reference counting whether the collector runs or not.

The pause is a counter, not a flag: runs in several threads (or one run inside another) share it,
and the collector is switched back on, if it was on before the first of them began, when the last
one ends, on error too. Nothing is paused outside ``collector_paused()``; importing the engine
changes nothing.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]

_paused = 0  # runs under way
_resume = False  # whether the collector was on when the first of them began
_pause_lock = threading.Lock()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the ``with`` block (threads and nested runs share one pause)."""
    global _paused, _resume
    with _pause_lock:
        if _paused == 0:
            _resume = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _pause_lock:
            _paused -= 1
            if _paused == 0 and _resume:
                gc.enable()
