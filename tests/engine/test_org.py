"""The organisation as of a day: assignments over time, the team tree, and the people table as fallback."""

from __future__ import annotations

from datetime import date

from kpi_engine import PersonInfo, parse_period
from kpi_engine.engine.organisation import Assignment, Organisation, TeamLink

PEOPLE = [
    PersonInfo("BOSS", "Boss", role="manager", team_id="sales"),
    PersonInfo("M1", "East manager", role="manager", team_id="east", manager_id="BOSS"),
    PersonInfo("M2", "North manager", role="manager", team_id="north", manager_id="BOSS"),
    PersonInfo("R1", "Mover", role="sales_rep", team_id="north", manager_id="M2", hire_date=date(2025, 1, 1)),
    PersonInfo("R2", "Leaver", role="sales_rep", team_id="east", manager_id="M1", leave_date=date(2026, 10, 10)),
]
MOVES = [
    Assignment("R1", "east", "M1", "sales_rep", date(2025, 1, 1), date(2026, 10, 15)),
    Assignment("R1", "north", "M2", "sales_rep", date(2026, 10, 15)),
]
TREE = [
    TeamLink("east", "sales", date(2020, 1, 1)),
    TeamLink("north", "sales", date(2020, 1, 1)),
    TeamLink("sales", None, date(2020, 1, 1)),
]


def org() -> Organisation:
    return Organisation(PEOPLE, MOVES, TREE)


def test_a_move_within_the_period_is_seen_on_each_day():
    o = org()
    assert o.team_of("R1", date(2026, 10, 14)) == "east" and o.team_of("R1", date(2026, 10, 15)) == "north"
    assert o.managers_above("R1", date(2026, 10, 1)) == ["M1", "BOSS"]
    assert o.managers_above("R1", date(2026, 10, 20)) == ["M2", "BOSS"]


def test_people_without_assignments_fall_back_to_the_people_table():
    assert org().team_of("M1", date(2026, 10, 1)) == "east" and org().manager_of("M1", date(2026, 10, 1)) == "BOSS"


def test_members_include_sub_teams_and_only_people_employed_that_day():
    o = org()
    assert o.members("sales", date(2026, 10, 5)) == ["BOSS", "M1", "M2", "R1", "R2"]
    assert o.members("east", date(2026, 10, 20)) == ["M1"]  # R1 moved, R2 left
    assert o.members("sales", date(2026, 10, 20), with_subteams=False) == ["BOSS"]


def test_as_of_the_period_is_the_last_day_employed_in_it():
    infos = org().in_period(parse_period("2026-10"))
    assert infos["R1"].team_id == "north" and infos["R1"].manager_id == "M2"
    assert infos["R2"].team_id == "east"  # seen as of their last day, 9 October
    assert "R2" not in org().in_period(parse_period("2026-11"))
