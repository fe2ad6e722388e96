"""Money is exact from YAML to database to output."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi_engine import plain, to_decimal
from kpi_engine.yaml_reader import load_located


def test_percent_and_thousands_separators_read_exactly():
    assert to_decimal("5%") == Decimal("0.05")
    assert to_decimal("12,500.10") == Decimal("12500.10")
    assert to_decimal(3) == Decimal(3)


def test_binary_floats_are_refused():
    with pytest.raises(TypeError, match="float"):
        to_decimal(0.1)


def test_yaml_decimal_literals_stay_exact():
    doc = load_located("rate: 0.07\namount: 1234.56\n")
    assert doc.data == {"rate": Decimal("0.07"), "amount": Decimal("1234.56")}


def test_amounts_survive_the_database_to_the_last_digit(store):
    from datetime import datetime

    from sqlalchemy import func, select

    from kpi_engine import schema

    when = datetime(2026, 10, 1, tzinfo=UTC)
    with store.begin() as conn:
        conn.execute(schema.people.insert().values(id="p", name="p", role="sales_rep"))
        conn.execute(
            schema.deals.insert(),
            [
                {
                    "source": "t",
                    "remote_id": str(i),
                    "owner_id": "p",
                    "status": "won",
                    "amount": Decimal("0.10"),
                    "currency": "CNY",
                    "closed_at": when,
                    "is_deleted": False,
                }
                for i in range(1000)
            ],
        )
    with store.connect() as conn:
        total = conn.execute(select(func.sum(schema.deals.c.amount))).scalar()
    assert total == Decimal("100.0000") and isinstance(total, Decimal)


def test_an_amount_finer_than_the_stored_scale_is_refused_not_rounded(store):
    from sqlalchemy.exc import StatementError

    from kpi_engine import schema

    with pytest.raises(StatementError, match="decimal places"), store.begin() as conn:
        conn.execute(schema.people.insert().values(id="p", name="p", role="sales_rep"))
        conn.execute(
            schema.deals.insert().values(
                source="t",
                remote_id="1",
                owner_id="p",
                status="won",
                amount=Decimal("0.00001"),
                currency="CNY",
                is_deleted=False,
            )
        )


@settings(max_examples=500, deadline=None)
@given(st.integers(min_value=-(10**27), max_value=10**27), st.integers(min_value=-40, max_value=30))
def test_plain_text_has_no_exponent_and_no_trailing_zeros(units, exponent):
    value = Decimal(units).scaleb(exponent)
    text = plain(value)
    assert "E" not in text and Decimal(text) == value
    assert text == "0" or not ("." in text and text.endswith("0"))
