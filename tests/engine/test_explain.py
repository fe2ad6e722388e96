"""``kpi explain``: per rule, the sentences, inputs, tiers taken and records behind a person's outcome."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi_engine import evaluate, load_plan
from kpi_engine.cli import main
from tests.support.factories import add_person, add_target, add_won_deals

EXAMPLE = Path(__file__).parents[2] / "rules" / "sales-commission.yaml"


def _evaluated(store, tmp_path) -> tuple[str, list[int]]:
    add_person(store, "E1")
    ids = add_won_deals(store, "E1", ["60000", "62000.50"], currency="CNY")
    add_target(store, "E1", "bookings", "2026-10", "100000", challenge="150000")
    run = evaluate(store, load_plan(EXAMPLE), "2026-10")
    return run.id, ids


class _Result:
    def __init__(self, code: int, output: str) -> None:
        self.exit_code, self.output = code, output


@pytest.fixture
def _invoke(capsys):
    def invoke(store, *args: str) -> _Result:
        with pytest.raises(SystemExit) as exit_:
            main(["--db", store.url, "explain", *args])
        captured = capsys.readouterr()
        return _Result(exit_.value.code or 0, captured.out + captured.err)

    return invoke


def test_explain_prints_what_a_rep_needs_to_check_the_payout(store, tmp_path, _invoke):
    run_id, ids = _evaluated(store, tmp_path)
    result = _invoke(store, "--run", run_id, "--person", "E1")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "== commission (tiered_commission) · payout: 6,760.04 CNY" in text
    assert "100,000 × 5% + 22,000.5 × 8%" in text  # the tiers taken, with the intermediate numbers
    assert "Inputs:" in text and "bookings" in text and "122,000.5" in text
    assert "Lines:" in text and "5,000.00" in text and "1,760.04" in text
    assert "Records (deals): E1-1, E1-2" in text  # the CRM's ids (the engine's own are in the JSON)


def test_explain_as_json_and_for_one_rule(store, tmp_path, _invoke):
    run_id, ids = _evaluated(store, tmp_path)
    result = _invoke(store, "--person", "E1", "--rule", "commission", "--format", "json")
    [item] = json.loads(result.output)
    assert item["run"] == run_id and item["amount"] == "6760.04" and item["currency"] == "CNY"
    assert item["records"] == [{"table": "deals", "ids": ids}]
    assert [line["rate"] for line in item["lines"]] == ["0.05", "0.08"]
    assert item["explanation"] and item["inputs"]["attainment"] == "1.220005"


def test_explaining_someone_without_outcomes_is_one_sentence_with_the_people_listed(store, tmp_path, _invoke):
    _evaluated(store, tmp_path)
    result = _invoke(store, "--person", "E9")
    assert result.exit_code == 1
    assert "E9 has no outcome in run" in result.output and "people in this run: E1" in result.output
    result = _invoke(store, "--person", "E1", "--rule", "bonus")
    assert result.exit_code == 1 and "rules in this run: commission" in result.output
