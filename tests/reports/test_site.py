"""The report site: every page written, opening from its folder with nothing fetched, names from a CRM
shown as text however hostile, and bad input answered in one sentence."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from kpi_engine import ConfigurationError, schema
from kpi_engine.reports import build_site
from kpi_engine.reports.roster import page_name
from tests.reports.conftest import CLOSED, TODAY, ledger_payable
from tests.support.saved_runs import add_people, save_lines

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://x","y")'


def _commission(bookings: str, attainment: str) -> dict:
    return {
        "rule_type": "tiered_commission",
        "basis": "attainment",
        "inputs": {"bookings": bookings, "target": "100000", "attainment": attainment},
        "lines": [{"lower": "0", "upper": "100000", "basis": bookings, "rate": "0.05", "amount": "1"}],
        "records": {"table": "deals", "ids": [1]},
        "explanation": [f"Measured bookings {bookings} by {SCRIPT}."],
    }


@pytest.fixture
def hostile_store(store):
    add_people(store, [("M1", "<b>boss</b>", "t1", None), ("E1", SCRIPT, "t1", "M1"), ("../E2", FORMULA, "t1", "M1")])
    save_lines(
        store,
        "sales-commission",
        "2026-11",
        [
            ("E1", "commission", "payout", None, _commission("120000", "1.2")),
            ("../E2", "commission", "payout", None, _commission("80000", "0.8")),
        ],
        amount=Decimal("5000.00"),
    )
    return store


def test_the_site_has_every_page_and_fetches_nothing(paid_year, tmp_path):
    store, _ = paid_year

    summary = build_site(store, CLOSED, tmp_path / "site", today=TODAY)

    names = {str(p.relative_to(tmp_path / "site")) for p in summary.pages}
    assert {"index.html", "leaderboard.html", "hr.html", "teams/index.html", "statements/index.html"} <= names
    with store.connect() as conn:
        managers = {m for (m,) in conn.execute(select(schema.people.c.manager_id)) if m}
    assert {n for n in names if n.startswith("teams/") and n != "teams/index.html"} == {
        f"teams/{m}.html" for m in managers
    }
    assert summary.statements == sum(1 for n in names if n.startswith("statements/")) - 1
    for page in summary.pages:
        html = page.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page  # no CDN, no remote asset
        assert "<script" not in html  # the pages run no script at all


def test_a_statement_page_shows_the_ledger_total(paid_year, tmp_path):
    store, _ = paid_year
    build_site(store, CLOSED, tmp_path / "site", today=TODAY)

    for page in (tmp_path / "site" / "statements").glob("E*.html"):
        value = re.search(r'data-figure="ledger-total" data-value="([-0-9.]+)"', page.read_text(encoding="utf-8"))
        assert value is not None
        assert Decimal(value[1]) == ledger_payable(store, page.stem, CLOSED).get("CNY", Decimal(0))


def test_hostile_names_are_text_on_every_page_and_in_every_chart(hostile_store, tmp_path):
    summary = build_site(hostile_store, "2026-11", tmp_path / "site", lang="zh", plan_folders=[])

    every = "".join(p.read_text(encoding="utf-8") for p in summary.pages)
    assert SCRIPT not in every and "<b>boss</b>" not in every
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in every
    assert "=HYPERLINK(&#34;http://x&#34;,&#34;y&#34;)" in every or "=HYPERLINK(&quot;" in every
    assert (tmp_path / "site" / "statements" / f"{page_name('../E2')}.html").is_file()
    assert not (tmp_path / "E2.html").exists() and not list(tmp_path.glob("site/E2*"))
    assert page_name("../E2") != "../E2" and "/" not in page_name("../E2")


def test_a_folder_holding_other_files_is_never_replaced(hostile_store, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me", encoding="utf-8")

    with pytest.raises(ConfigurationError, match="not a report site"):
        build_site(hostile_store, "2026-11", tmp_path, plan_folders=[])

    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me"


def test_building_again_replaces_the_earlier_site(hostile_store, tmp_path):
    build_site(hostile_store, "2026-11", tmp_path / "site", plan_folders=[])
    (tmp_path / "site" / "statements" / "stale.html").write_text("old", encoding="utf-8")

    build_site(hostile_store, "2026-11", tmp_path / "site", lang="zh", plan_folders=[])

    assert not (tmp_path / "site" / "statements" / "stale.html").exists()
    assert "销售人员提成单" in (tmp_path / "site" / "statements" / "E1.html").read_text(encoding="utf-8")
