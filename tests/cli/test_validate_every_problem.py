"""`kpi rules validate` reports every problem of a plan in one run, each at its line and column, as HR wrote it.

Before: a rule stopped at its first problem (pydantic skips a model's own checks once any key is wrong, and
the tiered commission's checks raised at the first they found), and a gap between attainment tiers was shown
as ratios (``0–1 and 1.1–2``) instead of the percentages HR wrote.
"""

from __future__ import annotations

import re

from kpi_engine import PlanError, parse_plan

FIVE_MISTAKES = """\
id: five-mistakes
currency: usd
rounding: {places: 2}
rules:
  - id: commission
    type: tiered_commission
    measure: bookings
    basis: attainment
    method: marginal
    tiers:
      - {from: 0%, to: 100%, rate: 5%, excess: true}
      - {from: 110%, to: 200%, rate: 8%}
    gate: "attainmnt >= 50%"
    cap: -100
"""


def test_kpi_rules_validate_reports_five_independent_mistakes_in_one_run(kpi, tmp_path):
    """1 the currency is lower case; 2 a misspelt key inside a tier; 3 a gap between the tiers; 4 a negative cap;
    5 a formula naming something that does not exist. Before: 3 of them (the rule's own checks never ran)."""
    plan = tmp_path / "five.yaml"
    plan.write_text(FIVE_MISTAKES)
    result = kpi("rules", "validate", str(plan))
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if re.match(r".*five\.yaml:\d+:\d+: ", line)]
    assert len(lines) == 5, result.err
    text = "\n".join(lines)
    assert re.search(r"five\.yaml:2:\d+: currency", text)
    assert "five.yaml:11:40: unknown key 'excess'" in text
    assert "five.yaml:12:10: rule 'commission': tiers 0%–100% and 110%–200% leave a gap." in text
    assert "five.yaml:14:5: rule 'commission': cap cannot be negative (-100)." in text
    assert "five.yaml:13:12: rule 'commission' uses unknown name 'attainmnt'. did you mean 'attainment'?" in text


def test_tier_gaps_on_attainment_read_in_the_percentages_hr_wrote():
    text = FIVE_MISTAKES.replace("currency: usd", "currency: USD").replace(", excess: true", "")
    text = text.replace('    gate: "attainmnt >= 50%"\n    cap: -100\n', "")
    try:
        parse_plan(text, "p.yaml")
    except PlanError as err:
        assert err.problems == ["p.yaml:12:10: rule 'commission': tiers 0%–100% and 110%–200% leave a gap."]
    else:
        raise AssertionError("a gap between the tiers was accepted")


def test_a_validator_that_finds_several_problems_reports_each_at_its_own_key():
    text = """\
id: p
currency: USD
rounding: {places: 2}
rules:
  - id: c
    type: tiered_commission
    method: marginal
    tiers: [{from: 0, to: 100, rate: 1%}, {from: 120, rate: 2%}]
    floor: 500
    cap: 100
    minimum_payout: 20
"""
    try:
        parse_plan(text, "p.yaml")
    except PlanError as err:
        problems = err.problems
    else:
        raise AssertionError("the plan was accepted")
    assert problems[0] == "p.yaml:8:44: rule 'c': tiers 0–100 and 120 and above leave a gap."
    assert "p.yaml:9:5: rule 'c': the floor 500 is above the cap 100." in problems
    floor_applies = "p.yaml:9:5: rule 'c': say when the floor (a guaranteed minimum) applies"
    assert any(p.startswith(floor_applies) for p in problems)
    assert any(p.startswith("p.yaml:11:5: rule 'c': minimum_payout is now payout_threshold") for p in problems)
