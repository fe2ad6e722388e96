"""What the commands print about runs: a line per plan, a table per run, every line with its reasons."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from ..money import money_text, plain
from ..render import render
from ..store import schema as s
from ..store.database import Store
from ..store.runs import EvaluationRun
from ..trace import TraceView

__all__ = ["echo_outcomes", "plan_summary", "print_run_summary"]


def plan_summary(run: EvaluationRun) -> str:
    """One line per plan: payout total, scores, recommendations, alerts and findings."""
    kinds: dict[str, list[Any]] = {}
    for o in run.outcomes:
        kinds.setdefault(o.kind, []).append(o)
    parts = []
    if "payout" in kinds:
        paid = [o for o in kinds["payout"] if o.amount]
        currency = next((o.currency for o in paid), "")
        parts.append(f"{len(paid)} paid, total {Decimal(money_text(run.total())):,} {currency}".rstrip())
    if "held" in kinds:
        held = sum((o.amount for o in kinds["held"] if o.amount is not None), Decimal(0))
        parts.append(
            f"{len(kinds['held'])} held pending review, {Decimal(money_text(held)):,} "
            f"{kinds['held'][0].currency or ''}".rstrip()
        )
    if "score" in kinds:
        scores = [o.amount for o in kinds["score"] if o.amount is not None]
        if scores:
            average = sum(scores, Decimal(0)) / len(scores)
            parts.append(f"{len(scores)} scores, average {average.quantize(Decimal('0.01'))}")
    for kind, label in (
        ("recommendation", "recommendation(s) for HR review"),
        ("alert", "alert line(s)"),
        ("finding", "finding(s)"),
    ):
        if kind in kinds:
            people = sorted({o.person_id for o in kinds[kind] if o.attention})
            shown = f" ({', '.join(people[:6])}{' …' if len(people) > 6 else ''})" if people else ""
            parts.append(
                f"{len(people)} {label} raised or firing{shown}" if kind != "finding" else f"{len(kinds[kind])} {label}"
            )
    return (
        f"{run.plan_id} {run.plan_version} · run {run.id}: "
        + ("; ".join(parts) or "nothing raised, nothing paid")
        + "."
    )


def _print_notice_summary(store: Store, run: EvaluationRun) -> None:
    """A run without payouts (PIP recommendations, alerts, scores): one row per line with its status and reason."""
    rows = [
        {
            **row,
            "status": o.status,
            "why": (row["why"] or "")[:110] + ("…" if len(row["why"] or "") > 110 else ""),
        }
        for row, o in zip(_outcome_rows(store, run), run.outcomes, strict=True)
    ]
    click.echo(f"Plan {run.plan_id} {run.plan_version} · period {run.period} ({run.time_zone}) · run {run.id}")
    if rows:
        click.echo(render(rows, ["person", "name", "team", "rule", "kind", "status", "why"]))
        click.echo()
    click.echo(plan_summary(run))
    click.echo("Any person's reasons: kpi explain --run RUN --person ID")


def _people_names(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.connect() as conn:
        return {
            pid: (name, team)
            for pid, name, team in conn.execute(
                s.people.select().with_only_columns(s.people.c.id, s.people.c.name, s.people.c.team_id)
            )
        }


def _outcome_rows(store: Store, run: EvaluationRun, person: str | None = None) -> list[dict[str, Any]]:
    names = _people_names(store)
    rows = []
    for o in run.outcomes:
        if person and o.person_id != person:
            continue
        view = TraceView(o.trace)
        inputs = view.inputs
        name, team = names.get(o.person_id, (o.person_id, None))
        attainment = _number_or_none(inputs.get("attainment"))
        measured = _number_or_none(next(iter(inputs.values()), None))
        why = " ".join(view.explanation) or view.skipped
        rows.append(
            {
                "person": o.person_id,
                "name": name,
                "team": team,
                "rule": o.rule_id,
                "kind": o.kind,
                "measured": None if measured is None else _number(measured),
                "target": _number_or_none(inputs.get("target")),
                "attainment": f"{attainment * 100:.1f}%" if attainment is not None else None,
                "amount": None if o.amount is None else Decimal(money_text(o.amount)),
                "currency": o.currency,
                "why": " ".join(why) if isinstance(why, list) else why,
                "trace": dict(o.trace),
            }
        )
    return rows


def _number_or_none(text: Any) -> Decimal | None:
    """A trace value as a number, or ``None`` when it is not one (a mapping, a word)."""
    if text is None or isinstance(text, (bool, dict, list)):
        return None
    try:
        value = Decimal(str(text).replace(",", ""))
    except ArithmeticError:
        return None
    return value if value.is_finite() else None


def _number(text: Any) -> Decimal:
    """A figure for display: whole numbers as they are, others with at least two decimals."""
    value = Decimal(text)
    return Decimal(plain(value)) if value == value.to_integral_value() else Decimal(money_text(value))


def _per_person(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per person: the first rule's measures, the sum of the payouts, the reasons of the paying lines."""
    people: dict[str, dict[str, Any]] = {}
    for line in lines:
        row = people.setdefault(line["person"], {**line, "amount": None, "why": None})
        for key in ("measured", "target", "attainment", "currency"):
            row[key] = row[key] if row[key] is not None else line[key]
        if line["kind"] == "payout" and line["amount"] is not None:
            row["amount"] = (row["amount"] or Decimal(0)) + line["amount"]
            if line["amount"] and line["why"]:
                row["why"] = f"{row['why']} {line['why']}" if row["why"] else line["why"]
    return list(people.values())


