"""Clawback: refunds, cancellations, deals lost after they were won and early churn take back what a deal earned,
once, never more, at the rate the tiers calculated unless the plan says the rate paid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from kpi_engine import MetricContext, RuleResult, parse_period, schema
from kpi_engine_plugins.clawback import Clawback, clawback_event_rows, clawback_events, evaluate
from tests.support.factories import add_person, add_won_deals
from tests.support.rule_book import Ledger, d

JAN_15 = "2026-01-15T10:00:00+00:00"


def per_deal_commission(rate: str, deals: dict[str, list[tuple[int, str]]]):
    """A stand-in per-transaction commission: one line per deal with its record id."""

    def pay(ctx, _config):
        out = []
        for person in ctx.people:
            lines = [
                {"record_id": deal, "amount": str(d(amount) * d(rate))}
                for deal, amount in deals.get(ctx.period.label, {}).get(person, [])
            ]
            out.append(RuleResult(person, sum((d(line["amount"]) for line in lines), Decimal(0)), {"lines": lines}))
        return out

    return pay


def period_commission(amount: str, bookings: str):
    """A stand-in commission on the period's total: no per-deal lines, only the total and its measure."""

    def pay(ctx, _config):
        return [
            RuleResult(p, d(amount), {"inputs": {"bookings": bookings}, "lines": [{"amount": amount}]})
            for p in ctx.people
        ]

    return pay


def event(
    record_id: int,
    deal_id: int,
    occurred: str,
    amount: str | None,
    kind: str = "refund",
    deal_amount: str = "10000",
    closed: str = JAN_15,
) -> dict:
    table = {"churn": "churn_events", "deal_lost": "deals"}.get(kind, "refunds")
    return {  # as the clawback_events metric gives it: an event without an amount is worth the whole deal
        "record_id": record_id,
        "value": d(deal_amount) if amount is None else d(amount),
        "event_amount": None if amount is None else d(amount),
        "event_table": table,
        "kind": kind,
        "occurred_at": datetime.fromisoformat(occurred),
        "deal_id": deal_id,
        "deal_amount": d(deal_amount),
        "closed_at": datetime.fromisoformat(closed),
    }


RULE = Clawback(commission_rule="commission", within_days=90)


def rules(commission) -> list:
    return [("commission", commission, None), ("clawback", evaluate, RULE)]


def test_refunds_take_back_commission_at_its_paid_rate_and_never_more_than_was_paid():
    """A 10% deal of 10,000 paid 1,000 in January. A refund of 2,500 in February takes back 250; a
    refund of the full 10,000 in March only the remaining 750; a further refund in April nothing."""
    ledger = Ledger(people=["E1"])
    commission = per_deal_commission("0.10", {"2026-01": {"E1": [(7, "10000")]}})
    ledger.run("2026-01", rules(commission))
    ledger.rows("2026-02", "clawback_events", "E1", [event(1, 7, "2026-02-04T09:00:00+00:00", "2500")])
    ledger.rows("2026-03", "clawback_events", "E1", [event(2, 7, "2026-03-20T09:00:00+00:00", "10000")])
    ledger.rows(
        "2026-04", "clawback_events", "E1", [event(3, 7, "2026-04-10T09:00:00+00:00", "1000", kind="cancellation")]
    )
    feb, mar, apr = (ledger.run(m, rules(commission))["clawback"] for m in ("2026-02", "2026-03", "2026-04"))
    assert [r.amount for r in feb + mar + apr] == [d("-250.00"), d("-750.00"), d("0.00")]
    [line] = mar[0].trace["lines"]
    assert (line["deal_id"], line["commission_paid"], line["already_recovered"], line["amount"]) == (
        7,
        "1000.00",
        "250.00",
        "-750.00",
    )
    assert "the deal's own lines of commission in 2026-01" in line["commission_from"]
    assert feb[0].trace["records"] == [{"table": "refunds", "ids": [1]}]
    assert "takes back 250 of the 1,000 it earned" in feb[0].trace["explanation"]


def test_without_per_deal_lines_the_rate_of_the_close_period_applies():
    """1,300 calculated (and paid) on 20,000 of bookings is 6.5%: a cancelled 4,000 deal gives back 260."""
    ledger = Ledger(people=["E1"])
    ledger.run("2026-01", rules(period_commission("1300", "20000")))
    ledger.rows(
        "2026-02",
        "clawback_events",
        "E1",
        [event(5, 9, "2026-02-01T00:00:00+00:00", "4000", kind="cancellation", deal_amount="4000")],
    )
    [result] = ledger.run("2026-02", rules(period_commission("0", "0")))["clawback"]
    assert result.amount == d("-260.00")
    assert "the rate calculated in 2026-01: 1300 ÷ 20000" in result.trace["lines"][0]["commission_from"]


