"""``kpi plugins list``: every plugin with its version, origin and what it provides."""

from __future__ import annotations

import click

from ..render import FORMATS, render

__all__ = ["COMMANDS"]


@click.group()
def plugins() -> None:
    """Plugins: built-in and installed metric, rule and connector plugins."""


@plugins.command("list")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
def plugins_list(fmt: str) -> None:
    """Show each plugin's name, version, origin and what it provides."""
    from ..registry import get_registry

    registry = get_registry()
    rows = [
        {"name": p.name, "version": p.version, "origin": p.origin, "provides": p.provides, "error": p.error}
        for p in registry.plugins
    ]
    if fmt != "table":
        click.echo(render(rows, ["name", "version", "origin", "provides", "error"], fmt))
        return
    for row, plugin in zip(rows, registry.plugins, strict=True):
        row["provides"] = f"{len(plugin.provides)} item(s)"
    columns = ["name", "version", "origin", "provides"] + (["error"] if any(p.error for p in registry.plugins) else [])
    click.echo(render(rows, columns))
    provided = [
        {
            "kind": "rule type",
            "name": name,
            "plugin": registry.owners[("rule type", name)],
            "description": rt.description,
        }
        for name, rt in sorted(registry.rule_types.items())
    ] + [
        {"kind": "metric", "name": name, "plugin": registry.owners[("metric", name)], "description": m.description}
        for name, m in sorted(registry.metrics.items())
    ]
    click.echo()
    click.echo(render(provided, ["kind", "name", "plugin", "description"]))


COMMANDS: list[click.Command] = [plugins]
