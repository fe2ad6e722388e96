"""``build_site``: the period's reports as a static site that opens from its folder, offline.

Pages: the company (``index.html``), the leaderboard, a page per manager's team, a statement per person
and HR's page. Every value from the database is escaped by the templates (Jinja2 with autoescaping),
charts are inline SVG, and the stylesheet is a file of the site: nothing is fetched when a page opens.
The site is written to a folder beside the target and then swapped in, so a reader never sees half a
site, and a folder that holds anything but an earlier site is never replaced.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ..findings.store import list_findings
from ..periods import parse_period
from ..registry import get_registry
from ..store.database import Store
from .charts import ChartSpec, render_svgs
from .company import build_company
from .hr import build_hr_page, finding_refs
from .i18n import Locale, locale_for
from .leaderboard import build_leaderboard
from .page_charts import company_charts, ladder_svgs, leaderboard_charts, statement_charts, team_charts
from .payouts import payouts_of
from .period_data import PeriodData, load_period_data, outcome_traces
from .plan_texts import PlanTexts, default_plan_folders
from .records import RecordBook
from .rendering import Renderer
from .roster import load_roster
from .statement import Statement, build_statements, records_named
from .teams import build_team_pages

__all__ = ["MARKER", "SiteSummary", "build_site", "check_target", "prepare_statements", "unit_of_metrics"]

MARKER = ".kpi-report"
"""A file every site holds: a folder with it may be replaced by a newer site, any other folder never."""


@dataclass
class SiteSummary:
    """What ``build_site`` wrote and how long it took."""

    folder: Path
    period: str
    lang: str
    pages: list[Path] = field(default_factory=list)
    statements: int = 0
    charts: int = 0
    seconds: float = 0.0  # float ok: elapsed time


def unit_of_metrics() -> Callable[[str], str]:
    """``unit(name)``: the registered metric's unit (money, count, ratio …); attainment is a ratio."""
    metrics = get_registry().metrics

    def unit(name: str) -> str:
        metric = metrics.get(name)
        return str(metric.unit) if metric is not None else ("ratio" if name == "attainment" else "count")

    return unit


def prepare_statements(
    store: Store,
    data: PeriodData,
    *,
    people: Sequence[str] | None = None,
    plan_folders: Sequence[Path] | None = None,
) -> list[Statement]:
    """Statements of ``people`` (default: everyone paid or calculated in the period)."""
    roster = load_roster(store, data.period)
    plans = PlanTexts(plan_folders if plan_folders is not None else default_plan_folders())
    return _statements(store, data, roster, plans, people)[0]


def _statements(
    store: Store,
    data: PeriodData,
    roster: Any,
    plans: PlanTexts,
    people: Sequence[str] | None,
    extra_refs: Sequence[Any] = (),
) -> tuple[list[Statement], RecordBook]:
    wanted = set(people) if people is not None else None
    entry_outcomes = [
        oid
        for eid, (oid, _) in data.entry_sources.items()
        if oid is not None and (wanted is None or any(e.id == eid and e.person_id in wanted for e in data.entries))
    ]
    traces = outcome_traces(store, entry_outcomes)
    refs = [ref for trace in traces.values() for ref in records_named(trace)]
    refs += [
        ref
        for line in data.lines
        if line.kind in ("payout", "held") and (wanted is None or line.person_id in wanted)
        for ref in records_named(line.trace)
    ]
    book = RecordBook(store, [*refs, *extra_refs])
    return build_statements(data, roster, plans, book, traces, people), book


def check_target(folder: Path) -> None:
    """Refuse a target that is a file, or a folder holding anything but an earlier site."""
    if folder.exists():
        if not folder.is_dir():
            raise ConfigurationError(f"{folder} is a file, not a folder for the site.", hint="give another --out")
        if any(folder.iterdir()) and not (folder / MARKER).is_file():
            raise ConfigurationError(
                f"{folder} holds files that are not a report site; it is left as it is.",
                hint="give an empty or new folder with --out",
            )


def _replace(folder: Path, built: Path) -> None:
    check_target(folder)
    if folder.exists():
        old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
        folder.rename(old)
        built.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        built.rename(folder)


def build_site(
    store: Store,
    period: str,
    out: Path,
    *,
    lang: str = "en",
    plan_folders: Sequence[Path] | None = None,
    today: date | None = None,
) -> SiteSummary:
    """Write the period's site into ``out`` (created, or replacing an earlier site there)."""
    started = time.perf_counter()
    loc: Locale = locale_for(lang)
    label = parse_period(period).label
    data = load_period_data(store, label, today=today)
    out = Path(out)
    check_target(out)
    roster = load_roster(store, data.period)
    plans = PlanTexts(plan_folders if plan_folders is not None else default_plan_folders())
    findings = [f for f in list_findings(store) if parse_period(f.period).start <= data.period.start]
    statements, book = _statements(store, data, roster, plans, None, finding_refs(findings))
    payouts = payouts_of(data)
    unit_of = unit_of_metrics()
    board = build_leaderboard(data, roster, unit_of)
    company = build_company(store, data, roster, payouts)
    teams = build_team_pages(store, data, roster, payouts, findings)
    hr = build_hr_page(data, roster, findings, book)

    charts: dict[str, list[ChartSpec]] = {
        "index": company_charts(company, roster, plans, data, loc),
        "leaderboard": leaderboard_charts(board, loc),
    }
    for team in teams:
        charts[f"team:{team.page}"] = team_charts(team, loc)
    for statement in statements:
        charts[f"statement:{statement.person.page}"] = statement_charts(statement, loc)
    every = [c for group in charts.values() for c in group]
    drawn = iter(render_svgs(every, loc))
    svgs = {key: [next(drawn) for _ in group] for key, group in charts.items()}

    built = out.with_name(f".{out.name}.new-{uuid.uuid4().hex[:8]}")
    built.mkdir(parents=True)
    try:
        renderer = Renderer(built, loc, data, roster, plans, generated=datetime.now(UTC), teams=teams, unit_of=unit_of)
        renderer.page("index.html", "company.html", company=company, charts=zip(charts["index"], svgs["index"]))
        renderer.page(
            "leaderboard.html",
            "leaderboard.html",
            board=board,
            charts=zip(charts["leaderboard"], svgs["leaderboard"]),
        )
        renderer.page("hr.html", "hr.html", hr=hr)
        renderer.page("teams/index.html", "teams_index.html")
        for team in teams:
            key = f"team:{team.page}"
            renderer.page(f"teams/{team.page}.html", "team.html", team=team, charts=zip(charts[key], svgs[key]))
        renderer.page("statements/index.html", "statements_index.html", statements=statements)
        for statement in statements:
            key = f"statement:{statement.person.page}"
            renderer.page(
                f"statements/{statement.person.page}.html",
                "statement.html",
                statement=statement,
                ladders=ladder_svgs(statement, svgs[key]),
            )
        (built / MARKER).write_text(f"{label} {lang}\n", encoding="utf-8")
        pages = renderer.written
        _replace(out, built)
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    return SiteSummary(
        folder=out,
        period=label,
        lang=lang,
        pages=[out / p.relative_to(built) for p in pages],
        statements=len(statements),
        charts=len(every),
        seconds=time.perf_counter() - started,
    )