def test_churn_within_the_window_takes_back_everything_and_later_churn_nothing():
    ledger = Ledger(people=["E1"])
    commission = per_deal_commission("0.05", {"2026-01": {"E1": [(7, "10000"), (8, "2000")]}})
    ledger.run("2026-01", rules(commission))
    ledger.rows("2026-03", "clawback_events", "E1", [event(1, 7, "2026-03-01T00:00:00+00:00", None, kind="churn")])
    ledger.rows(
        "2026-05",
        "clawback_events",
        "E1",
        [event(2, 8, "2026-05-30T00:00:00+00:00", None, kind="churn", deal_amount="2000")],
    )
    [march] = ledger.run("2026-03", rules(commission))["clawback"]
    [may] = ledger.run("2026-05", rules(commission))["clawback"]
    assert march.amount == d("-500.00")
    assert may.amount == d("0.00")
    assert may.trace["not_clawed_back"] == [
        {"event": "churn_events:2", "record_id": 2, "reason": "135 days after the close, outside 90"}
    ]


def test_rerunning_the_period_claws_each_event_back_once():
    ledger = Ledger(people=["E1"])
    commission = per_deal_commission("0.10", {"2026-01": {"E1": [(7, "10000")]}})
    ledger.run("2026-01", rules(commission))
    ledger.rows("2026-02", "clawback_events", "E1", [event(1, 7, "2026-02-04T09:00:00+00:00", "2500")])
    first = ledger.run("2026-02", rules(commission))["clawback"]
    again = ledger.run("2026-02", rules(commission))["clawback"]
    assert first == again and first[0].amount == d("-250.00")


def test_refund_in_the_month_of_the_close_uses_this_runs_effective_rate():
    ledger = Ledger(people=["E1"]).set("2026-01", "bookings", {"E1": "10000"})
    ledger.rows("2026-01", "clawback_events", "E1", [event(1, 7, "2026-01-20T00:00:00+00:00", "1000")])
    [result] = ledger.run("2026-01", rules(period_commission("800", "10000")))["clawback"]
    assert result.amount == d("-80.00")


def test_deal_whose_commission_was_never_saved_recovers_nothing_and_says_why():
    ledger = Ledger(people=["E1"])
    ledger.rows("2026-02", "clawback_events", "E1", [event(1, 7, "2026-02-04T09:00:00+00:00", "2500")])
    [result] = ledger.run("2026-02", rules(per_deal_commission("0.10", {})))["clawback"]
    assert result.amount == d("0.00")
    assert result.trace["not_clawed_back"] == [
        {"event": "refunds:1", "record_id": 1, "reason": "no commission outcome saved for 2026-01"}
    ]


def test_event_kinds_the_plan_leaves_out_are_not_clawed_back():
    only_refunds = Clawback(commission_rule="commission", within_days=90, events=["refund"])
    ledger = Ledger(people=["E1"])
    commission = per_deal_commission("0.10", {"2026-01": {"E1": [(7, "10000")]}})
    ledger.run("2026-01", rules(commission))
    ledger.rows("2026-02", "clawback_events", "E1", [event(1, 7, "2026-02-04T09:00:00+00:00", None, kind="churn")])
    [result] = ledger.run("2026-02", [("commission", commission, None), ("clawback", evaluate, only_refunds)])[
        "clawback"
    ]
    assert result.amount == d("0.00") and "churn is not clawed back" in result.trace["not_clawed_back"][0]["reason"]


def test_clawback_events_metric_links_refunds_and_churn_to_the_deal_owner(store):
    add_person(store, "E1")
    [deal] = add_won_deals(store, "E1", ["10000"], closed_at=datetime(2026, 1, 15, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(schema.customers.insert().values(id=1, source="t", remote_id="c1", name="Acme"))
        conn.execute(
            schema.refunds.insert().values(
                source="t",
                remote_id="r1",
                deal_id=deal,
                kind="refund",
                amount=d("2500"),
                currency="USD",
                occurred_at=datetime(2026, 2, 4, tzinfo=UTC),
                is_deleted=False,
            )
        )
        conn.execute(
            schema.churn_events.insert().values(
                source="t",
                remote_id="x1",
                customer_id=1,
                deal_id=deal,
                churned_at=datetime(2026, 2, 20, tzinfo=UTC),
                is_deleted=False,
            )
        )
    period = parse_period("2026-02")
    start, end = period.bounds_utc("UTC")
    mctx = MetricContext(period=period, start=start, end=end, time_zone="UTC", currency="USD")
    with store.connect() as conn:
        counts = conn.execute(clawback_events(mctx)).all()
        rows = [dict(r) for r in conn.execute(clawback_event_rows(mctx)).mappings()]
    assert counts == [("E1", 2)]
    # a churn without a lost amount is worth the whole deal (its own amount stays empty)
    assert [(r["event_table"], r["kind"], r["deal_id"], r["value"], r["event_amount"]) for r in rows] == [
        ("refunds", "refund", deal, d("2500"), d("2500")),
        ("churn_events", "churn", deal, d("10000"), None),
    ]
    assert rows[0]["closed_at"] == datetime(2026, 1, 15, tzinfo=UTC)
