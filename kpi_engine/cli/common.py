"""What every ``kpi`` command shares: settings from the top-level options and a progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from ..identity import acting_user
from ..store.database import Store, open_store

__all__ = ["RECORD_ID", "Settings", "pass_settings", "progress_bar"]

RECORD_ID = click.IntRange(min=1, max=2**63 - 1)
"""A stored record's number: positive, and within what both databases hold (a 64-bit integer)."""


class Settings:
    """The top-level options: the database, --debug, and who acts (--as)."""

    def __init__(self, db: str | None, debug: bool, as_user: str | None = None) -> None:
        self.db = db
        self.debug = debug
        self.as_user = as_user

    def store(self) -> Store:
        return open_store(self.db)

    def actor(self) -> str:
        """Who acts: --as NAME, else $KPI_USER, else the OS user."""
        return acting_user(self.as_user)


pass_settings = click.make_pass_decorator(Settings)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on standard error, fed by the library's ``progress(step, done, total)`` callbacks."""
    bar: Any = None
    state = {"done": 0}
    if not sys.stderr.isatty():  # logs and pipes get the summary lines only
        yield lambda *_: None
        return

    def update(step: str, done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True)
            bar.__enter__()
        bar.label = f"{label}: {step}"
        bar.update(max(done - state["done"], 0))
        state["done"] = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
