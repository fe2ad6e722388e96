"""The pay cycle's commands: ``kpi period`` (list, approve, close, reopen), ``kpi adjust``, ``kpi ledger``,
``kpi audit`` and ``kpi payroll export``. Who acts comes from ``kpi --as NAME`` (else ``$KPI_USER``, else
the OS user)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import click

from ..errors import ConfigurationError
from ..money import money_text, to_decimal
from ..render import FORMATS, render, write_xlsx
from .common import RECORD_ID, Settings, pass_settings

__all__ = ["COMMANDS"]

PERIOD_COLUMNS = ["plan", "period", "status", "run", "evaluated_by", "approved_by", "closed_by", "closed_at"]


@click.group("period")
def period() -> None:
    """Each plan's periods through the pay cycle: calculated → approved (four eyes) → closed (paid once)."""


@period.command("list")
@click.option("--plan", "plan_id", metavar="ID", help="Only this plan.")
@click.option("--period", "label", metavar="P", help="Only this period.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def period_list(settings: Settings, plan_id: str | None, label: str | None, fmt: str) -> None:
    """Where each plan's periods stand, and who moved them there."""
    from ..ledger.lifecycle import period_states

    states = period_states(settings.store(), plan_id=plan_id, period=label)
    rows = [state.as_dict() for state in states]
    click.echo(render(rows, PERIOD_COLUMNS, fmt))
    waiting = [st for st in states if st.status == "calculated"]
    if fmt == "table" and waiting:
        plans = sorted({st.period for st in waiting})
        click.echo(f"\n{len(waiting)} awaiting approval: kpi --as NAME period approve --period {plans[0]}")


@period.command("approve")
@click.option("--plan", "plan_id", metavar="ID", help="The plan (default: every plan evaluated for the period).")
@click.option("--period", "label", required=True, metavar="P", help="The period, e.g. 2026-10.")
@pass_settings
def period_approve(settings: Settings, plan_id: str | None, label: str) -> None:
    """Approve a calculated period: its saved numbers, by someone other than who evaluated it."""
    from ..ledger.lifecycle import approve_period

    actor = settings.actor()
    for state in approve_period(settings.store(), plan_id, label, actor):
        click.echo(f"{state.plan_id} {state.period}: approved by {actor} (run {state.run_id}).")


@period.command("close")
@click.option("--plan", "plan_id", metavar="ID", help="The plan (default: every plan evaluated for the period).")
@click.option("--period", "label", required=True, metavar="P", help="The period, e.g. 2026-10.")
@pass_settings
def period_close(settings: Settings, plan_id: str | None, label: str) -> None:
    """Close an approved period: post its run to the ledger; from then on its days never change."""
    from ..ledger.lifecycle import close_period

    actor = settings.actor()
    for plan, summary in close_period(settings.store(), plan_id, label, actor).items():
        paid = sum((v for k, v in summary.by_kind.items() if k != "hold"), Decimal(0))
        extra = f", {summary.corrections} correction(s)" if summary.corrections else ""
        click.echo(
            f"{plan} {label}: closed by {actor}; {summary.entries} ledger entries{extra}, {money_text(paid)} payable."
        )


@period.command("reopen")
@click.option("--plan", "plan_id", required=True, metavar="ID", help="The plan.")
@click.option("--period", "label", required=True, metavar="P", help="The period, e.g. 2026-10.")
@click.option("--reason", required=True, help="Why it is reopened (recorded).")
@pass_settings
def period_reopen(settings: Settings, plan_id: str, label: str, reason: str) -> None:
    """Reopen a closed period that was not paid yet; closing it again posts only the differences."""
    from ..ledger.lifecycle import reopen_period

    state = reopen_period(settings.store(), plan_id, label, settings.actor(), reason)
    click.echo(f"{state.plan_id} {state.period}: reopened ({state.status}). Evaluate, approve and close it again.")


@click.group("adjust", invoke_without_command=True)
@click.option("--person", metavar="ID", help="Who is paid (or docked, with a negative amount).")
@click.option("--amount", metavar="X", help="The amount, e.g. 2,000.00 or -150.")
@click.option("--currency", metavar="CCY", help="Its currency (default: the person's, from the ledger).")
@click.option("--reason", metavar="TEXT", help="Why (recorded, and shown on the statement).")
@click.option("--period", "label", metavar="P", help="The period it is paid in, e.g. 2026-11.")
@click.option("--plan", "plan_id", metavar="ID", help="The plan it belongs to, if any.")
@click.option("--component", default="adjustment", show_default=True, help="What payroll pays it as.")
@click.pass_context
def adjust(
    ctx: click.Context,
    person: str | None,
    amount: str | None,
    currency: str | None,
    reason: str | None,
    label: str | None,
    plan_id: str | None,
    component: str,
) -> None:
    """Ask for a one-off correction or bonus; someone else approves it (kpi adjust approve ID)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..ledger.adjustments import request_adjustment

    missing = [
        f"--{n}" for n, v in (("person", person), ("amount", amount), ("reason", reason), ("period", label)) if not v
    ]
    if missing:
        raise ConfigurationError(
            f"an adjustment needs {', '.join(missing)}.",
            hint="kpi adjust --person E1001 --amount 2,000 --reason 'relocation bonus' --period 2026-11",
        )
    assert person and amount and reason and label
    settings = ctx.find_object(Settings)
    assert settings is not None
    try:
        value = to_decimal(amount)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"--amount {amount!r}: {exc}.", hint="e.g. --amount 2,000.00") from None
    store = settings.store()
    made = request_adjustment(
        store,
        person_id=person,
        amount=value,
        currency=currency or _currency_of(store, person),
        reason=reason,
        period=label,
        by=settings.actor(),
        plan_id=plan_id,
        component=component,
    )
    click.echo(
        f"Adjustment {made.id}: {money_text(made.amount)} {made.currency} for {made.person_id} in {made.period}, "
        f"awaiting approval by someone other than {made.requested_by}: kpi --as NAME adjust approve {made.id}"
    )


def _currency_of(store: object, person: str) -> str:
    from sqlalchemy import select

    from ..store import schema as s
    from ..store.database import Store

    assert isinstance(store, Store)
    e = s.ledger_entries
    with store.connect() as conn:
        found = conn.execute(
            select(e.c.currency).where(e.c.person_id == person).order_by(e.c.id.desc()).limit(1)
        ).scalar()
    if found is None:
        raise ConfigurationError(
            f"{person} has nothing in the ledger yet to take a currency from.", hint="give --currency CNY"
        )
    return str(found)


@adjust.command("approve")
@click.argument("adjustment_id", type=RECORD_ID)
@click.option("--note", default="", help="A note with the decision.")
@pass_settings
def adjust_approve(settings: Settings, adjustment_id: int, note: str) -> None:
    """Approve a pending adjustment: it is posted to the ledger in its period."""
    from ..ledger.adjustments import decide_adjustment

    made = decide_adjustment(settings.store(), adjustment_id, approve=True, by=settings.actor(), note=note)
    click.echo(
        f"Adjustment {made.id} approved by {made.decided_by}: {money_text(made.amount)} {made.currency} posted in "
        f"{made.period}."
    )


@adjust.command("reject")
@click.argument("adjustment_id", type=RECORD_ID)
@click.option("--note", required=True, help="Why it is rejected.")
@pass_settings
def adjust_reject(settings: Settings, adjustment_id: int, note: str) -> None:
    """Reject a pending adjustment (nothing is posted)."""
    from ..ledger.adjustments import decide_adjustment

    made = decide_adjustment(settings.store(), adjustment_id, approve=False, by=settings.actor(), note=note)
    click.echo(f"Adjustment {made.id} rejected by {made.decided_by}.")


@adjust.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]), help="Only these.")
@click.option("--period", "label", metavar="P", help="Only adjustments paid in this period.")
@click.option("--person", metavar="ID", help="Only this person's.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def adjust_list(settings: Settings, status: str | None, label: str | None, person: str | None, fmt: str) -> None:
    """Manual adjustments and prior-period differences, with where they stand."""
    from ..ledger.adjustments import list_adjustments

    rows = [a.as_dict() for a in list_adjustments(settings.store(), status=status, period=label, person_id=person)]
    columns = [
        "id",
        "origin",
        "person",
        "plan",
        "period",
        "corrects",
        "amount",
        "currency",
        "status",
        "requested_by",
        "decided_by",
        "reason",
    ]
    click.echo(render(rows, columns, fmt, numeric=("amount",)))


LEDGER_COLUMNS = [
    "id",
    "person",
    "posted",
    "earned",
    "plan",
    "rule",
    "kind",
    "component",
    "amount",
    "currency",
    "corrects",
]


@click.command("ledger")
@click.option("--person", metavar="ID", help="Only this person's entries.")
@click.option("--period", "label", metavar="P", help="Only entries posted in this period.")
@click.option("--plan", "plan_id", metavar="ID", help="Only this plan's entries.")
@click.option("--format", "fmt", type=click.Choice([*FORMATS, "xlsx"]), default="table", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file (needed for xlsx).")
@pass_settings
def ledger(
    settings: Settings, person: str | None, label: str | None, plan_id: str | None, fmt: str, out: Path | None
) -> None:
    """The payout ledger: every entry posted, and each person's balance (payable, held, paid, due)."""
    from ..ledger.entries import balances, ledger_entries

    entries = ledger_entries(settings.store(), person_id=person, period=label, plan_id=plan_id)
    rows = [{**e.as_dict(), "amount": Decimal(money_text(e.amount))} for e in entries]
    totals = [b.as_dict() for b in balances(entries)]
    if fmt == "xlsx":
        if out is None:
            raise ConfigurationError("an XLSX ledger is written to a file: give --out FILE.xlsx.")
        write_xlsx(
            out,
            [
                ("Ledger", rows, [*LEDGER_COLUMNS, "description"]),
                ("Balances", totals, list(totals[0]) if totals else []),
            ],
        )
        click.echo(f"{len(rows)} entries written to {out}.")
        return
    if fmt != "table":
        text = render([e.as_dict() for e in entries], [*LEDGER_COLUMNS, "description"], fmt)
        _emit(text, out)
        return
    if not rows:
        click.echo(
            "The ledger holds nothing"
            + (" for that selection." if person or label or plan_id else " yet: close a period first.")
        )
        return
    click.echo(render(rows, LEDGER_COLUMNS, numeric=("amount",)))
    click.echo()
    click.echo(
        render(
            totals, ["person", "currency", "payable", "held", "paid", "due"], numeric=("payable", "held", "paid", "due")
        )
    )


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        click.echo(text)
    else:
        try:
            out.write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(f"cannot write {out}: {exc.strerror or exc}.") from None
        click.echo(f"Written to {out}.")


@click.command("audit")
@click.option("--since", metavar="DATE", help="From this date or time on (ISO 8601; UTC unless it has an offset).")
@click.option("--plan", "plan_id", metavar="ID", help="Only this plan.")
@click.option("--period", "label", metavar="P", help="Only this period.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@pass_settings
def audit(settings: Settings, since: str | None, plan_id: str | None, label: str | None, fmt: str) -> None:
    """Who evaluated, approved, closed, reopened, adjusted, reviewed and paid what, when, and why."""
    from ..periods import parse_period
    from ..store.audit import audit_trail

    moment = None
    if since:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            raise ConfigurationError(
                f"--since {since!r} is not a date or time.", hint="e.g. --since 2026-11-01"
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    events = audit_trail(
        settings.store(), since=moment, plan_id=plan_id, period=parse_period(label).label if label else None
    )
    rows = [e.as_dict() for e in events]
    click.echo(render(rows, ["at", "actor", "action", "plan", "period", "run", "subject", "reason"], fmt))


@click.group("payroll")
def payroll() -> None:
    """Payroll: what a closed period pays, per person and pay component."""


@payroll.command("export")
@click.option("--period", "label", required=True, metavar="P", help="The closed period, e.g. 2026-10.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The file to write.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path), help="payroll.yaml: codes per component.")
@click.option("--excel", is_flag=True, help="Write a UTF-8 byte order mark (Excel then reads Chinese names in a CSV).")
@pass_settings
def payroll_export(settings: Settings, label: str, fmt: str, out: Path, mapping: Path | None, excel: bool) -> None:
    """Write the payroll of a closed period and record the payment in the ledger (once)."""
    from ..ledger.payroll import export_payroll, load_payroll_mapping

    codes = load_payroll_mapping(mapping) if mapping else None
    result = export_payroll(
        settings.store(),
        label,
        out,
        fmt="xlsx" if fmt == "xlsx" else "csv",
        mapping=codes,
        excel=excel,
        by=settings.actor(),
    )
    people = len(result.person_totals)
    totals = ", ".join(f"{money_text(t)} {c}" for c, t in sorted(result.grand_totals.items()))
    click.echo(
        f"Payroll {result.period}: {people} people, {len(result.lines)} lines, total {totals}; written to {out}."
    )


COMMANDS: list[click.Command] = [period, adjust, ledger, audit, payroll]
