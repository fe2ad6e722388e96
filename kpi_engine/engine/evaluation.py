"""Evaluating plans: the people in scope, the rules in dependency order over the facts, the run saved whole.

The steps, each in a module of its own: ``facts`` answers what the rules ask of the database,
``runner`` runs the rules over any facts, ``kpi_engine.store.runs`` saves the run. This module
orders them inside one transaction per call, under a lock per plan and period.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection, select, update

from .._version import __version__
from ..errors import EvaluationError, PeriodsNotEvaluated
from ..identity import acting_user
from ..ledger.adjustments import propose_adjustments
from ..ledger.lifecycle import ensure_open, period_lock, record_evaluation
from ..ledger.prior_periods import prior_period_adjustments, proposals_of
from ..money import MONEY_SCALE, money_text
from ..periods import Period, parse_period
from ..plans.files import load_plan_for
from ..plans.model import LoadedPlan
from ..registry import Registry, get_registry
from ..store import schema as s
from ..store.database import Store
from ..store.runs import EvaluationRun, Outcome, run_from_row, save_run
from ..trace import LazyTrace
from .collector import collector_paused
from .facts import SharedFacts, StoreFacts, data_watermark
from .runner import run_rules

__all__ = ["ProgressCallback", "evaluate", "evaluate_plans", "evaluate_through"]

ProgressCallback = Callable[[str, int, int], None]
"""``progress(step, done, total)``: what an evaluation reports as it goes (the CLI draws a bar)."""

_MONEY_STEP = Decimal(1).scaleb(-MONEY_SCALE)
_MAX_CATCH_UPS = 8  # rounds of "evaluate the earlier periods first" before evaluate_through gives up


def evaluate(
    store: Store,
    plan: LoadedPlan | str | Path,
    period: Period | str,
    *,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
    by: str | None = None,
) -> EvaluationRun:
    """Evaluate ``plan`` for ``period`` and save the run, replacing an earlier run of the open period.

    ``plan`` is a loaded plan, a plan file, a folder of plan versions or a plan id (searched in ``rules/``);
    for a folder or an id the version in force in the period is used. ``by`` is who evaluates (default:
    ``$KPI_USER``, else the OS user); the period becomes *calculated* (``kpi_engine.ledger``).
    """
    return evaluate_plans(store, [plan], period, registry=registry, progress=progress, by=by)[0]


def evaluate_through(
    store: Store,
    plan: LoadedPlan | str | Path,
    period: Period | str,
    *,
    since: Period | str | None = None,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
    by: str | None = None,
) -> EvaluationRun:
    """Evaluate ``period`` after the earlier periods it depends on; returns the run of ``period``.

    A plan whose rules carry state from one period to the next (a draw's balance, a PIP observation, a
    hold released later) replays its saved outcomes of earlier periods, and an earlier period that was
    never evaluated stops an evaluation with ``PeriodsNotEvaluated``. This evaluates the periods from
    the first one missing, in order, then ``period``. With ``since``, every period from ``since`` on
    is evaluated (again), in order: what checks that compare a person's months need. Periods in
    which a loaded plan is not in force are skipped, ``period`` excepted.
    """
    registry = registry or get_registry()
    last = period if isinstance(period, Period) else parse_period(period)
    first = since if isinstance(since, Period) or since is None else parse_period(since)
    step = progress or (lambda *_: None)
    for _ in range(_MAX_CATCH_UPS):
        periods = _periods_from(first, last) if first is not None else [last]
        try:
            run = None
            for index, each in enumerate(periods):
                if each != last and isinstance(plan, LoadedPlan) and not plan.in_force(each):
                    continue
                step(f"period {each.label}", index, len(periods))
                run = evaluate(store, plan, each, registry=registry, by=by)
            step("done", len(periods), len(periods))
            assert run is not None  # the last period is always evaluated
            return run
        except PeriodsNotEvaluated as missing:
            if first is not None and missing.first_missing >= first:
                raise  # evaluated in order from there already: something else is wrong, say so
            first = missing.first_missing
    raise EvaluationError(
        f"plan {getattr(plan, 'id', plan)!s} kept asking for earlier periods; gave up after {_MAX_CATCH_UPS} rounds.",
        hint="evaluate the earlier periods one by one to see which one fails",
    )


def _periods_from(first: Period, last: Period) -> list[Period]:
    """``first`` to ``last`` in order, in ``last``'s grain."""
    periods = [last]
    while periods[-1].start > first.start:
        periods.append(periods[-1].previous())
    return list(reversed(periods))


