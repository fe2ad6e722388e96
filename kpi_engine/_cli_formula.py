"""``kpi rules try``: HR's formula playground."""

from __future__ import annotations

import click

from ._cli_rules import rules  # noqa: F401  (``try`` is a subcommand of it)

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli
