"""Payroll export: what the ledger pays in a closed period, one row per person and pay component.

The rows come from the ledger entries posted in the period (never from runs), so the file's totals
are the ledger's to the cent. A mapping file gives each component its payroll code or GL account;
exporting posts a ``payment`` entry per person and currency, once, so the ledger knows what was
handed to payroll, and a paid period cannot be reopened. Exporting again writes the same file.
"""

from __future__ import annotations

import os
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, select

from ..errors import ConfigurationError, PayCycleError
from ..money import money_text
from ..periods import parse_period
from ..render import render, write_xlsx
from ..store import schema as s
from ..store.audit import record_action
from ..store.database import Store
from ..yaml_reader import load_located, read_yaml_text
from .posting import PAYABLE

__all__ = ["PayCode", "PayrollExport", "PayrollLine", "PayrollMapping", "export_payroll", "load_payroll_mapping"]

ZERO = Decimal(0)
_BY_KIND = {
    "clawback": "clawback",
    "adjustment": "adjustment",
    "draw_advance": "draw",
    "draw_recovery": "draw_recovery",
}
"""Kinds paid as a component of their own; earnings and releases are paid as their rule's component."""


class PayCode(BaseModel):
    """How payroll knows a component: its pay code, a GL account, a label for the payslip."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=64)
    account: str | None = Field(None, max_length=64)
    label: str | None = Field(None, max_length=200)


class PayrollMapping(BaseModel):
    """``payroll.yaml``: a code per component (``commission``, ``bonus``, ``clawback``, ``adjustment`` …)."""

    model_config = ConfigDict(extra="forbid")

    components: dict[str, PayCode] = {}
    default: PayCode | None = None  # for a component not listed; without it, such a component is an error

    def code_of(self, component: str) -> PayCode | None:
        return self.components.get(component, self.default)


def load_payroll_mapping(path: str | Path) -> PayrollMapping:
    """Read and check a payroll mapping file; a problem is one sentence naming the file (and the key)."""
    file = Path(path)
    try:
        text = read_yaml_text(file)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigurationError(f"cannot read the payroll mapping {file}: {exc}.") from None
    try:
        data = load_located(text, file).data or {}
    except (yaml.YAMLError, ValueError, ArithmeticError) as exc:
        raise ConfigurationError(f"the payroll mapping {file.name} is not valid YAML: {exc}.") from None
    try:
        return PayrollMapping.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise ConfigurationError(
            f"{file.name}, {where}: {first['msg']}.", hint="components: {commission: {code: C100, account: '6601'}}"
        ) from None


@dataclass(frozen=True)
class PayrollLine:
    """One person's one component, in one currency."""

    person_id: str
    name: str
    component: str
    code: str
    account: str | None
    label: str | None
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class PayrollExport:
    """A period's payroll: its lines, each person's total, and the grand total per currency."""

    period: str
    lines: list[PayrollLine]
    person_totals: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    grand_totals: dict[str, Decimal] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """The file's rows: component lines, then each person's total line, then the grand totals."""
        out: list[dict[str, Any]] = []
        names = {line.person_id: line.name for line in self.lines}
        for person, currency in sorted(self.person_totals):
            for line in self.lines:
                if line.person_id == person and line.currency == currency:
                    out.append(
                        {
                            "period": self.period,
                            "person": person,
                            "name": line.name,
                            "component": line.component,
                            "code": line.code,
                            "account": line.account,
                            "label": line.label,
                            "currency": currency,
                            "amount": line.amount,
                        }
                    )
            out.append(
                {
                    "period": self.period,
                    "person": person,
                    "name": names.get(person, person),
                    "component": "TOTAL",
                    "currency": currency,
                    "amount": self.person_totals[(person, currency)],
                }
            )
        for currency, total in sorted(self.grand_totals.items()):
            out.append({"period": self.period, "component": "GRAND TOTAL", "currency": currency, "amount": total})
        return out


COLUMNS = ["period", "person", "name", "component", "code", "account", "label", "currency", "amount"]


def _unfinished(conn: Connection, label: str) -> tuple[list[str], list[int]]:
    runs, o, a = s.evaluation_runs, s.outcomes, s.adjustments
    pays = (
        select(o.c.id)
        .where(o.c.run_id == runs.c.id, o.c.kind.in_(("payout", "held")), o.c.amount.is_not(None), o.c.amount != 0)
        .exists()
    )
    open_plans = sorted(  # plans that pay something in the period and are not closed (a PIP plan pays nothing)
        conn.execute(
            select(runs.c.plan_id).where(runs.c.period == label, runs.c.status != "closed", pays).distinct()
        ).scalars()
    )
    pending = sorted(conn.execute(select(a.c.id).where(a.c.period == label, a.c.status == "pending")).scalars())
    return open_plans, pending


