"""Currencies: the conversion a plan declares, and the exchange rates it reads.

A plan pays in one currency. Facts in another currency are converted only as the plan says, in its
``conversion:`` setting, and never by default:

- ``rate: fact_date``: the rate of the fact's own day (in the plan's time zone), or the newest rate of
  the ``max_age_days`` before it (a Saturday's deal takes Friday's rate);
- ``rate: period_average``: the mean of the rates dated in the period, rounded half-even to
  ``average_places`` (the only rounding, and the plan states it);
- ``rate: fixed``: the plan's own ``rates`` (``USD: "7.10"``).

A plan without ``conversion:`` reads facts in its currency only, and a fact in another currency stops
the evaluation with a sentence naming it: it is never left out without a word. Rates are used in the
direction imported (one unit of ``from_currency`` is worth ``rate`` units of ``to_currency``); the
inverse of a rate would need a rounding nobody declared.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, func, select

from .money import Amount, plain
from .periods import Period
from .store import schema as s

__all__ = [
    "Conversion",
    "CurrencyConversion",
    "FxRate",
    "fx_rates",
    "local_day_text",
    "resolve_conversion",
    "unconvertible",
]

RATE_STEP = Decimal(1).scaleb(-s.FX_RATE_SCALE)


class CurrencyConversion(BaseModel):
    """A plan's ``conversion:`` setting: how facts in other currencies become the plan's currency."""

    model_config = ConfigDict(extra="forbid")

    rate: Literal["fact_date", "period_average", "fixed"]
    rates: dict[str, Amount] = Field(default_factory=dict)
    """``fixed``: one unit of each currency is worth this many units of the plan's (``USD: "7.10"``)."""
    average_places: int | None = Field(None, ge=0, le=s.FX_RATE_SCALE)
    """``period_average``: decimal places the mean rate is rounded to (half-even)."""
    max_age_days: int = Field(7, ge=0, le=31)
    """``fact_date``: how many days before the fact's day a rate may be dated, when the day has none."""

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for currency, rate in value.items():
            if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
                raise ValueError(f"{currency!r} is not a three-letter currency code such as USD")
            if not Decimal(0) < rate < Decimal(10) ** 6 or rate != rate.quantize(RATE_STEP):
                raise ValueError(
                    f"the rate of {currency} must be above 0 and below 1,000,000 with at most "
                    f"{s.FX_RATE_SCALE} decimal places (got {plain(rate)})"
                )
        return value

    @model_validator(mode="after")
    def _complete(self) -> CurrencyConversion:
        if self.rate == "fixed" and not self.rates:
            raise ValueError("rate: fixed needs rates, e.g. rates: {USD: '7.10', EUR: '7.80'}")
        if self.rate != "fixed" and self.rates:
            raise ValueError(f"rates are the plan's own rates of rate: fixed, not of rate: {self.rate}")
        if self.rate == "period_average" and self.average_places is None:
            raise ValueError(
                "rate: period_average needs average_places: the decimal places the mean rate is rounded to"
            )
        if self.rate != "period_average" and self.average_places is not None:
            raise ValueError("average_places belongs to rate: period_average")
        return self


@dataclass(frozen=True)
class Conversion:
    """A plan's conversion resolved for one period: what the metrics' SQL converts with.

    ``method`` ``none``: the plan declared no conversion, and a fact in another currency is an error.
    ``rates`` hold each currency's rate for ``fixed`` and ``period_average`` (a currency without one is
    an error naming the fact); ``fact_date`` reads ``fx_rates`` for each fact's day in ``time_zone``.
    """

    target: str
    method: Literal["none", "fact_date", "period_average", "fixed"]
    time_zone: str = "UTC"
    rates: dict[str, Decimal] = field(default_factory=dict)
    max_age_days: int = 7
    basis: dict[str, str] = field(default_factory=dict)
    """For each rate of ``rates``, where it comes from (``mean of 21 rates dated 2026-10``)."""

    def missing(self, currency: str, what: str, day: date | None) -> str:
        """The sentence for a fact of ``currency`` that this conversion cannot convert."""
        if self.method == "none":
            return f"{what} is in {currency}, not {self.target}, and the plan declares no currency conversion"
        if self.method == "fact_date":
            when = f" on {day.isoformat()} or in the {self.max_age_days} days before" if day else ""
            return f"{what} is in {currency} and there is no {currency}→{self.target} rate{when}"
        if self.method == "fixed":
            return f"{what} is in {currency} and the plan's fixed rates have no {currency}"
        return f"{what} is in {currency} and no {currency}→{self.target} rate is dated in the period"


