"""What ``kpi explain`` and ``kpi evaluate`` print is sized for people and names what the CRM names.

Before: a 100 % rate printed as "1%" (the trailing zeros of "100" stripped); records were the engine's own ids
(``Records (deals): 2249, 631``); a factor interpolated on a curve printed with 28 digits; a scorecard KPI with
no data scored 0 without saying so; ``kpi evaluate`` of a scorecard plan printed "total … None".
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kpi_engine import evaluate, parse_plan, schema
from kpi_engine.cli import main
from tests.support.factories import add_person, add_won_deals

FLAT = """
id: flat
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: commission
    type: tiered_commission
    method: marginal
    per: transaction
    tiers:
      - {from: 0, to: 1000, rate: 100%}
      - {from: 1000, rate: 12.5%}
"""

SCORECARD = """
id: card
applies_to: {roles: [sales_rep]}
currency: USD
rounding: {mode: half_up, places: 2, at: person_period}
rules:
  - id: scorecard
    type: scorecard
    target_incentive: 3000
    kpis:
      - {name: revenue, metric: bookings, weight: 60%, levels: {baseline: 0, target: 3000, challenge: 6000}}
      - name: conversion
        metric: lead_conversion_rate
        weight: 40%
        levels: {baseline: 5%, target: 10%, challenge: 15%}
"""


@pytest.fixture
def explain(store, capsys):
    def run(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_:
            main(["--db", store.url, "explain", *args])
        assert (exit_.value.code or 0) == 0
        return capsys.readouterr().out

    return run


def test_rates_are_whole_percentages_and_records_are_the_crm_ids(store, explain):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["1200"], closed_at=datetime(2026, 10, 3, tzinfo=UTC), currency="USD")
    run = evaluate(store, parse_plan(FLAT), "2026-10")
    text = explain("--run", run.id, "--person", "E1")
    rates = re.findall(r"\s(\d+(?:\.\d+)?%)\s", text)
    assert rates == ["100%", "12.5%"], text
    assert "E1-1: 1,200 → 1,025" in text  # the sentence names the deal as the CRM does
    assert "Records (deals): E1-1" in text  # the CRM's id, not the engine's own
    lines = [line for line in text.splitlines() if line.strip().startswith(("0–1,000", "1,000 and"))]
    assert all(line.split()[-1] == "E1-1" for line in lines), lines  # each line's record too


def test_a_credited_share_and_a_factor_on_a_curve_are_human_sized_in_text_and_whole_in_json(store, explain):
    """A deal of 1,234.57 split one third / two thirds credits E1 411.5229…; a factor between two points of a
    curve is 0.6666…: the text shows ≈411.522922 and ≈66.67%, the JSON every digit."""
    add_person(store, "E1")
    add_person(store, "E2")
    [deal] = add_won_deals(store, "E1", ["1234.57"], closed_at=datetime(2026, 10, 3, tzinfo=UTC))
    with store.begin() as conn:
        conn.execute(
            schema.deal_splits.insert(),
            [
                {"deal_id": deal, "person_id": "E1", "share": Decimal("0.333333"), "split_role": "owner"},
                {"deal_id": deal, "person_id": "E2", "share": Decimal("0.666667"), "split_role": "overlay"},
            ],
        )
    add_won_deals(store, "E2", ["1000"], closed_at=datetime(2026, 10, 3, tzinfo=UTC))
    run = evaluate(store, parse_plan(SCORECARD), "2026-10")
    text = explain("--run", run.id, "--person", "E1", "--rule", "scorecard")
    assert "≈411.522922" in text
    assert re.search(r"\d{11,}", text) is None, text
    text = explain("--run", run.id, "--person", "E2", "--rule", "scorecard")
    assert "≈66.67%" in text or "factor ≈" in text
    [score, _payout] = json.loads(explain("--run", run.id, "--person", "E1", "--format", "json"))
    assert score["inputs"]["revenue"] == "411.52292181"  # every digit of 1,234.57 × 0.333333


def test_a_kpi_with_no_data_says_so_instead_of_scoring_a_silent_zero(store):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["3000"], closed_at=datetime(2026, 10, 3, tzinfo=UTC))
    run = evaluate(store, parse_plan(SCORECARD), "2026-10")
    score = next(o for o in run.outcomes if o.kind == "score")
    conversion = next(k for k in score.trace["kpis"] if k["kpi"] == "conversion")
    assert conversion["actual"] is None and conversion["no_data"] is True
    assert conversion["how"].startswith("no data: no lead_conversion_rate value this period")
    assert any(sentence.startswith("conversion: no data") for sentence in score.trace["explanation"])
    assert score.trace["inputs"]["conversion"] == "no data"


def test_a_plan_may_leave_a_kpi_without_data_out_and_reweight_the_others(store):
    """revenue at target (factor 100 %) weighs 60 %; conversion has no data and is left out: 60 % / 60 % = 100 %."""
    add_person(store, "E1")
    add_won_deals(store, "E1", ["3000"], closed_at=datetime(2026, 10, 3, tzinfo=UTC))
    plan = parse_plan(SCORECARD.replace("challenge: 15%}", "challenge: 15%}\n        no_data: leave_out"))
    run = evaluate(store, plan, "2026-10")
    found = {o.kind: o.amount for o in run.outcomes}
    assert found == {"score": 1, "payout": 3000}
    score = next(o for o in run.outcomes if o.kind == "score")
    assert "were left out" in " ".join(score.trace["explanation"]) or "was left out" in " ".join(
        score.trace["explanation"]
    )


def test_evaluating_a_scorecard_plan_prints_its_currency_not_none(store, tmp_path, capsys):
    add_person(store, "E1")
    add_won_deals(store, "E1", ["3000"], closed_at=datetime(2026, 10, 3, tzinfo=UTC))
    plan = tmp_path / "card.yaml"
    plan.write_text(SCORECARD)
    with pytest.raises(SystemExit) as exit_:
        main(["--db", store.url, "evaluate", "--plan", str(plan), "--period", "2026-10"])
    out = capsys.readouterr().out
    assert (exit_.value.code or 0) == 0
    assert "total 1,800.00 USD." in out and "None" not in out, out
