"""Exchange rates (migration ``0010_fx_rates``): what converts a fact's currency into a plan's."""

from __future__ import annotations

from sqlalchemy import Column, Date, Index, Integer, String, Table, UniqueConstraint

from ..money import ExactDecimal
from .columns import UTCDateTime, metadata

__all__ = ["FX_RATE_SCALE", "fx_rates"]

FX_RATE_SCALE = 10
"""Rates are stored in units of 10⁻¹⁰ (ten decimal places, exact): 1 USD = 7.1234567891 CNY fits."""

fx_rates = Table(
    "fx_rates",
    metadata,
    # One unit of ``from_currency`` is worth ``rate`` units of ``to_currency`` on ``day`` (a calendar day, read
    # in the time zone of the plan converting with it). Only the direction imported is used: an inverse would
    # need a rounding nobody declared.
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", String(64), nullable=False, default="manual"),
    Column("day", Date, nullable=False),
    Column("from_currency", String(3), nullable=False),
    Column("to_currency", String(3), nullable=False),
    Column("rate", ExactDecimal(FX_RATE_SCALE), nullable=False),
    Column("modified_at", UTCDateTime()),
    UniqueConstraint("from_currency", "to_currency", "day", name="uq_fx_rates_pair_day"),
    Index("ix_fx_rates_to_day", "to_currency", "day"),
)
