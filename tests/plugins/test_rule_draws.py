"""Draws: recoverable advances with a carried balance, non-recoverable guarantees, leavers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from kpi_engine import PersonInfo, RuleResult
from kpi_engine_plugins.draws import Draw, draw_step, evaluate
from tests.support.rule_book import Ledger, d


def pay_earnings(amounts: dict[str, str]):
    """A stand-in earlier rule: pays each person the amount given for the period."""

    def evaluate_earnings(ctx, _config):
        return [RuleResult(p, d(amounts[p]), {}) for p in ctx.people]

    return evaluate_earnings


def run_draws(config: Draw, earnings_by_period: dict[str, str], ledger: Ledger | None = None) -> list[RuleResult]:
    ledger = ledger or Ledger(people=["E1"])
    lines = []
    for period, earned in earnings_by_period.items():
        produced = ledger.run(period, [("commission", pay_earnings({"E1": earned}), None), ("draw", evaluate, config)])
        lines.append(produced["draw"][0])
    return lines


def test_r2_recoverable_draw_guarantees_1000_and_carries_the_balance():
    """Golden R2, Oracle Sales IC docs, "Example of Incentive Compensation Draw and Recovery":
    guarantee 1,000; earnings 500 / 700 / 400 -> draws 500 / 300 / 600, paid 1,000 each period,
    outstanding balance 500 / 800 / 1,400."""
    config = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=True)
    lines = run_draws(config, {"2026-01": "500", "2026-02": "700", "2026-03": "400"})
    assert [line.amount for line in lines] == [d("500.00"), d("300.00"), d("600.00")]
    assert [d(line.trace["paid"]) for line in lines] == [d(1000)] * 3
    assert [d(line.trace["balance_after"]) for line in lines] == [d(500), d(800), d(1400)]
    assert [d(line.trace["balance_before"]) for line in lines] == [d(0), d(500), d(800)]
    assert "Outstanding balance 800 → 1,400" in lines[2].trace["explanation"]


def test_earnings_above_the_guarantee_recover_the_balance_but_never_below_the_guarantee():
    config = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=True)
    lines = run_draws(config, {"2026-01": "400", "2026-02": "1250", "2026-03": "2000"})
    # 600 advanced; 250 recovered (pay stays at the guarantee); the last 350 recovered from 1,000 above it.
    assert [line.amount for line in lines] == [d("600.00"), d("-250.00"), d("-350.00")]
    assert [d(line.trace["paid"]) for line in lines] == [d(1000), d(1000), d(1650)]
    assert [d(line.trace["balance_after"]) for line in lines] == [d(600), d(350), d(0)]


def test_non_recoverable_guarantee_tops_up_and_is_never_recovered():
    config = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=False)
    lines = run_draws(config, {"2026-01": "500", "2026-02": "3000"})
    assert [line.amount for line in lines] == [d("500.00"), d("0.00")]
    assert [d(line.trace["balance_after"]) for line in lines] == [d(0), d(0)]
    assert "never recovered" in lines[1].trace["explanation"]


def test_balance_of_a_leaver_is_written_off_or_recovered_as_the_plan_declares():
    june_leaver = {"E1": PersonInfo(id="E1", name="E1", leave_date=date(2026, 2, 20))}
    write_off = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=True, on_leave="write_off")
    lines = run_draws(write_off, {"2026-01": "500", "2026-02": "700"}, Ledger(people=["E1"], people_info=june_leaver))
    assert lines[1].amount == d("300.00")
    assert lines[1].trace["leaving"]["written_off"] == "800.00"
    assert lines[1].trace["balance_after"] == "0.00"

    recover = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=True, on_leave="recover")
    lines = run_draws(recover, {"2026-01": "500", "2026-02": "700"}, Ledger(people=["E1"], people_info=june_leaver))
    assert lines[1].amount == d("-500.00")  # no new draw; the whole balance comes back
    assert d(lines[1].trace["paid"]) == d(200)


def test_balance_starts_from_zero_when_the_previous_period_has_no_saved_draw():
    config = Draw(guarantee=d(1000), earnings_rules=["commission"], recoverable=True)
    [line] = run_draws(config, {"2026-05": "100"})
    assert line.trace["balance_before"] == "0.00"
    assert "no draw outcome saved for 2026-04" in line.trace["balance_from"]


def test_draw_step_is_exact_in_decimal():
    config = Draw(guarantee=d("1000.10"), earnings_rules=["c"], recoverable=True)
    step = draw_step(config, d("0.05"), d("0.30"))
    assert (step.draw, step.recovery, step.balance_after) == (d("1000.05"), Decimal(0), d("1000.35"))
