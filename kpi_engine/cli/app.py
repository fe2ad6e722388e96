"""The ``kpi`` command: a thin layer over the public API (every command is a function you can call).

Each command group lives in a module of its own, which lists its commands in ``COMMANDS``.
"""

from __future__ import annotations

import sys

import click

from .._version import __version__
from ..connect.secrets import install_log_redaction
from ..errors import KPIError
from ..store.database import DATABASE_URL_ENV
from . import connectors, data, demo, evaluation, findings, formula, fx, metrics, plugins, rules
from .common import Settings

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help=f"Database URL (default: ${DATABASE_URL_ENV} or sqlite:///kpi.sqlite).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.version_option(__version__, prog_name="kpi")
@click.pass_context
def cli(ctx: click.Context, db: str | None, debug: bool) -> None:
    """KPI and incentive-compensation engine: import CRM data, evaluate plans, explain every payout."""
    ctx.obj = Settings(db, debug)


for _module in (demo, data, fx, evaluation, rules, formula, metrics, connectors, findings, plugins):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: errors become one sentence and a hint on stderr, with a non-zero exit."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    install_log_redaction()  # whatever a command logs, and the HTTP libraries under it, masks secrets
    try:
        cli.main(args=argv, prog_name="kpi", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KPIError as exc:
        if debug:
            raise
        click.echo(f"Error: {exc.message}", err=True)
        problems = getattr(exc, "problems", [])
        if len(problems) > 1:
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
        if exc.hint:
            click.echo(f"Hint: {exc.hint}", err=True)
        sys.exit(1)
    except Exception as exc:
        if debug:
            raise
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("Hint: run again with --debug for the details, and report it if it persists.", err=True)
        sys.exit(1)
    sys.exit(0)
