"""Activity and lead checks on hand-built data: what each check flags, what it leaves alone, and the records it
names.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kpi_engine import Finding, PersonInfo, RuleContext
from kpi_engine_plugins.activity_checks import (
    ActivityInflation,
    LeadsWithoutChannel,
    TrafficBrushing,
    UnverifiedActivity,
    evaluate_brushing,
    evaluate_inflation,
    evaluate_leads_without_channel,
    evaluate_unverified,
)
from tests.support.rule_context import context, d


def findings(results: list[Any]) -> list[Finding]:
    assert all(r.kind == "finding" and r.amount is None for r in results)
    return [Finding.from_result(r) for r in results]


def rows(*ids: int) -> list[dict[str, Any]]:
    return [{"record_id": i, "value": d(1)} for i in ids]


# --- unverified_activity ---------------------------------------------------------------------


def unverified_ctx(logged: dict[str, int], unverified: dict[str, int]) -> RuleContext:
    details = {
        p: rows(*range(1000 * n, 1000 * n + count)) for n, (p, count) in enumerate(sorted(unverified.items()), start=1)
    }
    return context(
        period="2026-08",
        values={"visits_and_meetings": logged, "unverified_visits": unverified},
        details={"unverified_visits": details},
    )


def test_unverified_visits_above_count_and_share_are_a_finding_naming_them():
    ctx = unverified_ctx({"E1": 33, "E2": 12}, {"E1": 18, "E2": 1})
    [found] = findings(evaluate_unverified(ctx, UnverifiedActivity()))
    assert (found.check, found.person_id, found.period) == ("unverified_activity", "E1", "2026-08")
    assert found.evidence == {"activities": tuple(range(1000, 1018))}
    assert (
        found.figures["unverified"] == "18" and found.figures["logged"] == "33" and found.figures["share"] == "54.55%"
    )
    assert "18 of 33 visits and meetings" in found.explanation
    assert found.severity == "medium"  # 18 ÷ 8 = 2.25, 54.55 % ÷ 30 % = 1.82: the smaller excess grades it


@pytest.mark.parametrize(
    ("logged", "unverified", "flagged"),
    [
        (20, 8, True),  # exactly the count (8) and above the share: both thresholds are inclusive
        (24, 8, True),  # 33.3 %
        (28, 8, False),  # 28.6 %: the share falls short
        (10, 7, False),  # 70 %, but fewer than 8
        (0, 9, True),  # visits logged only as unverified: all of them
    ],
)
def test_unverified_needs_both_the_count_and_the_share(logged, unverified, flagged):
    ctx = unverified_ctx({"E1": logged}, {"E1": unverified})
    assert bool(evaluate_unverified(ctx, UnverifiedActivity())) is flagged


def test_unverified_grades_severity_by_how_far_past_both_thresholds():
    config = UnverifiedActivity(min_count=4, min_share="20%")
    grades = {}
    for count, logged in ((4, 20), (5, 20), (8, 20)):
        [found] = findings(evaluate_unverified(unverified_ctx({"E1": logged}, {"E1": count}), config))
        grades[count] = found.severity
    assert grades == {4: "low", 5: "medium", 8: "high"}


def test_check_settings_reject_unknown_keys_and_shares_outside_zero_to_one():
    with pytest.raises(ValidationError):
        UnverifiedActivity(min_count=8, min_shares="30%")
    with pytest.raises(ValidationError):
        UnverifiedActivity(min_share="130%")
    assert UnverifiedActivity(min_share="30%").min_share == d("0.3")
    assert UnverifiedActivity(effect="hold", affects=["commission"]).effect == "hold"


# --- leads_without_channel -------------------------------------------------------------------


def test_leads_without_channel_are_reported_against_the_marketing_owner():
    ctx = context(
        period="2026-04",
        values={"leads_created": {"M1": 172, "M2": 300, "M3": 40}, "unattributed_leads": {"M1": 35, "M2": 12, "M3": 9}},
        details={"unattributed_leads": {"M1": rows(5, 6, 7), "M2": rows(8), "M3": rows(9)}},
    )
    found = findings(evaluate_leads_without_channel(ctx, LeadsWithoutChannel()))
    assert [f.person_id for f in found] == ["M1"]  # M2: 4 % of its leads; M3: fewer than 10
    assert found[0].evidence == {"leads": (5, 6, 7)}
    assert found[0].figures["share"] == "20.35%"
    assert found[0].severity == "high"


# --- activity_inflation ----------------------------------------------------------------------


def team_ctx(
    visits: dict[str, int], won: dict[str, int], teams: dict[str, str], roles: dict[str, str] | None = None
) -> RuleContext:
    ctx = context(
        period="2026-05",
        values={"visits": visits, "won_deals": won},
        details={
            "visits": {
                p: rows(*range(100 * n, 100 * n + count))
                for n, (p, count) in enumerate(sorted(visits.items()), start=1)
            }
        },
    )
    info = {p: PersonInfo(id=p, name=p, role=(roles or {}).get(p, "sales_rep"), team_id=t) for p, t in teams.items()}
    return replace(ctx, people=sorted(teams), people_info=info)


def test_visits_far_above_the_team_median_with_few_wins_are_inflation():
    visits = {"E1": 57, "E2": 9, "E3": 10, "E4": 8, "E5": 12}
    won = {"E1": 1, "E2": 4, "E3": 5, "E4": 3, "E5": 4}
    ctx = team_ctx(visits, won, dict.fromkeys(visits, "east"))
    [found] = findings(evaluate_inflation(ctx, ActivityInflation()))
    assert found.person_id == "E1"
    assert found.evidence == {"activities": tuple(range(100, 157))}  # every visit of the period
    assert found.figures["team_median_visits"] == "9.5" and found.figures["teammates"] == "4"
    assert found.figures["won_per_100_visits"] == "1.75" and found.figures["team_won_per_100_visits"] == "41.03"
    assert found.severity == "high"


def test_a_busy_rep_who_also_wins_is_not_inflation():
    visits = {"E1": 57, "E2": 9, "E3": 10, "E4": 8}
    ctx = team_ctx(visits, {"E1": 12, "E2": 3, "E3": 3, "E4": 3}, dict.fromkeys(visits, "east"))
    assert evaluate_inflation(ctx, ActivityInflation()) == []


def test_the_norm_is_the_persons_own_team_and_role():
    visits = {"E1": 30, "E2": 10, "E3": 11, "E4": 9, "N1": 40, "N2": 35, "N3": 38, "M1": 0, "M2": 0}
    won = {"E1": 0, "E2": 3, "E3": 3, "E4": 3, "N1": 5, "N2": 4, "N3": 5}
    teams = {
        "E1": "east",
        "E2": "east",
        "E3": "east",
        "E4": "east",
        "N1": "north",
        "N2": "north",
        "N3": "north",
        "M1": "east",
        "M2": "east",
    }
    roles = {"M1": "marketing_specialist", "M2": "marketing_specialist"}
    found = findings(evaluate_inflation(team_ctx(visits, won, teams, roles), ActivityInflation()))
    assert [f.person_id for f in found] == ["E1"]  # 30 against east's 10; north's 40 would have hidden it
    # marketing specialists of the same team who log a visit now and then do not lower the reps' norm
    visits = {"E1": 20, "E2": 10, "E3": 11, "E4": 9, "M1": 1, "M2": 1, "M3": 1}
    mixed = team_ctx(
        visits,
        {"E2": 3, "E3": 3, "E4": 3},
        dict.fromkeys(visits, "east"),
        dict.fromkeys(("M1", "M2", "M3"), "marketing_specialist"),
    )
    assert evaluate_inflation(mixed, ActivityInflation()) == []
    # with only two teammates of its role the north team has no norm, whatever its numbers
    ctx = team_ctx(
        {"N1": 90, "N2": 10, "N3": 10}, {"N1": 0, "N2": 5, "N3": 5}, dict.fromkeys(("N1", "N2", "N3"), "north")
    )
    assert evaluate_inflation(ctx, ActivityInflation()) == []


def test_no_inflation_when_the_team_won_nothing_or_the_visits_are_few():
    visits = {"E1": 40, "E2": 10, "E3": 10, "E4": 10}
    assert evaluate_inflation(team_ctx(visits, {}, dict.fromkeys(visits, "east")), ActivityInflation()) == []
    small = {"E1": 19, "E2": 4, "E3": 4, "E4": 4}
    assert (
        evaluate_inflation(
            team_ctx(small, {"E2": 2, "E3": 2, "E4": 2}, dict.fromkeys(small, "east")), ActivityInflation()
        )
        == []
    )


def test_teammates_without_visits_do_not_lower_the_norm():
    visits = {"E1": 24, "E2": 10, "E3": 10, "E4": 9, "E5": 0, "E6": 0, "E7": 0}  # E5-E7 on leave all month
    ctx = team_ctx(visits, {"E2": 3, "E3": 3, "E4": 3}, dict.fromkeys(visits, "east"))
    assert evaluate_inflation(ctx, ActivityInflation()) == []


# --- traffic_brushing ------------------------------------------------------------------------

NIGHT = datetime(2026, 7, 15, 18, 0, tzinfo=UTC)  # 02:00 on 16 July in Asia/Shanghai


def lead(
    record_id: int, at: datetime, *, campaign: str = "Summer", channel: str = "social", went_on: int = 0
) -> dict[str, Any]:
    return {
        "record_id": record_id,
        "value": d(1),
        "created_at": at,
        "channel": channel,
        "campaign": campaign,
        "went_on": went_on,
    }


def brushing_ctx(leads: list[dict[str, Any]], person: str = "M1") -> RuleContext:
    ctx = context(
        period="2026-07", values={"lead_captures": {person: len(leads)}}, details={"lead_captures": {person: leads}}
    )
    return replace(ctx, time_zone="Asia/Shanghai")


def test_a_burst_of_leads_that_never_went_on_names_exactly_the_burst():
    burst = [lead(i, NIGHT + timedelta(minutes=2 * i)) for i in range(1, 11)]  # 10 leads in 18 minutes
    ordinary = [
        lead(100, NIGHT - timedelta(hours=2)),
        lead(101, NIGHT + timedelta(hours=2), went_on=1),
        lead(102, NIGHT + timedelta(hours=9)),
    ]
    [found] = findings(evaluate_brushing(brushing_ctx(ordinary + burst), TrafficBrushing(min_leads=8, window_hours=3)))
    assert found.check == "traffic_brushing" and found.person_id == "M1"
    assert found.evidence == {
        "leads": tuple(range(1, 11))
    }  # the ordinary leads within reach of the window are left out
    assert found.figures["from"] == "2026-07-16 02:02" and found.figures["to"] == "2026-07-16 02:20"
    assert "none went on to MQL, SQL or a deal" in found.explanation


def test_a_burst_that_partly_went_on_is_ordinary_demand():
    burst = [lead(i, NIGHT + timedelta(minutes=i), went_on=1 if i <= 2 else 0) for i in range(1, 11)]
    assert evaluate_brushing(brushing_ctx(burst), TrafficBrushing(min_leads=8)) == []  # 20 % went on
    assert len(evaluate_brushing(brushing_ctx(burst), TrafficBrushing(min_leads=8, max_went_on_share="20%"))) == 1


def test_bursts_are_counted_per_campaign_and_only_within_the_window():
    mixed = [lead(i, NIGHT + timedelta(minutes=i), campaign="A" if i % 2 else "B") for i in range(1, 13)]  # six of each
    assert evaluate_brushing(brushing_ctx(mixed), TrafficBrushing(min_leads=8)) == []
    spread = [
        lead(i, NIGHT + timedelta(minutes=30 * i)) for i in range(1, 13)
    ]  # 12 leads over 5½ hours: 7 in any 3 h, 9 in 4 h
    assert evaluate_brushing(brushing_ctx(spread), TrafficBrushing(min_leads=8, window_hours=3)) == []
    assert len(evaluate_brushing(brushing_ctx(spread), TrafficBrushing(min_leads=8, window_hours=4))) == 1


def test_two_bursts_in_a_month_are_two_findings():
    first = [lead(i, NIGHT + timedelta(minutes=i)) for i in range(1, 9)]
    second = [lead(100 + i, NIGHT + timedelta(days=5, minutes=i)) for i in range(1, 9)]
    found = findings(evaluate_brushing(brushing_ctx(first + second), TrafficBrushing(min_leads=8)))
    assert [f.evidence["leads"] for f in found] == [tuple(range(1, 9)), tuple(range(101, 109))]


def test_brushing_reads_no_lead_rows_when_nobody_captured_enough_leads():
    def no_rows(metric: str) -> Any:
        raise AssertionError(f"{metric} rows were read")

    ctx = replace(context(period="2026-07", values={"lead_captures": {"M1": 49, "M2": 3}}), record_details=no_rows)
    assert evaluate_brushing(ctx, TrafficBrushing()) == []