def evaluate_plans(
    store: Store,
    plans: Sequence[LoadedPlan | str | Path],
    period: Period | str,
    *,
    registry: Registry | None = None,
    progress: ProgressCallback | None = None,
    by: str | None = None,
) -> list[EvaluationRun]:
    """Evaluate several plans for one period in one transaction and save a run for each.

    Each metric, target and the organisation are read once for all the plans (a commission plan, the
    scorecards and the bonuses all read bookings). All or nothing: when one plan cannot be evaluated,
    no run of any of them is saved. Each run is what ``evaluate`` of that plan alone would save.
    """
    registry = registry or get_registry()
    actor = acting_user(by)
    the_period = period if isinstance(period, Period) else parse_period(period)
    loaded_plans = [p if isinstance(p, LoadedPlan) else load_plan_for(p, the_period, registry=registry) for p in plans]
    seen: dict[str, LoadedPlan] = {}
    for loaded in loaded_plans:
        if not loaded.in_force(the_period):
            raise EvaluationError(
                f"plan {loaded.id!r} version {loaded.plan.version} is not in force in {the_period.label}.",
                hint="check the plan's effective dates or pick another period",
            )
        if loaded.id in seen:
            raise EvaluationError(
                f"plan {loaded.id!r} is given twice ({seen[loaded.id].path} and {loaded.path}).",
                hint="give each plan once",
            )
        seen[loaded.id] = loaded
    step = progress or (lambda *_: None)
    total_steps = sum(len(loaded.plan.rules) + 2 for loaded in loaded_plans)

    def evaluate_all(conn: Connection) -> list[EvaluationRun]:
        shared = SharedFacts()
        runs: list[EvaluationRun] = []
        done = 0
        for loaded in loaded_plans:

            def plan_step(label: str, n: int, _total: int, base: int = done) -> None:
                step(label, base + n, total_steps)

            runs.append(_evaluate_in(conn, loaded, the_period, registry, shared, plan_step, actor))
            done += len(loaded.plan.rules) + 2
        return runs

    # Two evaluations of one plan and period never interleave, and each reads one state of the facts,
    # so the watermark saved with a run describes exactly what it read.
    locks = [period_lock(plan_id, the_period.label) for plan_id in seen]
    return store.write_in_snapshot(evaluate_all, locks=locks)


def _check_grain(loaded: LoadedPlan, period: Period) -> None:
    """A plan pays by its own period: a monthly plan asked for a quarter is refused, naming its months."""
    grain = loaded.plan.period
    if grain == "range" or period.grain == grain:
        return
    inside: list[str] = []
    if grain in ("month", "quarter", "week"):
        step = parse_period(_first_label(period.start, grain))
        while step.start < period.end and len(inside) < 60:
            if step.end <= period.end and step.start >= period.start:
                inside.append(step.label)
            step = _following(step)
    shown = ", ".join(inside[:12]) + (" …" if len(inside) > 12 else "")
    raise EvaluationError(
        f"plan {loaded.id!r} pays by {grain}, and {period.label} is a {period.grain}; it is evaluated one {grain} "
        "at a time.",
        hint=f"evaluate {shown} one by one, in order" if inside else f"give a {grain}, e.g. kpi evaluate --period ...",
    )


def _first_label(day: date, grain: str) -> str:
    if grain == "month":
        return f"{day.year}-{day.month:02d}"
    if grain == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    iso = day.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def _following(period: Period) -> Period:
    """The period of the same grain right after this one."""
    day = period.end
    return parse_period(_first_label(day, period.grain))


