"""Which charts each page draws, from the figures the page shows."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from .charts import Bar, ChartSpec, bar_chart, column_chart, lines_chart, tier_chart
from .company import Company
from .i18n import Locale
from .leaderboard import Leaderboard
from .payouts import MANUAL
from .period_data import PeriodData
from .plan_texts import PlanTexts
from .roster import Roster
from .statement import Statement, StatementLine
from .teams import TeamPage

__all__ = ["company_charts", "ladder_svgs", "leaderboard_charts", "statement_charts", "team_charts"]

TOP = 10


def plan_label(plan_id: str, data: PeriodData, plans: PlanTexts, loc: Locale) -> str:
    if plan_id == MANUAL:
        return loc.t("manual_adjustments")
    run = data.runs.get(plan_id)
    return (plans.name(run.plan_hash) if run else None) or plan_id


def band_label(lower: Decimal, upper: Decimal | None, loc: Locale) -> str:
    if upper is None:
        return f"≥ {loc.percent(lower, 0)}"
    return f"{loc.percent(lower, 0)}–{loc.percent(upper, 0)}"


def company_charts(
    company: Company, roster: Roster, plans: PlanTexts, data: PeriodData, loc: Locale
) -> list[ChartSpec]:
    charts: list[ChartSpec | None] = [
        bar_chart(
            "payouts-by-plan",
            [Bar(plan_label(p, data, plans, loc), amount) for p, amount, _ in company.by_plan],
            loc,
            title=loc.t("payouts_by_plan"),
            axis=company.currency,
        ),
        bar_chart(
            "payouts-by-team",
            [Bar(roster.teams.get(team or "", team or loc.t("no_team")), amount) for team, amount in company.by_team],
            loc,
            title=loc.t("payouts_by_team"),
            axis=company.currency,
        ),
        column_chart(
            "attainment-distribution",
            [Bar(band_label(lo, hi, loc), Decimal(n), highlight=lo >= 1) for (lo, hi), n in company.attainment_bands],
            loc,
            title=loc.t("attainment_distribution"),
            axis=loc.t("people"),
            fmt="d",
        ),
        column_chart(
            "payouts-by-month",
            [Bar(m.label, m.payouts, highlight=i == len(company.months) - 1) for i, m in enumerate(company.months)],
            loc,
            title=loc.t("month_against_last_twelve"),
            axis=company.currency,
        ),
    ]
    return [c for c in charts if c is not None]


def leaderboard_charts(board: Leaderboard, loc: Locale) -> list[ChartSpec]:
    charts = []
    for one in board.boards:
        top = [(r, m) for r, m in one.rows if r.place <= TOP]
        chart = bar_chart(
            f"board-{one.measure}",
            [Bar(m.name, r.value, highlight=r.place <= 3) for r, m in top],
            loc,
            title=loc.t("top_by", measure=loc.t(one.measure)),
            axis=one.currency or loc.t(one.measure),
            fmt=".0%" if one.unit == "ratio" else ",.0f",
        )
        if chart is not None:
            charts.append(chart)
    return charts


def team_charts(team: TeamPage, loc: Locale) -> list[ChartSpec]:
    measured = [m for m in team.members if m.attainment is not None]
    charts: list[ChartSpec | None] = [
        bar_chart(
            "team-attainment",
            [Bar(m.member.name, m.attainment or Decimal(0), highlight=(m.attainment or 0) >= 1) for m in measured],
            loc,
            title=loc.t("attainment"),
            axis=loc.t("attainment"),
            fmt=".0%",
        ),
        lines_chart(
            "team-trend",
            {m.member.name: m.trend for m in measured},
            loc,
            title=loc.t("trend"),
            axis=loc.t("attainment"),
        ),
    ]
    return [c for c in charts if c is not None]


def _with_ladder(statement: Statement) -> list[StatementLine]:
    return [line for line in (*statement.lines, *statement.calculated) if line.ladder is not None]


def statement_charts(statement: Statement, loc: Locale) -> list[ChartSpec]:
    return [
        tier_chart(line.ladder, loc, title=loc.t("tiers_and_rates"))
        for line in _with_ladder(statement)
        if line.ladder is not None
    ]


def ladder_svgs(statement: Statement, svgs: Sequence[str]) -> dict[int, str]:
    """The drawn ladder of each line that has one, by the line's ``id()``, for the statement's template."""
    return {id(line): svg for line, svg in zip(_with_ladder(statement), svgs)}
