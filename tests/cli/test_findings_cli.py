"""`kpi findings` after `kpi demo`: every registered check finds something in the sample; reviews; explain shows
findings.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_engine import CheckConfig, get_registry
from kpi_engine.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One `kpi demo` for the whole module (it evaluates the integrity plans for every month of the sample)."""
    folder = tmp_path_factory.mktemp("findings-demo")
    yield folder


@pytest.fixture(scope="module")
def demo_database() -> Iterator[list[str]]:
    """``--db`` for the demo: on PostgreSQL a schema of its own (the suite's backend), else ./kpi.sqlite."""
    if not os.environ.get("KPI_TEST_DATABASE_URL"):
        yield []
        return
    from tests.conftest import database_of_its_own

    with database_of_its_own("findings_demo", Path(".")) as url:
        yield ["--db", url]


@pytest.fixture(scope="module")
def kpi(demo_folder: Path, demo_database: list[str]) -> Iterator:
    def run(*args: str) -> Result:
        here = os.getcwd()
        saved = os.environ.pop("KPI_DATABASE_URL", None)
        os.chdir(demo_folder)
        try:
            from contextlib import redirect_stderr, redirect_stdout
            from io import StringIO

            out, err = StringIO(), StringIO()
            with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as exit_:
                main([*demo_database, *args])
            return Result(exit_.value.code or 0, out.getvalue(), err.getvalue())
        finally:
            os.chdir(here)
            if saved is not None:
                os.environ["KPI_DATABASE_URL"] = saved

    demo = run("demo", "--month", "2026-10")
    assert demo.code == 0, demo.err
    assert not demo_database or "Database: postgresql" in demo.out
    run.demo = demo  # type: ignore[attr-defined]
    yield run


def registered_checks() -> set[str]:
    """Every rule type whose settings are a check's: the list grows as checks are added."""
    return {name for name, rt in get_registry().rule_types.items() if issubclass(rt.config_model, CheckConfig)}


def test_after_the_demo_every_registered_check_has_a_finding_with_its_records(kpi):
    found = json.loads(kpi("findings", "--format", "json").out)
    checks = {f["check"] for f in found}
    assert sorted(registered_checks() - checks) == [], "checks without a finding in the demo"
    assert len(checks) >= 13  # the sample's thirteen planted patterns
    for finding in found:
        assert finding["explanation"].endswith(".") and finding["evidence"] and all(finding["evidence"].values())
        assert finding["severity"] in ("low", "medium", "high") and finding["effect"] in (
            "flag",
            "hold",
            "exclude",
            "clawback",
        )
        assert len(finding["id"]) == 16 and finding["review"] in (None, "release")
    released = [f for f in found if f["review"] == "release"]
    assert len(released) == 1 and released[0]["effect"] == "hold"  # the demo's HR releases one held payout
    assert len({f["id"] for f in found}) == len(found)
    assert "Findings by check (all months):" in kpi.demo.out


def test_each_finding_says_whether_it_signals_gaming_or_a_gap_in_process(kpi):
    found = json.loads(kpi("findings", "--format", "json").out)
    kinds: dict[str, set[str]] = {}
    for finding in found:
        kinds.setdefault(finding["check"], set()).add(finding["category"])
    assert kinds["unverified_activity"] == {"process"}  # visits kept without evidence: how work is recorded
    assert kinds["deal_splitting"] == {"gaming"}
    assert set().union(*kinds.values()) == {"gaming", "process"}
    table = kpi("findings", "--check", "unverified_activity").out
    assert "category" in table.splitlines()[0] and "process" in table


def test_the_demo_finds_every_planted_case_with_its_records(kpi, demo_folder):
    planted = json.loads((demo_folder / "kpi-demo.ground-truth.json").read_text(encoding="utf-8"))
    cases = planted["cases"] if isinstance(planted, dict) else planted
    found = json.loads(kpi("findings", "--format", "json").out)
    checks = registered_checks()
    for case in cases:
        if case["pattern"] not in checks:
            continue  # a pattern whose check is not installed
        hits = [
            f
            for f in found
            if f["check"] == case["pattern"]
            and f["person"] == case["person_id"]
            and f["period"] == case["period"]
            and {str(i) for i in case["record_ids"]} <= {str(i) for i in f["evidence"].get(case["table"], [])}
        ]
        assert hits, (
            f"planted {case['pattern']} of {case['person_id']} in "
            f"{case['period']} not found with records {case['record_ids']}"
        )


