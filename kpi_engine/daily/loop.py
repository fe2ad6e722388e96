"""``run_daily``: one pass of the daily loop, recorded in ``daily_runs``; safe to run again the same day.

Each step is idempotent: a sync reads what changed since its saved cursor, evaluating an open period
with the same data saves the same run, the site is rebuilt whole and swapped in, and the outbox sends
only what a channel has not had. A step that fails is recorded and the others still run (a CRM down
must not stop the alerts the store already has); the run then ends as failed, naming the steps.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import insert, update

from ..connect.connector import ConnectorContext, settings_schema
from ..connect.secrets import default_token_store, redact
from ..connect.sync import sync
from ..engine.evaluation import evaluate_through
from ..errors import KPIError
from ..periods import Period, parse_period
from ..plans.files import plans_in_force
from ..registry import get_registry
from ..store import schema as s
from ..store.database import Store
from .lock import daily_lock

__all__ = ["DAILY_RULE_TYPES", "DailySummary", "configured_connectors", "run_daily"]

DAILY_RULE_TYPES = frozenset({"alert", "pip_trigger"})


@dataclass
class DailySummary:
    period: str
    synced: dict[str, str] = field(default_factory=dict)  # connector -> status
    evaluated: list[str] = field(default_factory=list)
    site: str | None = None
    notified: dict[str, int] = field(default_factory=dict)  # channel -> events sent
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "synced": self.synced,
            "evaluated": self.evaluated,
            "site": self.site,
            "notified": self.notified,
            "failures": self.failures,
        }


def configured_connectors(environ: Mapping[str, str] | None = None) -> list[str]:
    """Connectors with at least one of their settings in the environment (``$KPI_<NAME>_<FIELD>``)."""
    environ = os.environ if environ is None else environ
    return sorted(
        name
        for name, connector in get_registry().connectors.items()
        if any(environ.get(row["variable"]) for row in settings_schema(connector))
    )


def _step(summary: DailySummary, name: str, action: Callable[[], Any]) -> Any:
    try:
        return action()
    except KPIError as exc:
        summary.failures.append(f"{name}: {redact(exc.message)}")
    except Exception as exc:  # noqa: BLE001 - one step's failure is recorded; the loop goes on with the next
        summary.failures.append(f"{name}: unexpected {type(exc).__name__}: {redact(str(exc))[:200]}")
    return None


def _sync_one(store: Store, name: str) -> str:
    connector_class = get_registry().connector(name)
    connector = connector_class.from_env(context=ConnectorContext(token_store=default_token_store(store)))
    try:
        return str(sync(store, connector).status)
    finally:
        connector.close()


def run_daily(
    store: Store,
    *,
    plans: Path,
    site: Path | None,
    notify_config: Path | None,
    period: Period | None = None,
    connectors: Sequence[str] | None = None,
    actor: str = "kpi-daily",
    today: date | None = None,
    lang: str = "en",
) -> DailySummary:
    """Sync, evaluate the open period's alert and PIP plans, refresh ``site``, notify; under the daily lock."""
    today = today or datetime.now(UTC).date()
    period = period or parse_period(f"{today.year}-{today.month:02d}")
    summary = DailySummary(period=period.label)
    with daily_lock(store):
        with store.begin() as conn:
            run_id = conn.execute(
                insert(s.daily_runs).values(
                    started_at=datetime.now(UTC), period=period.label, status="running", host=socket.gethostname()
                )
            ).inserted_primary_key
        assert run_id is not None
        for name in connectors if connectors is not None else configured_connectors():
            status = _step(summary, f"sync {name}", partial(_sync_one, store, name))
            summary.synced[name] = status or "failed"
        found = _step(summary, "plans", lambda: plans_in_force(plans, period)[0]) or []
        for plan in found:
            if {rule.type for rule in plan.plan.rules} & DAILY_RULE_TYPES:
                run = _step(
                    summary,
                    f"evaluate {plan.plan.id}",
                    partial(evaluate_through, store, plan, period, by=actor),
                )
                if run is not None:
                    summary.evaluated.append(plan.plan.id)
        if site is not None:
            from ..reports import build_site

            built = _step(summary, "report site", lambda: build_site(store, period.label, site, lang=lang, today=today))
            summary.site = str(site / "index.html") if built is not None else None
        if notify_config is not None:
            from ..notify import load_notify_config, notify

            def send() -> Any:
                return notify(store, load_notify_config(notify_config), today=today)

            sent = _step(summary, "notify", send)
            if sent is not None:
                summary.notified = {c.channel: c.sent for c in sent.channels}
                summary.failures += [f"notify {c.channel}: {e}" for c in sent.channels for e in c.errors]
        with store.begin() as conn:
            conn.execute(
                update(s.daily_runs)
                .where(s.daily_runs.c.id == run_id[0])
                .values(
                    finished_at=datetime.now(UTC),
                    status="failed" if summary.failures else "done",
                    summary=summary.as_dict(),
                    error="\n".join(summary.failures) or None,
                )
            )
    return summary
