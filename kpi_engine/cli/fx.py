"""``kpi fx``: the exchange rates stored, as plans that convert read them."""

from __future__ import annotations

from datetime import timedelta

import click

from ..errors import ConfigurationError
from ..render import FORMATS, render
from .common import Settings, pass_settings

__all__ = ["COMMANDS"]


@click.command("fx")
@click.option("--currency", metavar="CODE", help="Rates from or into this currency (e.g. USD).")
@click.option("--to", "to", metavar="CODE", help="Rates into this currency only (a plan's currency, e.g. CNY).")
@click.option(
    "--period", metavar="PERIOD", help="Rates dated in this period (2026-10, 2026-Q4, 2026-10-01..2026-10-15)."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def fx(settings: Settings, currency: str | None, to: str | None, period: str | None, fmt: str) -> None:
    """Exchange rates: one unit of FROM is worth RATE units of TO on DAY (import them with
    kpi import rates.csv --entity fx_rates; a plan converts with them only as its conversion: says)."""
    from ..fx import fx_rates
    from ..periods import parse_period

    span = parse_period(period) if period else None
    for code in (currency, to):
        if code is not None and not (len(code) == 3 and code.isalpha()):
            raise ConfigurationError(f"{code!r} is not a three-letter currency code such as USD or CNY.")
    with settings.store().connect() as conn:
        rates = fx_rates(
            conn,
            currency=currency.upper() if currency else None,
            to=to.upper() if to else None,
            start=span.start if span else None,
            end=span.end if span else None,
        )
    rows = [
        {"day": r.day, "from": r.from_currency, "to": r.to_currency, "rate": r.rate, "source": r.source} for r in rates
    ]
    if fmt != "table":
        click.echo(render(rows, ["day", "from", "to", "rate", "source"], fmt))
        return
    if not rows:
        where = f" in {span.label}" if span else ""
        click.echo(f"No exchange rates{where}: import them with kpi import rates.csv --entity fx_rates.")
        return
    for row, rate in zip(rows, rates, strict=True):
        row["rate"] = f"{rate.rate.normalize():f}"
    click.echo(render(rows, ["day", "from", "to", "rate", "source"], numeric=["rate"]))
    pairs = sorted({(r.from_currency, r.to_currency) for r in rates})
    last = max(r.day for r in rates)
    click.echo(
        f"\n{len(rows)} rates of {len(pairs)} pair{'s' if len(pairs) != 1 else ''}, "
        f"the newest of {last.isoformat()} (a fact_date conversion reads up to "
        f"{(last + timedelta(days=7)).isoformat()} with it by default)."
    )


COMMANDS: list[click.Command] = [fx]