def test_findings_filters_and_formats(kpi):
    found = json.loads(kpi("findings", "--format", "json").out)
    first = found[0]
    only = json.loads(
        kpi(
            "findings",
            "--person",
            first["person"],
            "--period",
            first["period"],
            "--check",
            first["check"],
            "--format",
            "json",
        ).out
    )
    assert first in only and all(f["person"] == first["person"] and f["check"] == first["check"] for f in only)
    by_run = json.loads(kpi("findings", "--run", first["run"], "--format", "json").out)
    assert first in by_run and {f["run"] for f in by_run} == {first["run"]}
    table = kpi("findings")
    assert table.code == 0 and first["id"] in table.out and "recommendations for review, not verdicts" in table.out
    csv = kpi("findings", "--format", "csv").out.splitlines()
    assert csv[0].split(",")[:4] == ["plan", "run", "id", "check"] and len(csv) == len(found) + 1
    none = kpi("findings", "--person", "NOBODY")
    assert none.code == 0 and "No findings." in none.out


def test_findings_errors_are_one_sentence(kpi):
    for args, message in (
        (("findings", "--run", "nope"), "Error: there is no evaluation run 'nope'."),
        (
            ("findings", "review", "abc", "--release", "--note", "ok"),
            "Error: there is no finding 'abc' in the saved runs.",
        ),
        (("findings", "review", "abc", "--note", "ok"), "Error: say what the review decides: --release or --uphold."),
    ):
        result = kpi(*args)
        assert result.code != 0 and "Traceback" not in result.err
        assert result.err.splitlines()[0] == message


def test_a_review_is_recorded_once_and_shown(kpi):
    found = json.loads(kpi("findings", "--format", "json").out)
    target = found[-1]
    done = kpi(
        "findings", "review", target["id"], "--uphold", "--note", "Confirmed with the customer.", "--by", "hr.wang"
    )
    assert done.code == 0 and f"Finding {target['id']}" in done.out and "upheld" in done.out
    again = kpi("findings", "review", target["id"], "--release", "--note", "changed my mind")
    assert again.code != 0 and "already reviewed (uphold by hr.wang" in again.err
    (shown,) = [f for f in json.loads(kpi("findings", "--format", "json").out) if f["id"] == target["id"]]
    assert (shown["review"], shown["review_note"]) == ("uphold", "Confirmed with the customer.")


def test_explain_shows_a_persons_findings_with_their_records_and_effect(kpi):
    found = json.loads(kpi("findings", "--format", "json").out)
    first = found[0]
    text = kpi("explain", "--run", first["run"], "--person", first["person"])
    assert text.code == 0, text.err
    assert f"Finding {first['id']} ({first['check']}" in text.out and "flagged for review only" in text.out
    table, ids = next(iter(first["evidence"].items()))
    line = next(line for line in text.out.splitlines() if line.strip().startswith(f"Records ({table}): "))
    shown = line.split(": ", 1)[1].split(" … ")[0].split(", ")
    assert len(shown) == min(len(ids), 30) and not set(shown) & {str(i) for i in ids}  # the CRM's ids, not ours


def test_the_demo_applies_each_effect_its_plans_declare(kpi):
    acting = [f for f in json.loads(kpi("findings", "--format", "json").out) if f["effect"] != "flag"]
    assert {f["effect"] for f in acting} >= {"hold", "exclude", "clawback"}  # rules/sales-commission.yaml declares them
    for finding in acting:
        lines = json.loads(
            kpi("outcomes", "--run", finding["run"], "--person", finding["person"], "--format", "json").out
        )
        affected = [line for line in lines if line["rule"] in finding["affects"]]
        if finding["effect"] == "hold":
            assert affected and all(line["kind"] == "held" for line in affected if line["amount"])
            assert all(
                finding["id"] in line["trace"]["held"]["findings"] for line in affected if line["kind"] == "held"
            )
        elif finding["effect"] == "exclude":
            assert any(
                item["finding"] == finding["id"] for line in affected for item in line["trace"].get("excluded", [])
            )
        else:
            backs = [line for line in affected if line["trace"].get("clawback", {}).get("finding") == finding["id"]]
            excluded = [
                line
                for line in affected
                if any(i["finding"] == finding["id"] for i in line["trace"].get("excluded", []))
            ]
            assert backs or excluded
            assert all(Decimal(line["amount"]) < 0 for line in backs)
