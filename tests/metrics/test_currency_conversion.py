"""Plans in one currency over facts in several: converted exactly as the plan declares, traced, never dropped.

The company: Ann (E1) wins three deals in October 2026, in CNY, USD and EUR, and imports the rates of
the days they closed (in Shanghai). The plan pays 10 % of bookings in CNY.
"""

from __future__ import annotations

from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from sqlalchemy import select

from kpi_engine import (
    EvaluationError,
    Store,
    compute_metric,
    evaluate,
    get_registry,
    import_file,
    load_plan,
    metric_values,
    parse_period,
    schema,
)
from kpi_engine.fx import resolve_conversion
from kpi_engine.metrics.compute import metric_context

PEOPLE = "id,name,role\nE1,Ann,sales_rep\nE2,Bo,sales_rep\n"
DEALS = (
    "remote_id,owner_id,status,amount,currency,closed_at\n"
    "D-1,E1,won,100000.00,CNY,2026-10-08 10:00\n"
    "D-2,E1,won,10000.00,USD,2026-10-15 09:00\n"  # a Thursday
    "D-3,E1,won,5000.00,EUR,2026-10-18 11:00\n"  # a Sunday: Friday's rate
)
RATES = (
    "day,from_currency,to_currency,rate\n"
    "2026-10-15,USD,CNY,7.1234\n"
    "2026-10-16,USD,CNY,7.2\n"
    "2026-10-16,EUR,CNY,7.8\n"
    "2026-10-30,EUR,CNY,7.9\n"
)
PLAN = """\
id: fx-commission
period: month
time_zone: Asia/Shanghai
currency: CNY
{conversion}rounding: {{mode: half_up, places: 2, at: person_period}}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    method: marginal
    tiers:
      - {{from: 0, rate: 10%}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def company(store: Store, folder: Path, *, rates: str = RATES, deals: str = DEALS) -> None:
    import_file(store, write(folder, "people.csv", PEOPLE))
    import_file(store, write(folder, "deals.csv", deals), time_zone="Asia/Shanghai")
    import_file(store, write(folder, "fx_rates.csv", rates))


def plan(folder: Path, conversion: str = "") -> Path:
    return write(folder, "plan.yaml", PLAN.format(conversion=conversion))


def commission(store: Store, plan_path: Path) -> object:
    run = evaluate(store, load_plan(plan_path), "2026-10")
    return next(o for o in run.outcomes if o.person_id == "E1" and o.rule_id == "commission")


def test_the_rate_of_each_deals_day_converts_it_exactly_and_the_trace_shows_both_amounts(
    store: Store, tmp_path: Path
) -> None:
    """bookings = 100,000 + 10,000 × 7.1234 (15 Oct) + 5,000 × 7.8 (16 Oct, the newest before Sunday 18 Oct)
    = 100,000 + 71,234 + 39,000 = 210,234 CNY; 10 % of it = 21,023.40."""
    company(store, tmp_path)

    line = commission(store, plan(tmp_path, "conversion: {rate: fact_date}\n"))

    assert line.amount == Decimal("21023.40") and line.currency == "CNY"
    assert Decimal(line.trace["inputs"]["bookings"]) == Decimal("210234")
    converted = {c["currency"]: c for c in line.trace["conversions"]}
    assert set(converted) == {"USD", "EUR"}
    assert (converted["USD"]["amount"], converted["USD"]["rate"], converted["USD"]["rate_day"]) == (
        "10000",
        "7.1234",
        "2026-10-15",
    )
    assert converted["USD"]["converted"] == "71234"
    assert (converted["EUR"]["rate"], converted["EUR"]["rate_day"], converted["EUR"]["converted"]) == (
        "7.8",
        "2026-10-16",
        "39000",
    )
    assert "USD 10000 × 7.1234 (rate of 2026-10-15) = CNY 71234" in line.trace["conversion"]


def test_a_deal_whose_currency_has_no_rate_stops_the_evaluation_naming_the_deal_and_the_currency(
    store: Store, tmp_path: Path
) -> None:
    company(store, tmp_path, rates=RATES.replace("2026-10-15,USD,CNY,7.1234\n2026-10-16,USD,CNY,7.2\n", ""))

    with pytest.raises(EvaluationError) as stopped:
        commission(store, plan(tmp_path, "conversion: {rate: fact_date}\n"))

    assert stopped.value.message == (
        "deal D-2 is in USD and there is no USD→CNY rate on 2026-10-15 or in the 7 days before."
    )
    assert stopped.value.hint == "import the USD→CNY rates: kpi import rates.csv --entity fx_rates"
    with store.connect() as conn:
        assert conn.execute(select(schema.evaluation_runs)).all() == []


def test_a_plan_that_declares_no_conversion_stops_on_a_foreign_deal_instead_of_leaving_it_out(
    store: Store, tmp_path: Path
) -> None:
    """Before, the USD and EUR deals were silently left out: Ann was paid 10 % of 100,000."""
    company(store, tmp_path)

    with pytest.raises(EvaluationError) as stopped:
        commission(store, plan(tmp_path))

    assert stopped.value.message == "deal D-2 is in USD, not CNY, and the plan declares no currency conversion."
    assert "conversion: {rate: fact_date}" in (stopped.value.hint or "")


def test_fixed_plan_rates_and_the_periods_average_convert_as_declared(store: Store, tmp_path: Path) -> None:
    """Fixed: 100,000 + 10,000 × 7 + 5,000 × 8 = 210,000 → 21,000.00.
    Period average (two places, half-even): USD (7.1234 + 7.2) / 2 = 7.1617 → 7.16; EUR (7.8 + 7.9) / 2 = 7.85:
    100,000 + 71,600 + 39,250 = 210,850 → 21,085.00."""
    company(store, tmp_path)

    fixed = commission(store, plan(tmp_path, "conversion: {rate: fixed, rates: {USD: '7', EUR: '8'}}\n"))
    average = commission(store, plan(tmp_path, "conversion: {rate: period_average, average_places: 2}\n"))

    assert fixed.amount == Decimal("21000.00")
    assert average.amount == Decimal("21085.00")
    assert {c["currency"]: c["rate"] for c in average.trace["conversions"]} == {"USD": "7.16", "EUR": "7.85"}


def test_a_conversion_must_be_declared_completely(tmp_path: Path) -> None:
    from kpi_engine import PlanError

    with pytest.raises(PlanError, match="average_places"):
        load_plan(plan(tmp_path, "conversion: {rate: period_average}\n"))
    with pytest.raises(PlanError, match="needs rates"):
        load_plan(plan(tmp_path, "conversion: {rate: fixed}\n"))


def test_big_amounts_times_shares_and_rates_stay_exact_on_every_backend(store: Store, tmp_path: Path) -> None:
    """999,999,999,999.9999 USD × 33.3333 % × 999,999.9999999999 is a 38-digit product at 20 decimal places: as
    one SQL product SQLite makes it a float and PostgreSQL refuses it ("bigint out of range"). Cut into terms that
    each fit 64 bits, the sum is exact: 999999999999.9999 × 0.333333 × 999999.9999999999
    = 333332999999999933.33340000000000333333, plus a third of the same amount in CNY (333,332,999,999.9999666667)
    and Bo's own 2,000,000,000.50 CNY deal. Without conversion the CNY split alone overflowed before."""
    amount, share, rate = Decimal("999999999999.9999"), Decimal("0.333333"), Decimal("999999.9999999999")
    import_file(store, write(tmp_path, "people.csv", PEOPLE))
    import_file(
        store,
        write(
            tmp_path,
            "deals.csv",
            f"remote_id,owner_id,status,amount,currency,closed_at\nBIG,E1,won,{amount},USD,2026-10-15 09:00\n"
            f"BIGCNY,E1,won,{amount},CNY,2026-10-15 09:00\nSMALL,E2,won,2000000000.50,CNY,2026-10-15 09:00\n",
        ),
        time_zone="Asia/Shanghai",
    )
    import_file(
        store,
        write(tmp_path, "deal_splits.csv", f"deal_remote_id,person_id,share\nBIG,E2,{share}\nBIGCNY,E2,{share}\n"),
    )
    import_file(
        store, write(tmp_path, "fx_rates.csv", f"day,from_currency,to_currency,rate\n2026-10-15,USD,CNY,{rate}\n")
    )
    loaded = load_plan(plan(tmp_path, "conversion: {rate: fact_date}\n"))
    period = parse_period("2026-10")

    with store.connect() as conn:
        ctx = metric_context(period, "Asia/Shanghai", "CNY")
        conversion = resolve_conversion(conn, "CNY", loaded.plan.conversion, period, "Asia/Shanghai")
        from dataclasses import replace

        values = metric_values(conn, get_registry().metric("bookings"), replace(ctx, conversion=conversion))
        plain_cny = metric_values(conn, get_registry().metric("bookings"), ctx)

    with localcontext() as exact:
        exact.prec = 60
        cny = amount * share + Decimal("2000000000.50")
        assert values["E2"] == amount * share * rate + cny
    assert cny == Decimal("335333000000.4999666667")
    assert values["E2"] == Decimal("333333335332999933.83336666670000333333")
    assert set(values) == {"E2"}  # a deal with splits credits the people of its splits only
    assert plain_cny == {"E2": cny}  # without conversion: the CNY deals, the 40-digit-free product exact too


def test_kpi_metrics_show_without_a_plan_reads_the_currency_it_is_asked_for(store: Store, tmp_path: Path) -> None:
    company(store, tmp_path)
    with store.connect() as conn:
        rows = compute_metric(conn, get_registry().metric("bookings"), parse_period("2026-10"), currency="USD")
    assert [(r.group, r.value) for r in rows] == [("E1", Decimal("10000.0000"))]