def print_run_summary(store: Store, run: EvaluationRun) -> None:
    if not any(o.kind == "payout" for o in run.outcomes):
        _print_notice_summary(store, run)
        return
    rows = sorted(_per_person(_outcome_rows(store, run)), key=lambda r: (-(r["amount"] or 0), r["person"]))
    paid = [r for r in rows if r["amount"]]
    click.echo(f"Plan {run.plan_id} {run.plan_version} · period {run.period} ({run.time_zone}) · run {run.id}")
    click.echo(
        render(
            rows,
            ["person", "name", "team", "measured", "target", "attainment", "amount", "currency"],
            numeric=("measured", "target", "amount", "attainment"),
        )
    )
    total = run.total()
    currency = next((o.currency for o in run.outcomes if o.currency), "")  # a score line has none
    click.echo(f"\n{len(rows)} people evaluated, {len(paid)} paid, total {Decimal(money_text(total)):,} {currency}.")
    held = [o.amount for o in run.outcomes if o.kind == "held" and o.amount is not None]
    if held:
        held_total = sum(held, Decimal(0))
        click.echo(
            f"Held pending review of findings (not paid): {len(held)} line(s), {Decimal(money_text(held_total)):,} "
            f"{currency}."
        )
    adjusted = [o for o in run.outcomes if o.ledger_kind == "adjustment" and o.amount is not None]
    if adjusted:
        corrected = sorted({note["period"] for o in adjusted if (note := TraceView(o.trace).prior_period)})
        total_adjusted = sum((o.amount for o in adjusted if o.amount is not None), Decimal(0))
        click.echo(
            f"Prior-period adjustments (closed {', '.join(corrected)} touched by later facts): {len(adjusted)} "
            f"line(s), {Decimal(money_text(total_adjusted)):,} {currency}, included above."
        )
    if paid:
        click.echo(f"Why {paid[0]['name']} earns {paid[0]['amount']:,}: {paid[0]['why']}")
    click.echo("Every line with its reasons: kpi outcomes --format json")


def echo_outcomes(store: Store, run: EvaluationRun | list[EvaluationRun], fmt: str, person: str | None) -> None:
    """One run's lines (or several runs', each line naming its plan and run) as a table, JSON or CSV."""
    runs = run if isinstance(run, list) else [run]
    rows = []
    for one in runs:
        for row in _outcome_rows(store, one, person):
            row["run"] = one.id
            row["period"] = one.period
            if len(runs) > 1:
                row["plan"] = one.plan_id
            rows.append(row)
    if len(runs) > 1 and fmt == "csv":
        click.echo(
            render(
                rows,
                [
                    "plan",
                    "run",
                    "period",
                    "person",
                    "name",
                    "team",
                    "rule",
                    "kind",
                    "measured",
                    "target",
                    "attainment",
                    "amount",
                    "currency",
                    "why",
                ],
                "csv",
            )
        )
        return
    run = runs[0]
    if fmt == "json":
        click.echo(render(rows, [], "json"))
    elif fmt == "csv":
        click.echo(
            render(
                rows,
                [
                    "run",
                    "period",
                    "person",
                    "name",
                    "team",
                    "rule",
                    "kind",
                    "measured",
                    "target",
                    "attainment",
                    "amount",
                    "currency",
                    "why",
                ],
                "csv",
            )
        )
    else:
        click.echo(
            f"Run {run.id} · plan {run.plan_id} {run.plan_version} · period {run.period} · data {run.data_watermark}"
        )
        click.echo(
            render(
                rows,
                ["person", "name", "rule", "kind", "attainment", "amount", "currency", "why"],
                numeric=("amount", "attainment"),
            )
        )
        held = sum(
            (
                o.amount
                for o in run.outcomes
                if o.kind == "held" and o.amount is not None and (not person or o.person_id == person)
            ),
            Decimal(0),
        )
        paid = sum(
            (
                o.amount
                for o in run.outcomes
                if o.kind == "payout" and o.amount is not None and (not person or o.person_id == person)
            ),
            Decimal(0),
        )
        if held:
            click.echo(
                f"\nPaid {Decimal(money_text(paid)):,}; held pending review of findings {Decimal(money_text(held)):,} "
                "(not paid)."
            )
