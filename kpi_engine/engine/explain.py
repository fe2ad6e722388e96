"""Explanations a sales rep can follow: per rule, the sentences, inputs, lines taken and records behind an outcome.

Read from the keys of ``kpi_engine.trace.RuleTrace`` (through ``TraceView``): the sentences, the
inputs (a nested mapping shown as ``name.key``), the tiers or branches taken, the records behind the
number, why nothing was computed, a proration; a finding's id, check, severity and effect; and, on a
payout line a finding acted on, what it held, excluded, clawed back or released. Any other scalar a
rule type writes is shown as a detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, select

from ..errors import EvaluationError
from ..money import money_text
from ..render import render
from ..store import schema as s
from ..store.runs import Outcome
from ..trace import RuleTrace, TraceView

__all__ = ["crm_ids", "effect_notes", "explain_outcomes", "findings_section", "render_explanations"]

_SHARES = ("rate", "share", "factor", "weight", "contribution", "attainment", "score")
"""Keys (or their endings) whose numbers are shares, shown as percentages in text."""

_SHOWN_ELSEWHERE = frozenset(RuleTrace.__annotations__) - {
    "id",
    "check",
    "period",
    "severity",
    "effect",
    "exact_amount",
}
"""Keys shown in a section of their own (a finding's id, check, period, severity and effect, and an exact
amount, are shown among the details)."""


def effect_notes(kind: str, trace: Mapping[str, Any]) -> list[str]:
    """What a finding asks for, or what a finding did to a payout line, as sentences."""
    view = TraceView(trace)
    notes: list[str] = []
    if kind == "finding":
        acted = "flagged for review only" if view.effect == "flag" else f"{view.effect} on {', '.join(view.affects)}"
        notes.append(
            f"Finding {view.finding_id or ''} ({view.check or ''}, severity {view.severity or ''}): {acted}; "
            "a recommendation for review."
        )
        if view.effect_note:
            notes.append(view.effect_note)
    if held := view.held:
        notes.append(str(held.get("note") or f"Held pending review of finding {', '.join(held['findings'])}."))
    for item in view.excluded:
        ids = "; ".join(f"{r['table']} {', '.join(str(i) for i in r['ids'])}" for r in item.get("records", []))
        notes.append(
            f"Excluded ({item.get('effect')}, finding {item.get('finding')}): {ids}. {item.get('reason', '')}".rstrip()
        )
    if view.excluded_changes:
        notes.append("Measures without them: " + "; ".join(f"{k} {v}" for k, v in view.excluded_changes.items()) + ".")
    if view.excluded_note:
        notes.append(view.excluded_note)
    if (back := view.clawback) and back.get("finding"):
        notes.append(
            f"Clawback after finding {back['finding']} ({back.get('check')}): "
            f"{back.get('table')} #{back.get('record_id')} paid in {back.get('paid_in')}."
        )
    if released := view.released_hold:
        notes.append(
            f"Hold of {released.get('period')} released after review of finding "
            f"{', '.join(released.get('findings', []))}."
        )
    return notes


def findings_section(findings: Sequence[Any]) -> str:
    """Findings about a person from other plans' runs of the period (``SavedFinding`` objects), as text."""
    if not findings:
        return ""
    out = ["Findings about this person in other plans (recommendations for review):"]
    for f in findings:
        review = f" Review: {f.review} ({f.review_note})." if f.review else " Review: pending."
        out.append(
            f"   {f.id} {f.check} ({f.plan_id}, {f.period}, severity {f.severity}, effect {f.effect}): "
            f"{f.explanation}{review}"
        )
        for table, ids in f.evidence.items():
            out.append(
                f"     Records ({table}): "
                f"{', '.join(str(i) for i in ids[:30])}{f' … ({len(ids)} in all)' if len(ids) > 30 else ''}"
            )
    return "\n".join(out) + "\n"