def payroll_of(conn: Connection, label: str, mapping: PayrollMapping | None) -> PayrollExport:
    """The payroll of a period whose plans are all closed and whose adjustments are all decided."""
    open_plans, pending = _unfinished(conn, label)
    if open_plans:
        raise PayCycleError(
            f"{label} is not closed for {', '.join(open_plans)}; payroll is exported for a closed period.",
            hint=(
                f"approve and close it first: kpi period approve --period {label}, then kpi period close --period "
                f"{label}"
            ),
        )
    if pending:
        raise PayCycleError(
            f"{len(pending)} adjustment(s) of {label} await a decision ({', '.join(map(str, pending[:8]))}).",
            hint="approve or reject them first: kpi adjust list --status pending",
        )
    e = s.ledger_entries
    rows = conn.execute(
        select(e.c.person_id, e.c.kind, e.c.component, e.c.currency, e.c.amount).where(
            e.c.period_posted == label, e.c.kind.in_(sorted(PAYABLE))
        )
    ).all()
    if not rows:
        raise PayCycleError(f"nothing was posted in {label}; there is no payroll to export.")
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for person, kind, component, currency, amount in rows:
        sums[(person, _BY_KIND.get(kind, component), currency)] += amount
    names = {row.id: row.name for row in conn.execute(select(s.people.c.id, s.people.c.name))}
    unmapped = sorted({c for _, c, _ in sums if mapping is not None and mapping.code_of(c) is None})
    if unmapped:
        raise ConfigurationError(
            f"the payroll mapping has no code for {', '.join(unmapped)}.",
            hint="add them under components:, or give a default: code",
        )
    lines: list[PayrollLine] = []
    person_totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    grand: dict[str, Decimal] = defaultdict(Decimal)
    for (person, component, currency), amount in sorted(sums.items()):
        code = mapping.code_of(component) if mapping is not None else None
        lines.append(
            PayrollLine(
                person_id=person,
                name=names.get(person, person),
                component=component,
                code=code.code if code else component,
                account=code.account if code else None,
                label=code.label if code else None,
                currency=currency,
                amount=amount,
            )
        )
        person_totals[(person, currency)] += amount
        grand[currency] += amount
    return PayrollExport(label, lines, dict(person_totals), dict(grand))


def _write(path: Path, payroll: PayrollExport, fmt: Literal["csv", "xlsx"], excel: bool) -> None:
    rows = payroll.rows()
    if fmt == "xlsx":
        write_xlsx(path, [(f"Payroll {payroll.period}", rows, COLUMNS)])
        return
    shown = [{**row, "amount": money_text(row["amount"])} for row in rows]
    text = render(shown, COLUMNS, "csv") + "\n"
    path.write_text(text, encoding="utf-8-sig" if excel else "utf-8", newline="")


def export_payroll(
    store: Store,
    period: str,
    out: str | Path,
    *,
    fmt: Literal["csv", "xlsx"] = "csv",
    mapping: PayrollMapping | None = None,
    excel: bool = False,
    by: str,
) -> PayrollExport:
    """Write the period's payroll to ``out`` and record the payment in the ledger (once).

    The file is written first, beside ``out``, and moved into place when the ledger has recorded the
    payment, so a failure leaves neither a file nor a payment behind. ``excel`` writes a UTF-8 byte
    order mark, which Excel needs to read Chinese names in a CSV.
    """
    label = parse_period(period).label
    target = Path(out)
    now = datetime.now(UTC)
    with store.begin() as conn:
        payroll = payroll_of(conn, label, mapping)
        handle, temporary = tempfile.mkstemp(prefix=".payroll-", suffix=f".{fmt}", dir=target.parent or Path("."))
        os.close(handle)
        try:
            _write(Path(temporary), payroll, fmt, excel)
            _post_payments(conn, payroll, by, now)
            record_action(
                conn,
                by,
                "pay",
                period=label,
                subject=target.name,
                details={currency: money_text(total) for currency, total in payroll.grand_totals.items()},
                at=now,
            )
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return payroll


def _post_payments(conn: Connection, payroll: PayrollExport, by: str, now: datetime) -> None:
    e = s.ledger_entries
    keys = {
        f"payment|{payroll.period}|{person}|{currency}": (person, currency)
        for person, currency in payroll.person_totals
    }
    done = set(conn.execute(select(e.c.entry_key).where(e.c.entry_key.in_(sorted(keys)))).scalars())
    rows: list[Mapping[str, Any]] = []
    for key, (person, currency) in sorted(keys.items()):
        if key in done:
            continue
        total = payroll.person_totals[(person, currency)]
        rows.append(
            {
                "entry_key": key,
                "kind": "payment",
                "component": "payment",
                "person_id": person,
                "period_earned": payroll.period,
                "period_posted": payroll.period,
                "amount": -total,
                "currency": currency,
                "description": f"Handed to payroll for {payroll.period}: {money_text(total)} {currency}.",
                "posted_by": by,
                "posted_at": now,
            }
        )
    if rows:
        conn.execute(e.insert(), list(rows))


def export_rows(payroll: PayrollExport) -> Sequence[dict[str, Any]]:
    """The rows as the CLI prints them (amounts as text with two decimals at least)."""
    return [{**row, "amount": money_text(row["amount"])} for row in payroll.rows()]
