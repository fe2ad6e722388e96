"""A plan's names (metric aliases, derived formulas, targets, rules), their references, rule order and versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpi_engine import PlanError, parse_period, parse_plan
from kpi_engine.plans.files import load_plan_for
from tests.support.plan_toys import toy_registry

HEAD = """id: p
currency: USD
rounding: {places: 2}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as err:
        parse_plan(text, "p.yaml", registry=toy_registry())
    return err.value.problems


def column_of(text: str, needle: str, line_having: str | None = None) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), 1):
        if (line_having or needle) in line:
            return number, line.index(needle) + 1
    raise AssertionError(needle)


def test_plan_names_metrics_as_aliases_and_formulas_and_targets_by_level():
    text = (
        HEAD
        + """metrics:
  sales: bookings
  attainment: sales / quota
targets:
  quota: {metric: bookings, level: target, prorate: days_employed}
  stretch: {metric: sales, level: challenge}
rules:
  - {id: c, type: formula_pay, amount: "min(sales, quota) * 5% + max(attainment - 100%, 0) * 10"}
"""
    )
    plan = parse_plan(text, "p.yaml", registry=toy_registry())
    names = plan.names
    assert names.aliases == {"sales": "bookings"}
    assert set(names.derived) == {"attainment"}
    assert names.kind("quota") == "target" and names.base_metric("stretch") == "bookings"
    assert plan.reads["c"] == {"sales", "quota", "attainment"}


def test_a_formula_error_points_at_the_character_inside_the_string():
    text = HEAD + 'rules:\n  - {id: c, type: formula_pay, amount: "min(bookings, 5%) * * 2"}\n'
    [problem] = problems(text)
    line, col = column_of(text, "* 2")
    assert problem.startswith(f"p.yaml:{line}:{col}: rule 'c', amount: ")


@pytest.mark.parametrize(
    ("written", "offset_of"),
    [
        ("amount: bookings * * 2", "* 2"),  # plain
        ("amount: 'bookings * * 2'", "* 2"),  # single quotes
        ("amount: 'bo''s * 2'", "''s"),  # an escaped quote is itself the fault (formulas hold no text)
        ('amount: "bookings\\t * * 2"', "* 2"),  # double quotes, with an escape before the fault
    ],
)
def test_formula_columns_account_for_the_quoting_style(written, offset_of):
    text = HEAD + f"rules:\n  - id: c\n    type: formula_pay\n    {written}\n"
    [problem] = problems(text)
    line, col = column_of(text, offset_of, written.split(":")[0] + ":")
    assert problem.startswith(f"p.yaml:{line}:{col}: "), problem


def test_a_formula_in_a_folded_block_points_at_its_line():
    text = HEAD + "rules:\n  - id: c\n    type: formula_pay\n    amount: >\n      min(bookings, 100)\n      + * 3\n"
    [problem] = problems(text)
    line, col = column_of(text, "* 3")
    assert problem.startswith(f"p.yaml:{line}:{col}: "), problem


def test_unknown_names_in_formulas_and_targets_are_reported_at_the_name_with_the_nearest():
    text = (
        HEAD
        + """metrics:
  attainment: bookings / quot
targets:
  quota: {metric: booking}
rules:
  - {id: c, type: formula_pay, amount: "attainmnt * 5%"}
"""
    )
    found = problems(text)
    assert len(found) == 3
    line, col = column_of(text, "quot", "attainment: bookings / quot")
    assert any(
        p.startswith(f"p.yaml:{line}:{col}: metric 'attainment' uses unknown name 'quot'. did you mean 'quota'?")
        for p in found
    ), found
    assert any("target 'quota' is bound to unknown metric 'booking'. did you mean 'bookings'?" in p for p in found)
    line, col = column_of(text, "attainmnt")
    assert any(
        p.startswith(f"p.yaml:{line}:{col}: rule 'c' uses unknown name 'attainmnt'. did you mean 'attainment'?")
        for p in found
    )


def test_rule_local_names_are_known_only_where_the_rule_type_declares_them():
    rules = 'rules:\n  - {id: c, type: formula_pay, measure: bookings, per_record: true, amount: "value * 2%"}\n'
    parse_plan(HEAD + rules, "p.yaml", registry=toy_registry())
    [problem] = problems(HEAD + rules.replace("per_record: true", "per_record: false"))
    assert "unknown name 'value'" in problem


def test_rules_are_ordered_by_the_results_they_read():
    text = (
        HEAD
        + """rules:
  - {id: bonus, type: formula_pay, amount: "commission * 10%"}
  - {id: total, type: formula_pay, amount: "0", after: [bonus]}
  - {id: commission, type: formula_pay, amount: "bookings * 5%"}
"""
    )
    plan = parse_plan(text, "p.yaml", registry=toy_registry())
    assert plan.order == ("commission", "bonus", "total")


def test_a_cycle_between_rules_names_its_rules():
    text = (
        HEAD
        + """rules:
  - {id: a, type: formula_pay, amount: "b * 10%"}
  - {id: b, type: formula_pay, amount: "c + 1"}
  - {id: c, type: formula_pay, amount: "0", after: [a]}
"""
    )
    [problem] = problems(text)
    assert "rules a → b → c → a read each other's results in a cycle" in problem
    assert problem.startswith("p.yaml:5:6:")  # the id of the first rule on the cycle