def _flat(prefix: str, value: Any, out: dict[str, str]) -> None:
    """A nested mapping as ``name.key`` → value text, every digit kept (the text rendering sizes numbers)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flat(f"{prefix}.{key}" if prefix else str(key), item, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = ", ".join(str(v) for v in value)
    else:
        out[prefix] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _readable(value: Any) -> str:
    """A number for people: thousands separators (``122,000.5``), at most six decimals (``≈0.333333`` when
    digits were dropped; the JSON keeps them all); anything else as written."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value).lower()
    try:
        number = Decimal(str(value).replace(",", "")) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    near = number.quantize(Decimal("0.000001")) if number.as_tuple().exponent < -6 else number  # type: ignore[operator]
    text = f"{near.normalize() if near != number else near:,f}"
    return text if near == number else "≈" + text


def _percent(value: Any) -> str:
    """A share as a percentage: ``1`` is ``100%``, ``0.333…`` is ``≈33.33%``."""
    number = Decimal(str(value)) * 100
    near = number.quantize(Decimal("0.01"))
    text = f"{near.normalize():f}" if near == number else f"≈{near:f}"
    return f"{text}%"


def _is_share(key: str) -> bool:
    return any(key == name or key.endswith((f"_{name}", f".{name}")) for name in _SHARES)


def crm_ids(conn: Connection, items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], str]:
    """The CRM's id of every record the explanations name (``(table, internal id)`` → remote id)."""
    wanted: dict[str, set[int]] = {}
    for item in items:
        for ref in item.get("records") or []:
            table = str(ref.get("table", ""))
            wanted.setdefault(table, set()).update(_ints(ref.get("ids") or []))
        for line in item.get("lines") or []:
            if "deal_id" in line:
                wanted.setdefault("deals", set()).update(_ints([line["deal_id"]]))
    found: dict[tuple[str, str], str] = {}
    for table, ids in wanted.items():
        t = s.metadata.tables.get(table)
        if t is None or "remote_id" not in t.c or "id" not in t.c or not ids:
            continue
        for chunk in range(0, len(ids), 500):
            part = sorted(ids)[chunk : chunk + 500]
            for rid, remote in conn.execute(select(t.c.id, t.c.remote_id).where(t.c.id.in_(part))):
                found[(table, str(rid))] = str(remote)
    return found


def _ints(values: Sequence[Any]) -> set[int]:
    found = set()
    for value in values:
        try:
            found.add(int(str(value)))
        except ValueError:
            continue
    return found


def explain_outcomes(
    outcomes: Sequence[Outcome], person: str, rule: str | None = None, *, run_id: str = ""
) -> list[dict[str, Any]]:
    """One explanation per outcome line of ``person`` (and ``rule``): what a rep needs to check it by hand."""
    lines = [o for o in outcomes if o.person_id == person and (rule is None or o.rule_id == rule)]
    if not lines:
        people = sorted({o.person_id for o in outcomes})
        rules = sorted({o.rule_id for o in outcomes})
        if person not in people:
            shown = ", ".join(people[:8]) + (" …" if len(people) > 8 else "")
            raise EvaluationError(
                f"{person} has no outcome in run {run_id or '(newest)'}.", hint=f"people in this run: {shown or 'none'}"
            )
        raise EvaluationError(
            f"{person} has no outcome of rule {rule!r} in run {run_id or '(newest)'}.",
            hint=f"rules in this run: {', '.join(rules)}",
        )
    explained = []
    for o in lines:
        trace = dict(o.trace)
        view = TraceView(trace)
        inputs: dict[str, str] = {}
        _flat("", view.inputs, inputs)
        other: dict[str, str] = {}
        _flat(
            "",
            {k: v for k, v in trace.items() if k not in _SHOWN_ELSEWHERE and not isinstance(v, (list, Mapping))},
            other,
        )
        explained.append(
            {
                "rule": o.rule_id,
                "rule_type": view.rule_type,
                "kind": o.kind,
                "amount": None
                if o.amount is None
                else money_text(o.amount)
                if o.kind in ("payout", "held")
                else _readable(o.amount),
                "currency": o.currency,
                "explanation": view.explanation + ([view.proration] if view.proration else []),
                "skipped": view.skipped,
                "effects": effect_notes(o.kind, trace),
                "inputs": inputs,
                "lines": [dict(line) for line in view.lines],
                "records": [dict(r) for r in view.records],
                "details": other,
            }
        )
    return explained


