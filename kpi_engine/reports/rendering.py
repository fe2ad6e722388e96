"""Pages from the templates: a Jinja2 environment that escapes everything it is given (names from a CRM
may be hostile), the helpers the templates call, and the files written."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .._version import __version__
from .i18n import Locale
from .page_charts import band_label, plan_label
from .period_data import PeriodData
from .plan_texts import PlanTexts
from .roster import Roster
from .standings import number
from .statement import Statement
from .teams import TeamPage

__all__ = ["NAV", "Renderer", "TEMPLATES"]

TEMPLATES = Path(__file__).with_name("templates")
NAV = (
    ("index.html", "company"),
    ("leaderboard.html", "leaderboard"),
    ("teams/index.html", "teams"),
    ("statements/index.html", "statements"),
    ("hr.html", "hr"),
)
_CURRENT = {
    "company.html": "company",
    "leaderboard.html": "leaderboard",
    "teams_index.html": "teams",
    "team.html": "teams",
    "statements_index.html": "statements",
    "statement.html": "statements",
    "hr.html": "hr",
}
_RATIO_NAMES = ("attainment", "rate", "share", "factor", "weight", "conversion")
_MONEY_NAMES = ("bookings", "target", "baseline", "challenge", "value", "amount", "paid", "now")


def environment() -> Environment:
    """Autoescaping on for every template: no value from the database reaches a page unescaped."""
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


class Renderer:
    """Writes pages of one site (or one standalone statement) into ``folder``."""

    def __init__(
        self,
        folder: Path,
        loc: Locale,
        data: PeriodData,
        roster: Roster,
        plans: PlanTexts,
        *,
        generated: datetime,
        teams: Sequence[TeamPage] = (),
        standalone: bool = False,
        unit_of: Callable[[str], str] | None = None,
    ) -> None:
        self.folder, self.loc, self.data, self.roster, self.plans = folder, loc, data, roster, plans
        self.env = environment()
        self.unit_of = unit_of or (lambda _name: "count")
        self.written: list[Path] = []
        self.common: dict[str, Any] = {
            "loc": loc,
            "t": loc.t,
            "version": __version__,
            "generated": generated,
            "period_name": loc.period(data.period.label),
            "nav": () if standalone else NAV,
            "teams": teams,
            "plan_name": self.plan_name,
            "run_status": lambda plan: data.runs[plan].status if plan in data.runs else "closed",
            "team_name": lambda team: roster.teams.get(team or "", team) if team else loc.t("no_team"),
            "band_label": lambda lower, upper: band_label(lower, upper, loc),
            "measure_value": self.measure_value,
            "evidence_value": self.evidence_value,
            "figure_value": self.figure_value,
            "metric_value": lambda value, metric, currency=None: self.measure_value(
                number(value), self.unit_of(str(metric)), currency
            ),
            "open_count": lambda team: sum(len(m.open_findings) for m in team.members),
            "number": number,
            "line_key": id,
            "ladders": {},
            "manager_name": None,
        }

    def plan_name(self, plan_id: str | None) -> str:
        return plan_label(plan_id or "", self.data, self.plans, self.loc)

    def measure_value(self, value: Decimal | None, unit: str, currency: str | None = None) -> str:
        if unit == "money":
            return self.loc.money(value, currency)
        if unit == "ratio":
            return self.loc.percent(value)
        return self.loc.number(value)

    def evidence_value(self, value: Any) -> str:
        found = number(value)
        if found is None:
            return "—" if value is None else str(value)
        return (
            self.loc.percent(found)
            if abs(found) < 10 and found != found.to_integral_value()
            else self.loc.number(found)
        )

    def figure_value(self, name: str, value: str, currency: str | None) -> str:
        found = number(value)
        if found is None:
            return value
        leaf = name.rsplit(".", 1)[-1]
        if any(word in leaf for word in _RATIO_NAMES):
            return self.loc.percent(found, 2)
        if any(word in leaf for word in _MONEY_NAMES):
            return self.loc.money(found, currency)
        return self.loc.number(found)

    def page(self, path: str, template: str, **context: Any) -> Path:
        target = self.folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        values = {**self.common, "root": "../" * path.count("/"), "current": _CURRENT.get(template)}
        if template == "statement.html":
            statement: Statement = context["statement"]
            manager = self.roster.people.get(statement.person.manager_id or "")
            values["manager_name"] = manager.name if manager else None
            values["title"] = f"{self.loc.t('statement_title')} · {statement.person.name}"
        else:
            values["title"] = self.loc.t(_CURRENT.get(template, "company"))
        html = self.env.get_template(template).render({**values, **context})
        target.write_text(html, encoding="utf-8")
        self.written.append(target)
        return target