def test_a_rule_may_read_its_own_earlier_periods_but_not_itself():
    parse_plan(
        HEAD + 'rules:\n  - {id: a, type: formula_pay, amount: "a[-1] + 1"}\n', "p.yaml", registry=toy_registry()
    )
    [problem] = problems(HEAD + 'rules:\n  - {id: a, type: formula_pay, amount: "a + 1"}\n')
    assert "reads its own result" in problem


def test_unknown_rules_named_in_settings_are_refused_with_the_nearest():
    [problem] = problems(
        HEAD
        + (
            'rules:\n  - {id: commission, type: formula_pay, amount: "1"}\n'
            '  - {id: t, type: formula_pay, amount: "0", after: [comission]}\n'
        )
    )
    assert "reads the results of unknown rule 'comission'. did you mean 'commission'?" in problem
    assert problem.startswith("p.yaml:6:53:")  # where the misspelt name is written


def test_every_kind_of_problem_is_reported_in_one_go():
    text = """id: p
currency: usd
rounding: {places: x, mode: half_up}
metrics: {ratio: "bookings /"}
rules:
  - {id: c, type: tiered_commission, method: marginal, tiers: [{from: 0, to: 100, rate: 1%}, {from: 90, rate: 2%}]}
  - {id: d, type: formula_pay, amont: "1"}
"""
    found = problems(text)
    assert len(found) == 6, found
    joined = "\n".join(found)
    for expected in (
        "currency",
        "rounding.places",
        "metric 'ratio'",
        "overlap",
        "unknown key 'amont' in rule 'd'. did you mean 'amount'?",
        "amount is required",
    ):
        assert expected in joined


def test_weights_style_whole_rule_problems_point_at_the_key_they_name():
    text = HEAD + (
        "rules:\n  - id: c\n    type: tiered_commission\n    method: marginal\n    tiers:\n"
        "      - {from: 0, to: 10, rate: 1%}\n      - {from: 20, rate: 2%}\n"
    )
    [problem] = problems(text)
    # a validator that names the key itself (ConfigProblems) is located there: the second tier's `from`
    assert problem == "p.yaml:10:10: rule 'c': tiers 0–10 and 20 and above leave a gap.", problem


# --- versions ----------------------------------------------------------------------------

V1 = (
    HEAD.replace("id: p", "id: p\nversion: 1\neffective: {from: 2026-01-01, to: 2026-07-01}")
    + 'rules:\n  - {id: c, type: formula_pay, amount: "1"}\n'
)
V2 = (
    HEAD.replace("id: p", "id: p\nversion: 2\neffective: {from: 2026-07-01}")
    + 'rules:\n  - {id: c, type: formula_pay, amount: "2"}\n'
)


def test_the_version_in_force_is_picked_from_a_folder(tmp_path: Path):
    (tmp_path / "p-v1.yaml").write_text(V1)
    (tmp_path / "p-v2.yaml").write_text(V2)
    assert load_plan_for(tmp_path, parse_period("2026-03"), registry=toy_registry()).plan.version == "1"
    assert load_plan_for(tmp_path, parse_period("2026-07"), registry=toy_registry()).plan.version == "2"
    with pytest.raises(PlanError, match="no version of plan 'p' is in force in 2025-12"):
        load_plan_for(tmp_path, parse_period("2025-12"), registry=toy_registry())


def test_two_versions_in_force_at_once_is_an_error_naming_both_files(tmp_path: Path):
    (tmp_path / "p-v1.yaml").write_text(V1.replace("to: 2026-07-01", "to: 2026-08-01"))
    (tmp_path / "p-v2.yaml").write_text(V2)
    with pytest.raises(PlanError) as err:
        load_plan_for(tmp_path, parse_period("2026-07"), registry=toy_registry())
    assert "p-v1.yaml" in err.value.message and "p-v2.yaml" in err.value.message


def test_a_plan_id_is_looked_up_in_the_rules_folder(tmp_path: Path, monkeypatch):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "p-v1.yaml").write_text(V1)
    (tmp_path / "rules" / "other.yaml").write_text(V2.replace("id: p", "id: other"))
    monkeypatch.chdir(tmp_path)
    assert load_plan_for("p", parse_period("2026-02"), registry=toy_registry()).id == "p"
    with pytest.raises(PlanError, match="no plan with that id"):
        load_plan_for("nope", parse_period("2026-02"), registry=toy_registry())


def test_an_unknown_key_inside_a_named_target_gets_the_nearest_valid_key():
    text = (
        HEAD
        + """targets:
  quota: {metric: bookings, levl: target}
rules:
  - {id: c, type: formula_pay, amount: "quota * 5%"}
"""
    )
    [problem] = problems(text)
    line, col = column_of(text, "levl")
    assert problem.startswith(f"p.yaml:{line}:{col}: unknown key 'levl' in targets.quota.")
    assert "did you mean 'level'?" in problem
