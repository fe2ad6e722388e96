"""Alerts: N consecutive breaching intervals fire, recovery resolves, missing data counts as declared."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from kpi_engine import PersonInfo
from kpi_engine_plugins.alerts import Alert, evaluate
from tests.support.rule_book import Ledger


def conversion_alert(no_data: str = "breaks_run", interval: str = "day") -> Alert:
    return Alert.model_validate(
        {"metric": "lead_conversion_rate", "breach_when": "< 10%", "for": 3, "interval": interval, "no_data": no_data}
    )


def daily(ledger: Ledger, month: str, rates: dict[int, str | None], person: str = "E1") -> Ledger:
    for day, rate in rates.items():
        if rate is not None:
            ledger.set(f"{month}-{day:02d}", "lead_conversion_rate", {person: rate})
    return ledger


def states(outcomes) -> list[tuple[str, str]]:
    return [(o.trace["state"], o.trace["at"]) for o in outcomes]


def test_a1_fires_on_the_third_consecutive_day_below_ten_percent_only():
    """Golden A1, seed 003 (rule) with Grafana pending-period semantics: days 1-6 at
    9%, 8%, 11%, 9%, 9%, 7% fire on day 6 only (days 4, 5, 6); day 7 at 12% resolves it."""
    ledger = daily(
        Ledger(people=["E1"]), "2026-01", {1: "0.09", 2: "0.08", 3: "0.11", 4: "0.09", 5: "0.09", 6: "0.07", 7: "0.12"}
    )
    outcomes = ledger.run("2026-01", [("conversion", evaluate, conversion_alert())])["conversion"]
    assert states(outcomes) == [("firing", "2026-01-06"), ("resolved", "2026-01-07")]
    firing = outcomes[0]
    assert firing.kind == "alert" and firing.amount is None
    assert [e["interval"] for e in firing.trace["evidence"]] == ["2026-01-04", "2026-01-05", "2026-01-06"]
    assert "9%" in firing.trace["explanation"] and "fires on 2026-01-06" in firing.trace["explanation"]


@pytest.mark.parametrize(
    ("no_data", "fires_on", "run"),
    [
        ("breaks_run", "2026-01-05", ["2026-01-03", "2026-01-04", "2026-01-05"]),
        ("counts_as_breach", "2026-01-03", ["2026-01-01", "2026-01-02", "2026-01-03"]),
        ("keeps_state", "2026-01-04", ["2026-01-01", "2026-01-03", "2026-01-04"]),
    ],
)
def test_a2_missing_day_counts_as_the_plan_declares(no_data, fires_on, run):
    """Golden A2 (plan choice): days 1-5 at 9%, no data, 8%, 7%, 6%. "No data breaks the run"
    fires on day 5; "no data counts as a breach" fires on day 3; "keeps state" skips the day."""
    started = {"E1": PersonInfo(id="E1", name="E1", hire_date=date(2026, 1, 1))}  # no days before day 1
    ledger = daily(
        Ledger(people=["E1"], people_info=started), "2026-01", {1: "0.09", 2: None, 3: "0.08", 4: "0.07", 5: "0.06"}
    )
    outcomes = ledger.run("2026-01", [("conversion", evaluate, conversion_alert(no_data))])["conversion"]
    firing = [o for o in outcomes if o.trace["state"] == "firing"]
    assert [o.trace["at"] for o in firing] == [fires_on]
    assert [e["interval"] for e in firing[0].trace["evidence"]] == run


def test_run_that_starts_in_the_previous_month_fires_on_the_first_days_of_the_next():
    ledger = daily(Ledger(people=["E1"]), "2026-01", {30: "0.05", 31: "0.06"})
    daily(ledger, "2026-02", {1: "0.04", 2: "0.20"})
    outcomes = ledger.run("2026-02", [("conversion", evaluate, conversion_alert())])["conversion"]
    assert states(outcomes) == [("firing", "2026-02-01"), ("resolved", "2026-02-02")]
    assert [e["interval"] for e in outcomes[0].trace["evidence"]] == ["2026-01-30", "2026-01-31", "2026-02-01"]


def test_alert_still_firing_when_a_period_ends_is_carried_into_the_next():
    ledger = daily(Ledger(people=["E1"]), "2026-01", {29: "0.05", 30: "0.05", 31: "0.05"})
    daily(ledger, "2026-02", {1: "0.05", 2: "0.05", 3: "0.15"})
    outcomes = ledger.run("2026-02", [("conversion", evaluate, conversion_alert())])["conversion"]
    assert states(outcomes) == [("firing", "2026-02-01"), ("resolved", "2026-02-03")]
    assert outcomes[0].trace["carried_over"] is True


def test_counts_as_breach_treats_days_without_data_before_a_run_as_breaches():
    ledger = daily(Ledger(people=["E1"]), "2026-01", {1: "0.09", 2: "0.50"})
    outcomes = ledger.run("2026-01", [("conversion", evaluate, conversion_alert("counts_as_breach"))])["conversion"]
    # 30 and 31 December had no data at all: with this choice they breach, so day 1 completes a run.
    assert states(outcomes)[:2] == [("firing", "2026-01-01"), ("resolved", "2026-01-02")]


def test_rerunning_a_period_gives_the_same_alerts():
    ledger = daily(Ledger(people=["E1", "E2"]), "2026-01", {4: "0.09", 5: "0.09", 6: "0.07"})
    first = ledger.run("2026-01", [("conversion", evaluate, conversion_alert())])["conversion"]
    again = ledger.run("2026-01", [("conversion", evaluate, conversion_alert())])["conversion"]
    assert first == again and states(first) == [("firing", "2026-01-06"), ("resolved", "2026-01-07")]


def test_weekly_interval_reads_the_weeks_ending_in_the_period():
    ledger = Ledger(people=["E1"])
    for week in ("2026-W01", "2026-W02", "2026-W03"):
        ledger.set(week, "visits", {"E1": "3"})
    config = Alert.model_validate(
        {"metric": "visits", "breach_when": "< 5", "for": 3, "interval": "week", "no_data": "breaks_run"}
    )
    outcomes = ledger.run("2026-01", [("visits", evaluate, config)])["visits"]
    assert states(outcomes) == [("firing", "2026-W03"), ("resolved", "2026-W04")]


def test_period_interval_looks_back_at_earlier_periods():
    ledger = Ledger(people=["E1"]).set("2026-01", "bookings", {"E1": "10"}).set("2026-02", "bookings", {"E1": "20"})
    ledger.set("2026-03", "bookings", {"E1": "30"})
    config = Alert.model_validate(
        {"metric": "bookings", "breach_when": "<= 50", "for": 3, "interval": "period", "no_data": "breaks_run"}
    )
    outcomes = ledger.run("2026-03", [("low", evaluate, config)])["low"]
    assert states(outcomes) == [("firing", "2026-03")]
    assert [e["value"] for e in outcomes[0].trace["evidence"]] == ["10", "20", "30"]


def test_missing_data_handling_must_be_declared():
    with pytest.raises(ValidationError, match="no_data"):
        Alert.model_validate({"metric": "m", "breach_when": "< 10%", "for": 3, "interval": "day"})
    with pytest.raises(ValidationError, match="breach_when"):
        Alert.model_validate(
            {"metric": "m", "breach_when": "below ten", "for": 3, "interval": "day", "no_data": "breaks_run"}
        )
