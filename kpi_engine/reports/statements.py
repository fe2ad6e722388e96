"""Statements outside the site: one person's or a whole period's, as standalone HTML pages or A4 PDFs."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ..errors import ConfigurationError
from ..store.database import Store
from .charts import render_svgs
from .i18n import locale_for
from .page_charts import ladder_svgs, statement_charts
from .pdf import html_to_pdf
from .period_data import PeriodData, load_period_data
from .plan_texts import PlanTexts, default_plan_folders
from .rendering import Renderer
from .roster import load_roster
from .site import prepare_statements, unit_of_metrics
from .statement import Statement

__all__ = ["FORMATS", "statements_for", "write_statement", "write_statements"]

FORMATS = ("html", "pdf")


def statements_for(
    store: Store, period: str, people: Sequence[str] | None = None, *, plan_folders: Sequence[Path] | None = None
) -> tuple[PeriodData, list[Statement]]:
    """The period's data and the statements of ``people`` (default: everyone paid or calculated in it).

    A person named who is unknown, or has nothing in the period, is an error saying so."""
    data = load_period_data(store, period)
    if people is not None:
        roster = load_roster(store, data.period)
        unknown = [p for p in people if p not in roster.people]
        if unknown:
            raise ConfigurationError(
                f"there is no person {unknown[0]!r}.", hint="people are named by their id, e.g. --person E1011"
            )
    return data, prepare_statements(store, data, people=people, plan_folders=plan_folders)


def write_statements(
    store: Store,
    data: PeriodData,
    statements: Sequence[Statement],
    folder: Path,
    *,
    fmt: str = "html",
    lang: str = "en",
    plan_folders: Sequence[Path] | None = None,
    chromium: str | None = None,
) -> list[Path]:
    """Write each statement as ``<person>-<period>.<fmt>`` in ``folder``; PDFs are printed by one browser."""
    if fmt not in FORMATS:
        raise ConfigurationError(f"{fmt!r} is not a statement format.", hint=f"use one of {', '.join(FORMATS)}")
    loc = locale_for(lang)
    roster = load_roster(store, data.period)
    plans = PlanTexts(plan_folders if plan_folders is not None else default_plan_folders())
    folder.mkdir(parents=True, exist_ok=True)
    charts = [statement_charts(s, loc) for s in statements]
    flat = iter(render_svgs([c for group in charts for c in group], loc))
    drawn = [[next(flat) for _ in group] for group in charts]
    with tempfile.TemporaryDirectory(prefix="kpi-statements-") as scratch:
        html_folder = folder if fmt == "html" else Path(scratch)
        renderer = Renderer(
            html_folder,
            loc,
            data,
            roster,
            plans,
            generated=datetime.now(UTC),
            standalone=True,
            unit_of=unit_of_metrics(),
        )
        pages = []
        for statement, svgs in zip(statements, drawn):
            name = f"{statement.person.page}-{data.period.label}.html"
            pages.append(
                renderer.page(name, "statement.html", statement=statement, ladders=ladder_svgs(statement, svgs))
            )
        if fmt == "html":
            return pages
        targets = [folder / page.with_suffix(".pdf").name for page in pages]
        html_to_pdf(list(zip(pages, targets)), chromium=chromium)
        return targets


def write_statement(
    store: Store,
    person: str,
    period: str,
    out: Path,
    *,
    fmt: str = "html",
    lang: str = "en",
    plan_folders: Sequence[Path] | None = None,
    chromium: str | None = None,
) -> Path:
    """Write one person's statement of ``period`` to the file ``out`` (HTML or PDF)."""
    data, statements = statements_for(store, period, [person], plan_folders=plan_folders)
    with tempfile.TemporaryDirectory(prefix="kpi-statement-") as scratch:
        [written] = write_statements(
            store, data, statements, Path(scratch), fmt=fmt, lang=lang, plan_folders=plan_folders, chromium=chromium
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(written.read_bytes())
    return out
