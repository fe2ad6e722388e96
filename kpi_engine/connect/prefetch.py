"""Pages read ahead on a thread of their own while earlier pages are written (the CRM and the database overlap)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from .connector import Checkpoint, DealCovered, Record

Item = Record | DealCovered | Checkpoint

__all__ = ["paged", "prefetched"]


_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def paged(items: Iterable[Item]) -> Iterator[list[Item]]:
    page: list[Item] = []
    for item in items:
        page.append(item)
        if isinstance(item, Checkpoint):
            yield page
            page = []
    if page:
        yield page


def prefetched(items: Iterable[Item], depth: int) -> Iterator[list[Item]]:
    """Pages (records up to and including a checkpoint), read ahead by a thread while earlier pages are written.

    The connector's generator runs in one reading thread; its errors reach the caller in order.
    With ``depth`` 0 it runs in the caller's thread.
    """
    if depth <= 0:
        yield from paged(items)
        return
    pages: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for page in paged(items):
                while not stop.is_set():
                    try:
                        pages.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            pages.put(_Failure(exc))

    reader = threading.Thread(target=produce, name="kpi-sync-reader", daemon=True)
    reader.start()
    try:
        while True:
            page = pages.get()
            if page is _DONE:
                return
            if isinstance(page, _Failure):
                raise page.error
            yield page
    finally:
        stop.set()
        while reader.is_alive():
            try:
                pages.get(timeout=0.05)
            except queue.Empty:
                pass
