"""The ``kpi`` command: a thin layer over the public API (every command is a function you can call).

Each command group lives in a module of its own, which lists its commands in ``COMMANDS``.
"""

from __future__ import annotations

import logging
import sys
import traceback
from typing import NoReturn

import click

from .._version import __version__
from ..connect.secrets import install_log_redaction, redact
from ..errors import KPIError
from ..store.database import DATABASE_URL_ENV
from . import (
    connectors,
    daily,
    data,
    demo,
    evaluation,
    findings,
    formula,
    fx,
    metrics,
    notify,
    pay,
    plugins,
    reports,
    rules,
    whatif,
)
from .common import Settings

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help=f"Database URL (default: ${DATABASE_URL_ENV} or sqlite:///kpi.sqlite).")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.option(
    "--as",
    "as_user",
    metavar="NAME",
    help="Who acts, for the audit trail and four-eyes checks (default: $KPI_USER, else the OS user).",
)
@click.version_option(__version__, prog_name="kpi")
@click.pass_context
def cli(ctx: click.Context, db: str | None, debug: bool, as_user: str | None) -> None:
    """KPI and incentive-compensation engine: import CRM data, evaluate plans, explain every payout, pay."""
    ctx.obj = Settings(db, debug, as_user)


for _module in (
    demo,
    data,
    fx,
    evaluation,
    pay,
    reports,
    notify,
    daily,
    whatif,
    rules,
    formula,
    metrics,
    connectors,
    findings,
    plugins,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)


class _WarningLine(logging.Handler):
    """The engine's warnings (a plugin left out, a sync run not recorded) as ``Warning: ...`` on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"Warning: {record.getMessage()}", err=True)


def _warnings_to_stderr() -> None:
    engine_log = logging.getLogger("kpi_engine")
    if not any(isinstance(h, _WarningLine) for h in engine_log.handlers):
        engine_log.addHandler(_WarningLine(logging.WARNING))


def _show_traceback(exc: BaseException) -> NoReturn:
    """``--debug``: the whole traceback, every secret and credential-shaped value in it masked."""
    text = "".join(traceback.format_exception(exc))
    click.echo(redact(text), err=True, nl=False)
    sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI: errors become one sentence and a hint on stderr, with a non-zero exit."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    install_log_redaction()  # whatever a command logs, and the HTTP libraries under it, masks secrets
    _warnings_to_stderr()
    if any("\x00" in arg for arg in (argv if argv is not None else sys.argv[1:])):
        click.echo("Error: an argument holds a NUL character, which no file name, period or value may hold.", err=True)
        sys.exit(2)
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
            _show_traceback(exc)
        click.echo(f"Error: {exc.message}", err=True)
        problems = getattr(exc, "problems", [])
        if len(problems) > 1:
            for problem in problems:
                click.echo(f"  - {problem}", err=True)
        if exc.hint:
            click.echo(f"Hint: {exc.hint}", err=True)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last resort: one sentence, or with --debug the masked traceback
        if debug:
            _show_traceback(exc)
        click.echo(f"Error: unexpected {type(exc).__name__}: {exc}", err=True)
        click.echo("Hint: run again with --debug for the details, and report it if it persists.", err=True)
        sys.exit(1)
    sys.exit(0)
