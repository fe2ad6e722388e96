"""Plan files validate whole, and every problem names file, line and column with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_engine import PlanError, load_plan, parse_plan

EXAMPLE = Path(__file__).parents[2] / "rules" / "sales-commission.yaml"


def test_example_plan_validates():
    plan = load_plan(EXAMPLE)
    assert plan.id == "sales-commission" and plan.plan.currency == "CNY"
    assert len(plan.plan_hash) == 64


def test_misspelt_key_names_line_column_and_valid_keys():
    text = EXAMPLE.read_text().replace("    method: marginal", "    methd: marginal")
    with pytest.raises(PlanError) as err:
        parse_plan(text, "plan.yaml")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "methd" in row)
    problem = next(p for p in err.value.problems if "methd" in p)
    assert problem.startswith(f"plan.yaml:{line}:5: unknown key 'methd'")
    assert "did you mean 'method'?" in problem and "valid keys:" in problem


def test_every_problem_is_reported_at_once():
    text = (
        EXAMPLE.read_text()
        .replace("currency: CNY", "currency: yuan")
        .replace("type: tiered_commission", "type: tierd_commission")
    )
    with pytest.raises(PlanError) as err:
        parse_plan(text, "plan.yaml")
    assert len(err.value.problems) == 2
    assert any("did you mean 'tiered_commission'" in p for p in err.value.problems)
    assert any("currency" in p for p in err.value.problems)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ("[{from: 0, to: 100, rate: 1%}, {from: 150, rate: 2%}]", "leave a gap"),
        ("[{from: 0, to: 100, rate: 1%}, {from: 80, rate: 2%}]", "overlap"),
        ("[{from: 10, to: 100, rate: 1%}]", "must start at 0"),
    ],
)
def test_tiers_with_gaps_or_overlaps_are_refused(tiers, message):
    text = f"""id: p
currency: USD
rounding: {{places: 2}}
rules:
  - id: c
    type: tiered_commission
    method: marginal
    tiers: {tiers}
"""
    with pytest.raises(PlanError, match=message):
        parse_plan(text, "p.yaml")


def test_floats_in_plans_are_read_as_exact_decimals():
    text = EXAMPLE.read_text().replace("rate: 8%", "rate: 0.08")
    plan = parse_plan(text, "p.yaml")
    assert str(plan.configs["commission"].tiers[1].rate) == "0.08"


@pytest.mark.parametrize("written", [".inf", "-.inf", ".NaN"])
def test_an_infinite_amount_is_a_sentence_at_its_line_not_a_decimal_internal(written):
    text = EXAMPLE.read_text().replace("    cap: 60000", f"    cap: {written}")
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith(f"    cap: {written}"))
    with pytest.raises(PlanError) as err:
        parse_plan(text, "plan.yaml")
    [problem] = err.value.problems
    assert problem.startswith(f"plan.yaml:{line}:5: rule 'commission', cap: infinity and not-a-number are not amounts")
    assert problem.endswith(f"(got {written}).") and "ConversionSyntax" not in problem


def test_unknown_metric_is_refused_with_the_nearest_name():
    text = EXAMPLE.read_text().replace("measure: bookings", "measure: booking")
    with pytest.raises(PlanError, match="did you mean 'bookings'"):
        parse_plan(text, "p.yaml")


def test_broken_yaml_points_at_the_line():
    with pytest.raises(PlanError, match=r"p.yaml:2:\d+: the plan is not valid YAML"):
        parse_plan("id: p\ncurrency: USD: EUR\nrules: []\n", "p.yaml")


def test_python_tags_are_not_constructed():
    with pytest.raises(PlanError):
        parse_plan("id: !!python/object/apply:os.system ['true']\n", "p.yaml")


def test_a_rule_level_problem_reads_as_a_sentence_without_the_raw_settings():
    text = """id: p
currency: USD
rounding: {places: 2}
rules:
  - id: c
    type: tiered_commission
    method: marginal
    tiers: [{from: 0, to: 100, rate: 1%}, {from: 120, rate: 2%}]
"""
    with pytest.raises(PlanError) as err:
        parse_plan(text, "p.yaml")
    # at the second tier's `from`, where the gap begins
    assert err.value.problems == ["p.yaml:8:44: rule 'c': tiers 0–100 and 120 and above leave a gap."]


def test_a_plan_file_read_again_unchanged_is_not_validated_again_and_a_changed_one_is(tmp_path):
    plan = tmp_path / "plan.yaml"
    original = (Path(__file__).resolve().parents[2] / "rules" / "sales-commission.yaml").read_text(encoding="utf-8")
    plan.write_text(original, encoding="utf-8")
    first = load_plan(plan)
    assert load_plan(plan) is first
    plan.write_text(original.replace("name:", "name: Changed —", 1), encoding="utf-8")
    changed = load_plan(plan)
    assert changed is not first
    assert changed.plan.name.startswith("Changed —")
    plan.write_text("plan: [", encoding="utf-8")
    with pytest.raises(PlanError):
        load_plan(plan)
