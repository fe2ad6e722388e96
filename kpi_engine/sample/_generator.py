"""Generate a deterministic sample company into a store: a year of CRM facts with planted gaming cases."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, Integer, func, select, text

from ._aftersales import build_collections, build_renewals, build_scores, build_surveys, build_targets
from ._calendar import month_range
from ._company import TABLES, Company
from ._deals import RenewalPlan, build_deals, plan_renewals
from ._digital import build_content, build_service, build_web_traffic
from ._funnel import build_activities, build_campaigns, build_leads, build_spend
from ._model import PlantedCase, SampleSummary
from ._organisation import build_customers, build_organisation
from ._planted import plant_gaming_patterns

__all__ = ["generate_sample_company"]

Progress = Callable[[str, int, int], None]


def generate_sample_company(
    conn: Connection,
    *,
    seed: int = 2026,
    end_month: str = "2026-10",
    months: int = 12,
    clean: bool = False,
    progress: Progress | None = None,
) -> SampleSummary:
    """Write a sample company's year of data into an open transaction and return what was planted.

    Everything comes from ``random.Random(seed)``: the same seed writes the same rows and ground truth
    into an empty store. ``clean=True`` writes the same company without any gaming pattern.
    """
    window = month_range(end_month, months)
    if not clean and len(window) < 5:
        raise ValueError("planting the gaming patterns needs at least 5 months; use clean=True for shorter samples")
    company = Company(seed, window, clean, _first_ids(conn))
    plans: list[RenewalPlan] = []
    cases: list[PlantedCase] = []

    def renewals_and_deals() -> None:
        plans.extend(plan_renewals(company))
        build_deals(company, plans)

    def planted() -> None:
        if not clean:
            cases.extend(plant_gaming_patterns(company, plans))

    def _each(*builders: Callable[[Company], None]) -> None:
        for build in builders:
            build(company)

    steps: list[tuple[str, Callable[[], None]]] = [
        ("organisation", lambda: build_organisation(company)),
        ("customers", lambda: build_customers(company)),
        ("deals", renewals_and_deals),
        ("campaigns and spend", lambda: _each(build_campaigns, build_spend)),
        ("leads", lambda: build_leads(company)),
        ("activities", lambda: build_activities(company)),
        ("collections", lambda: build_collections(company)),
        ("renewals", lambda: build_renewals(company, plans)),
        ("surveys and scores", lambda: _each(build_surveys, build_scores)),
        ("targets", lambda: build_targets(company)),
        ("gaming patterns", planted),
        ("web traffic and content", lambda: _each(build_web_traffic, build_content)),
        ("support and training", lambda: build_service(company)),
    ]
    total = len(steps) + 1
    for done, (name, step) in enumerate(steps):
        if progress:
            progress(name, done, total)
        step()
    if progress:
        progress("writing", len(steps), total)
    counts = _write(conn, company)
    if progress:
        progress("done", total, total)
    return SampleSummary(seed, window[0].label, window[-1].label, counts, tuple(cases))


def _integer_id_tables() -> list[str]:
    return [t.name for t in TABLES if isinstance(t.c.id.type, Integer)]


def _first_ids(conn: Connection) -> dict[str, int]:
    """The next free integer id of every table the generator fills (1 in an empty store)."""
    table_by_name = {t.name: t for t in TABLES}
    return {
        name: int(conn.execute(select(func.coalesce(func.max(table_by_name[name].c.id), 0))).scalar_one()) + 1
        for name in _integer_id_tables()
    }


def _write(conn: Connection, company: Company) -> dict[str, int]:
    """Bulk-insert every table, parents first; on PostgreSQL move the id sequences past the new rows."""
    counts: dict[str, int] = {}
    for table in TABLES:
        rows = company.rows[table.name]
        if rows:
            conn.execute(table.insert(), rows)
        counts[table.name] = len(rows)
    if conn.dialect.name == "postgresql":
        for name in _integer_id_tables():
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), (SELECT MAX(id) FROM {name}))"
                    f" WHERE EXISTS (SELECT 1 FROM {name})"
                )
            )
    return counts
