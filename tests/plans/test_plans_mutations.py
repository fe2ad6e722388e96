"""Property: validating any mutation of a plan file never crashes; the only outcome besides a plan is a PlanError.

Mutations: deleted, duplicated and renamed keys, swapped value types, broken indentation, garbage scalars.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine import PlanError, parse_plan
from tests.support.plan_toys import toy_registry

EXAMPLE = (Path(__file__).parents[2] / "rules" / "sales-commission.yaml").read_text()
RICH = (
    EXAMPLE.replace(
        "rules:\n",
        'metrics:\n  sales: bookings\n  attainment: "sales / quota"\ntargets:\n'
        "  quota: {metric: bookings, prorate: days_employed}\nrules:\n",
    )
    + """  - id: kicker
    type: formula_pay
    amount: "commission * 10% + attainment[-1]"
tests:
  - name: a case
    period: 2026-01
    data: {2026-01: {bookings: {E1: 100}}}
    expect: {2026-01: [{rule: commission, person: E1, amount: "5.00"}]}
"""
)
LINES = [line for line in RICH.splitlines() if line.strip() and not line.lstrip().startswith("#")]
GARBAGE = [
    "",
    "~",
    "[]",
    "{}",
    "-1",
    "1e999",
    "nan",
    "'",
    '"',
    "!!binary xx",
    "&a",
    "*a",
    "[",
    "{x",
    "%",
    ": :",
    "0x1F",
    "2026-13-45",
    "!!python/object:os.system x",
    "yes",
    "  - x",
    "\t",
    "é≈∂",
    "[1, [2, [3]]]",
    "'''",
    "[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]",
]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        key, sep, value = line.strip().partition(":")
        kind = draw(st.sampled_from(["delete", "duplicate", "rename", "swap", "indent", "garbage", "truncate"]))
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "rename" and sep:
            new = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-", min_size=1, max_size=12))
            lines[i] = " " * indent + key.replace(key.lstrip("- "), new) + sep + value
        elif kind == "swap" and sep:
            lines[i] = (
                " " * indent
                + key
                + ": "
                + draw(st.sampled_from(["[1, 2]", "{a: 1}", "true", "12", "'text'", "null", "3.5"]))
            )
        elif kind == "indent":
            lines[i] = " " * draw(st.integers(0, 9)) + line.lstrip()
        elif kind == "garbage":
            lines[i] = " " * indent + (key + ": " if sep else "") + draw(st.sampled_from(GARBAGE))
        else:
            lines[i] = line[: draw(st.integers(0, len(line)))]
    return "\n".join(lines) + "\n"


def test_the_unmutated_plan_is_valid():
    parse_plan(RICH, "p.yaml", registry=toy_registry())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_validating_a_mutated_plan_never_crashes(text: str):
    try:
        parse_plan(text, "p.yaml", registry=toy_registry())
    except PlanError as exc:
        assert exc.problems and all(p.startswith("p.yaml:") for p in exc.problems), exc.problems