def _evaluate_in(
    conn: Connection,
    loaded: LoadedPlan,
    the_period: Period,
    registry: Registry,
    shared: SharedFacts,
    step: ProgressCallback,
    actor: str,
) -> EvaluationRun:
    """One plan's evaluation inside the caller's transaction (its lock already held); the run as saved."""
    total_steps = len(loaded.plan.rules) + 2
    ensure_open(conn, loaded.id, the_period)
    _check_grain(loaded, the_period)
    facts = StoreFacts(conn, loaded, registry, shared)
    step("people in scope", 1, total_steps)
    with collector_paused():  # traces are written as they are read, here: in the same pause as the rules
        _, outcomes = run_rules(
            loaded,
            the_period,
            facts,
            registry,
            on_rule=lambda rule, done, _n: step(f"rule {rule}", 1 + done, total_steps),
        )

        def recompute(closed: Period, still_won: Sequence[int] = ()) -> list[Outcome]:
            if not still_won:
                return run_rules(loaded, closed, StoreFacts(conn, loaded, registry, shared), registry)[1]
            # Those deals as the period paid them: won, inside a savepoint rolled back at once, with facts
            # of their own (nothing read here may be shared with what reads the deals as they are).
            with conn.begin_nested() as savepoint:
                try:
                    deals = s.deals
                    for start in range(0, len(still_won), 500):
                        chunk = list(still_won[start : start + 500])
                        conn.execute(update(deals).where(deals.c.id.in_(chunk)).values(status="won"))
                    return run_rules(loaded, closed, StoreFacts(conn, loaded, registry, SharedFacts()), registry)[1]
                finally:
                    savepoint.rollback()

        adjustments = prior_period_adjustments(conn, loaded, the_period, registry, recompute)
        if adjustments and loaded.plan.pay_cycle.prior_period_adjustments == "review":
            propose_adjustments(conn, proposals_of(adjustments, loaded.id, the_period, actor))
        elif adjustments:
            outcomes = [*outcomes, *adjustments]
        traces = [json.dumps(dict(o.trace), default=str) for o in outcomes]  # each trace is encoded once, as saved
    watermark = data_watermark(conn, facts.tables_read)
    # Same plan, period, data and results -> same id; any difference in the results -> a new id.
    digest = hashlib.sha256()
    for o, trace in zip(outcomes, traces, strict=True):
        amount = "" if o.amount is None else money_text(o.amount)
        status = f"{o.status or ''}|{int(o.attention)}|{o.ledger_kind or ''}|{o.component or ''}"
        digest.update(f"{o.person_id}|{o.rule_id}|{o.kind}|{amount}|{o.currency}|{status}|{trace}\n".encode())
    run_id = hashlib.sha256(
        f"{loaded.id}|{the_period.label}|{loaded.plan_hash}|{watermark}|{digest.hexdigest()}".encode()
    ).hexdigest()[:16]
    run = EvaluationRun(
        id=run_id,
        plan_id=loaded.id,
        plan_version=loaded.plan.version,
        plan_hash=loaded.plan_hash,
        period=the_period.label,
        time_zone=loaded.plan.time_zone,
        data_watermark=watermark,
        engine_version=__version__,
        status="open",
        created_at=datetime.now(UTC),
        outcomes=tuple(outcomes),
        evaluated_by=actor,
    )
    save_run(conn, run, the_period, traces, facts.tables_read)
    record_evaluation(conn, loaded.id, the_period, run.id, actor, run.created_at)
    step("saved", total_steps, total_steps)
    row = conn.execute(select(s.evaluation_runs).where(s.evaluation_runs.c.id == run.id)).one()
    # What was saved is what the caller sees: each amount as the column gives it back, each trace decoded from
    # the text that was stored (when it is read); reading the lines back would cost a query and a decode per line.
    # (the column keeps MONEY_SCALE places, and saving refused any finer amount, so quantizing is exact)
    saved = tuple(
        Outcome(
            o.person_id,
            o.rule_id,
            o.kind,
            None if o.amount is None else o.amount.quantize(_MONEY_STEP),
            o.currency,
            LazyTrace(json.loads, trace),
            o.status,
            o.attention,
            o.ledger_kind,
            o.component,
        )
        for o, trace in zip(outcomes, traces, strict=True)
    )
    return run_from_row(row, saved)