def unconvertible(conversion: Conversion | None, complaint: str) -> tuple[str, str]:
    """The sentence and hint for a fact a metric cannot convert; ``complaint`` is ``what|currency|day`` from its
    SQL. The same sentence whether a metric's value or its evidence met the fact first."""
    what, _, rest = complaint.partition("|")
    currency, _, day = rest.partition("|")
    if conversion is None:
        return f"{what} is in {currency}, which the metric cannot convert", "read it in its own currency"
    sentence = conversion.missing(currency, what, date.fromisoformat(day[:10]) if day else None)
    if conversion.method == "none":
        hint = "declare the plan's conversion: {rate: fact_date} (or period_average, fixed); see docs/import.md"
    elif conversion.method == "fixed":
        hint = f"add {currency} to the rates of the plan's conversion"
    else:
        hint = f"import the {currency}→{conversion.target} rates: kpi import rates.csv --entity fx_rates"
    return sentence, hint


def resolve_conversion(
    conn: Connection, target: str, setting: CurrencyConversion | None, period: Period, time_zone: str
) -> Conversion:
    """The conversion a plan in ``target`` currency declares, made concrete for ``period``."""
    if setting is None:
        return Conversion(target, "none", time_zone)
    if setting.rate == "fixed":
        return Conversion(
            target,
            "fixed",
            time_zone,
            rates={**setting.rates, target: Decimal(1)},
            basis=dict.fromkeys(setting.rates, "the plan's fixed rate"),
        )
    if setting.rate == "period_average":
        r = s.fx_rates.c
        rows = conn.execute(
            select(r.from_currency, func.count(), func.sum(r.rate))
            .where(r.to_currency == target, r.day >= period.start, r.day < period.end)
            .group_by(r.from_currency)
        ).all()
        step = Decimal(1).scaleb(-(setting.average_places or 0))
        with localcontext() as exact:
            exact.prec = 60  # far more digits than a mean of at most 10⁴ rates of 16 digits needs to round right
            rates = {c: (total / count).quantize(step, rounding=ROUND_HALF_EVEN) for c, count, total in rows}
        basis = {
            currency: f"the mean of the {count} rates dated in {period.label} ({plain(total)} / {count}),"
            f" rounded half-even to {setting.average_places} places"
            for currency, count, total in rows
        }
        return Conversion(target, "period_average", time_zone, rates={**rates, target: Decimal(1)}, basis=basis)
    if conn.dialect.name == "sqlite":
        _register_local_day(conn)
    return Conversion(target, "fact_date", time_zone, max_age_days=setting.max_age_days)


def local_day_text(moment: Any, zone_name: str, days_before: int = 0) -> str | None:
    """The calendar day (``YYYY-MM-DD``) of a UTC time stamp in a time zone, minus ``days_before`` days.

    SQLite knows no time zones: this is the function ``kpi_local_day`` it calls (PostgreSQL computes the
    same with ``AT TIME ZONE``).
    """
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    day = moment.astimezone(ZoneInfo(zone_name)).date()
    return date.fromordinal(day.toordinal() - days_before).isoformat()


def _register_local_day(conn: Connection) -> None:
    raw = conn.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        raw.create_function("kpi_local_day", 3, local_day_text, deterministic=True)


@dataclass(frozen=True)
class FxRate:
    """A stored rate, as ``kpi fx`` lists it."""

    day: date
    from_currency: str
    to_currency: str
    rate: Decimal
    source: str


def fx_rates(
    conn: Connection,
    *,
    currency: str | None = None,
    to: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> list[FxRate]:
    """Stored rates, by pair then day; ``currency`` either side of the pair, ``to`` the quote, ``[start, end)``."""
    r = s.fx_rates.c
    query = select(r.day, r.from_currency, r.to_currency, r.rate, r.source)
    if currency:
        query = query.where((r.from_currency == currency) | (r.to_currency == currency))
    if to:
        query = query.where(r.to_currency == to)
    if start:
        query = query.where(r.day >= start)
    if end:
        query = query.where(r.day < end)
    rows = conn.execute(query.order_by(r.from_currency, r.to_currency, r.day))
    return [FxRate(row.day, row.from_currency, row.to_currency, row.rate, row.source) for row in rows]
