"""``kpi rules …`` (validate and test plan files) and ``kpi explain``."""

from __future__ import annotations

import click


__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli


@click.group()
def rules() -> None:
    """Plan files: validate them, test them against their cases, try a formula."""


COMMANDS.append(rules)
