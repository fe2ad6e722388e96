"""``kpi metrics …`` and ``kpi targets …``."""

from __future__ import annotations

import click


__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []  # registered on the ``kpi`` group by kpi_engine.cli
