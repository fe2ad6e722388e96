"""The report site in a real browser: Debian's headless Chromium, driven by Playwright, opens every page
from its files with no console error, each chart draws the marks it should, a statement shows the
ledger's total, and a statement's PDF holds its text. Screenshots go to a temporary folder, or to
``$KPI_SCREENSHOTS`` (how docs/ screenshots are made).

Marked ``browser``: ``pytest -m 'not browser'`` leaves it out while working; CI runs it. Without Chromium
it FAILS, saying what to install: a browser test that skips proves nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from kpi_engine.reports import build_site
from kpi_engine.reports.company import ATTAINMENT_BANDS
from kpi_engine.reports.statements import write_statement
from tests.reports.conftest import CLOSED, TODAY, ledger_payable

pytestmark = pytest.mark.browser


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is not installed: apt-get install -y chromium (the report site is tested in it)")
    return found


@pytest.fixture(scope="module")
def site(paid_year, tmp_path_factory):
    store, _ = paid_year
    folder = tmp_path_factory.mktemp("browser") / "site"
    build_site(store, CLOSED, folder, today=TODAY)
    return store, folder


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield launched
        launched.close()


def _open(browser, page_file: Path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(page_file.resolve().as_uri(), wait_until="load")
    return page, problems


def _shots() -> Path | None:
    folder = os.environ.get("KPI_SCREENSHOTS")
    return Path(folder) if folder else None


# First: Playwright's sync driver runs one at a time in a thread, and the module's browser holds it after.
def test_a_statement_prints_to_a_pdf_whose_pages_hold_its_text(paid_year, tmp_path):
    store, _ = paid_year
    _chromium()
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm is not installed: apt-get install -y poppler-utils")
    pdf = write_statement(store, "E1011", CLOSED, tmp_path / "E1011.pdf", fmt="pdf", lang="zh")

    subprocess.run(["pdftoppm", "-r", "50", "-png", str(pdf), str(tmp_path / "page")], check=True)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout

    pages = sorted(tmp_path.glob("page-*.png"))
    assert pages and all(p.stat().st_size > 2_000 for p in pages)
    total = ledger_payable(store, "E1011", CLOSED)["CNY"]
    assert "销售人员提成单" in text and "E1011" in text
    assert f"{total:,.2f}" in text


def test_every_page_renders_without_a_console_error(site, browser, tmp_path):
    _, folder = site
    pages = sorted(folder.rglob("*.html"))
    assert len(pages) > 30
    for page_file in pages:
        page, problems = _open(browser, page_file)
        assert page.locator("h1").count() == 1, page_file
        assert problems == [], (page_file, problems)
        page.close()
    shots = _shots() or tmp_path
    for name in ("index.html", "leaderboard.html", "hr.html"):
        page, _ = _open(browser, folder / name)
        page.screenshot(path=str(shots / f"report-{name.replace('.html', '')}.png"), full_page=True)
        page.close()
    assert (shots / "report-index.png").stat().st_size > 10_000


def _marks(page, chart: str, mark: str) -> int:
    return page.locator(f'figure[data-chart="{chart}"] svg g.mark-{mark}.role-mark > path').count()


def test_charts_draw_the_marks_their_figures_call_for(site, browser):
    store, folder = site
    page, _ = _open(browser, folder / "index.html")
    assert _marks(page, "attainment-distribution", "rect") == len(ATTAINMENT_BANDS)
    assert _marks(page, "payouts-by-month", "rect") == 13  # the month and the twelve before it
    plans = page.locator("h2:has-text('Payouts by plan') + table tbody tr").count()
    assert _marks(page, "payouts-by-plan", "rect") == plans > 0
    page.close()

    statement, _ = _open(browser, folder / "statements" / "E1011.html")
    ladder = statement.locator('figure[data-chart="tiers"]').first
    assert ladder.locator("g.mark-rect.role-mark > path").count() == 3  # the plan's three tiers
    assert ladder.locator("g.mark-rule.role-mark > line").count() == 1  # where the person stands
    statement.close()


def test_a_statement_in_the_browser_shows_the_ledger_total(site, browser, tmp_path):
    store, folder = site
    checked = 0
    for page_file in sorted((folder / "statements").glob("E10*.html"))[:8]:
        page, _ = _open(browser, page_file)
        shown = page.locator('[data-figure="ledger-total"]').first.get_attribute("data-value")
        assert Decimal(shown or "") == ledger_payable(store, page_file.stem, CLOSED).get("CNY", Decimal(0))
        text = page.locator('[data-figure="total-line"]').first.inner_text()
        assert Decimal(re.sub(r"[^0-9.-]", "", text)) == Decimal(shown or "")
        if checked == 0:
            page.screenshot(path=str((_shots() or tmp_path) / "report-statement.png"), full_page=True)
        checked += 1
        page.close()
    assert checked == 8
