"""Plan files, mutated: ``kpi rules validate`` and ``kpi rules test`` answer every one in sentences.

The seeds are every plan in ``rules/`` (every built-in rule type, with its ``tests:``); a mutation
breaks lines, keys, indentation and values, puts in hostile YAML (aliases, tags, NUL, deep nesting)
or wrongly typed test data. A good plan in the same folder is always still reported.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine.cli import main
from tests.support.fuzzing import fuzz_settings

RULES = Path(__file__).parents[2] / "rules"
SEEDS = {path.name: path.read_text(encoding="utf-8") for path in sorted(RULES.glob("*.yaml"))}
HOSTILE_VALUES = [
    "",
    "~",
    "[]",
    "{}",
    "-1",
    "0",
    "1e999",
    "-1e999",
    ".nan",
    ".inf",
    "99999999999999999999999999999999999999",
    "0.000000000000000000000000000001",
    "12%",
    "1,5",
    "'",
    '"',
    "!!binary aGVsbG8=",
    "!!python/object/apply:os.system ['true']",
    "!!set {a, b}",
    "!!timestamp 2026-01-01",
    "&anchor x",
    "*missing",
    "[",
    "{x",
    "%",
    ": :",
    "0x1F",
    "0o17",
    "2026-13-45",
    "2026-02-30",
    "9999-12-31",
    "2026-01-01",
    "2026-01-01T00:00:00",
    "yes",
    "no",
    "\t",
    "\x00",
    "\ufeff",
    "é≈∂ 销售额",
    "[1, [2, [3]]]",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
    "{a: &a [1, 2], b: [*a, *a, *a, *a]}",
    "x" * 5000,
    '"sum(1, 2"',
    '"1 / 0"',
    '"10 ** 10 ** 10"',
    "\"__import__('os')\"",
]
ALIAS_BOMB = """bomb_a: &a [x, x, x, x, x, x, x, x, x]
bomb_b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
bomb_c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
bomb_d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
bomb_e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
bomb_f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
"""


@st.composite
def mutated_plan(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(SEEDS)))
    lines = [line for line in SEEDS[name].splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for _ in range(draw(st.integers(1, 5))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        key, sep, value = line.strip().partition(":")
        kind = draw(
            st.sampled_from(["delete", "duplicate", "rename", "value", "indent", "truncate", "bytes", "bomb", "swap"])
        )
        if kind == "delete":
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, line)
        elif kind == "rename" and sep:
            new = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz_-0123456789", min_size=1, max_size=12))
            lines[i] = " " * indent + key.replace(key.lstrip("- "), new) + sep + value
        elif kind == "value" and sep:
            lines[i] = " " * indent + key + ": " + draw(st.sampled_from(HOSTILE_VALUES))
        elif kind == "indent":
            lines[i] = " " * draw(st.integers(0, 12)) + line.lstrip()
        elif kind == "truncate":
            lines[i] = line[: draw(st.integers(0, len(line)))]
        elif kind == "bytes":
            at = draw(st.integers(0, len(line)))
            lines[i] = line[:at] + draw(st.text(min_size=1, max_size=4)) + line[at:]
        elif kind == "bomb":
            lines[0:0] = ALIAS_BOMB.splitlines()
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
    return name, "\n".join(lines) + "\n"


def _kpi(*args: str) -> tuple[int, str]:
    """``kpi ARGS`` in this process: its exit code and everything it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0), printed.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("plans")
    (path / "good.yaml").write_text(SEEDS["sales-commission.yaml"], encoding="utf-8")
    return path


@fuzz_settings(in_suite=150)
@given(mutated_plan())
def test_a_mutated_plan_is_answered_in_sentences_and_never_hides_a_good_one(folder, case):
    name, text = case
    bad = folder / "fuzzed.yaml"
    bad.write_text(text, encoding="utf-8", errors="surrogatepass")
    for command in ("validate", "test"):
        code, output = _kpi("rules", command, str(folder))
        assert code in (0, 1), (command, name, output)
        assert "Error: unexpected" not in output and "Traceback" not in output, (command, name, output)
        if command == "validate":
            assert f"OK {folder / 'good.yaml'}" in output, output
            for line in output.splitlines():
                if "fuzzed.yaml" in line and not line.startswith("OK "):
                    assert line.startswith(f"{bad}:"), line  # every problem at its file (and line)
        else:
            assert "sales-commission" in output or "cases in" in output, output