def render_explanations(
    person: str,
    name: str | None,
    header: str,
    items: list[dict[str, Any]],
    crm: Mapping[tuple[str, str], str] | None = None,
) -> str:
    """The explanations as text: a block per rule with its sentences, inputs, lines and records.

    ``crm`` gives the CRM's ids of the records (``crm_ids``): records and the lines' record and deal ids are
    shown as the CRM shows them, with the engine's own id only when the CRM's is not known."""
    crm = crm or {}
    out = [header, f"{person}" + (f" · {name}" if name and name != person else ""), ""]
    for item in items:
        if item["amount"] is None:
            result = "no amount"
        else:
            result = (
                f"{_readable(item['amount'])} {item['currency']}" if item["currency"] else _readable(item["amount"])
            )
        rule_type = f" ({item['rule_type']})" if item["rule_type"] else ""
        out.append(f"== {item['rule']}{rule_type} · {item['kind']}: {result}")
        for sentence in item["explanation"]:
            out.append(f"   {sentence}")
        if item["skipped"]:
            out.append(f"   Not computed: {item['skipped']}")
        for note in item.get("effects", []):
            out.append(f"   ▸ {note}")
        if item["inputs"]:
            out.append("   Inputs:")
            width = max(len(k) for k in item["inputs"])
            out.extend(f"     {k.ljust(width)}  {_cell(k, v)}" for k, v in item["inputs"].items())
        tables = [str(r.get("table")) for r in item["records"]]
        if item["lines"]:
            columns = list(dict.fromkeys(k for line in item["lines"] for k in line))
            rows = [{k: _crm_cell(k, v, tables, crm) or _cell(k, v) for k, v in line.items()} for line in item["lines"]]
            numeric = [c for c in columns if all(_is_number(r.get(c)) for r in rows if r.get(c))]
            out.append("   Lines:")
            out.extend("     " + row for row in render(rows, columns, numeric=numeric).splitlines())
        if item["details"]:
            out.append("   Details: " + "; ".join(f"{k} {_cell(k, v)}" for k, v in item["details"].items()))
        for records in item["records"]:
            ids = [crm.get((str(records["table"]), str(i)), str(i)) for i in records["ids"]]
            shown = ", ".join(ids[:30]) + (f" … ({len(ids)} in all)" if len(ids) > 30 else "")
            out.append(f"   Records ({records['table']}): {shown or 'none'}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _cell(key: str, value: Any) -> str:
    """A value as a rep reads it: rates, shares and factors as percentages (``100%``, ``≈33.33%``), other
    numbers with separators and at most six decimals."""
    if isinstance(value, (Mapping, list)):
        return str(value)
    if _is_share(key) and value is not None and not isinstance(value, bool) and _is_number(value):
        return _percent(value)
    return _readable(value)


def _crm_cell(key: str, value: Any, tables: list[str], crm: Mapping[tuple[str, str], str]) -> str | None:
    """A line's record or deal id as the CRM shows it (``None`` when it is not known)."""
    if key == "deal_id":
        return crm.get(("deals", str(value)))
    if key == "record_id" and len(tables) == 1:
        return crm.get((tables[0], str(value)))
    return None


def _is_number(text: Any) -> bool:
    try:
        Decimal(str(text).replace(",", ""))
    except (InvalidOperation, ValueError):
        return False
    return True
