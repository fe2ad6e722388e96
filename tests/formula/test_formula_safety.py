"""Formulas are untrusted: attempts to reach Python, the file system or unbounded work are refused quickly.

Each attack goes through ``kpi rules try`` (``kpi_engine.cli.main``) and must end with a
one-sentence error and a non-zero exit in well under a second; the bound on time is there to
catch unbounded work, not to measure speed. Property tests then feed random and mutated text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpi_engine import FormulaError, compile_condition, compile_formula
from kpi_engine.cli import main
from kpi_engine.formula.lexer import MAX_DEPTH, MAX_LENGTH


@dataclass
class Result:
    code: int
    out: str
    err: str
    seconds: float


@pytest.fixture
def kpi(tmp_path, monkeypatch, capsys):
    """Run ``kpi ARGS`` in an empty folder and time it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KPI_DATABASE_URL", raising=False)

    def run(*args: str) -> Result:
        start = time.perf_counter()
        with pytest.raises(SystemExit) as exit_:
            main(list(args))
        seconds = time.perf_counter() - start
        captured = capsys.readouterr()
        return Result(exit_.value.code or 0, captured.out, captured.err, seconds)

    return run


ATTACKS = {
    "attribute walk from a tuple": "().__class__.__bases__[0].__subclasses__()",
    "attribute walk from a name": "bookings.__class__",
    "import": "__import__('os').system('id')",
    "import statement": "import os",
    "open a file": "open('/etc/passwd')",
    "read a file": "open('/etc/passwd').read()",
    "exec": "exec('import os')",
    "eval": "eval('1 + 1')",
    "compile": "compile('1', 'f', 'eval')",
    "getattr": "getattr(bookings, 'real')",
    "globals": "globals()",
    "builtins": "__builtins__",
    "dunder name": "__class__",
    "power tower": "9**9**9**9",
    "caret power": "10^1000000",
    "pow function": "pow(10, 1000000)",
    "enormous literal": "9" * 1_000,
    "enormous literal with decimals": "1." + "1" * 1_000,
    "product beyond the limit": "999,999,999,999,999,999 * 999,999,999,999,999,999",
    "deep parentheses": "(" * 100_000,
    "deep parentheses within the length": "(" * 1_000 + "1" + ")" * 999,
    "deep unary minus": "-" * 1_999 + "1",
    "deep not": "not " * 450 + "true",
    "giant formula": "1+" * 5_000_000 + "1",
    "long sum within the length": "+".join(["1"] * 1_000),
    "lambda": "lambda: 1",
    "lambda with argument": "(lambda x: x)(1)",
    "comprehension": "[x for x in range(10**9)]",
    "generator": "sum(x for x in range(10**9))",
    "string literal": "'abc'",
    "double-quoted string": '"abc" * 10**9',
    "f-string": "f'{bookings.__class__}'",
    "format method": "'{0.__class__}'.format(bookings)",
    "percent formatting": "'%s' % bookings",
    "dict literal": "{}",
    "set literal": "{1, 2}",
    "dict call": "dict(a=1)",
    "semicolon": "1; import os",
    "newline with a statement": "1\nimport os",
    "newline with an assignment": "x = 1\nx",
    "walrus": "(x := 1)",
    "subscript": "bookings[0]",
    "slice": "bookings[1:2]",
    "comment": "1 # ignore the rest",
    "backslash": "1 \\\n + 1",
    "fullwidth look-alike": "\uff4din(1, 2)",
    "cyrillic look-alike": "b\u043e\u043ekings * 5%",
    "non-ASCII identifier": "\u6536\u5165 * 5%",
    "non-ASCII digits": "\u0661\u0662 + 1",
    "zero-width space": "bookings\u200b * 2",
    "nul byte": "1\x00 + 1",
    "escape sequence": "\x1b[2J1",
}


@pytest.mark.parametrize("attack", list(ATTACKS.values()), ids=list(ATTACKS))
def test_attacks_are_refused_quickly_with_a_message(kpi, attack):
    result = kpi("rules", "try", "--set", "bookings=1", "--", attack)
    assert result.code != 0
    assert result.seconds < 1.0
    assert "Traceback" not in result.out + result.err
    first = result.err.splitlines()[0]
    assert first.startswith("Error: ") and len(first) > len("Error: ") + 10
    assert "\x1b" not in result.err


@pytest.mark.parametrize("attack", ["(" * 1_000 + "1" + ")" * 1_000, "-" * 1_999 + "1", "1+" * 999 + "1"])
def test_size_and_depth_caps_apply_before_any_work(attack):
    with pytest.raises(FormulaError, match=r"nests more than|more than 1,000 parts|characters long"):
        compile_formula(attack)


def test_the_caps_allow_realistic_formulas():
    nested = "(" * (MAX_DEPTH - 1) + "1" + ")" * (MAX_DEPTH - 1)
    assert compile_formula(nested).evaluate({}) == 1
    ladder = " else ".join(f"if a >= {n} then {n}" for n in range(30, 0, -1)) + " else 0"
    assert compile_formula(ladder).evaluate({"a": Decimal(12)}) == 12
    assert compile_formula("+".join(["a"] * 400)).evaluate({"a": Decimal(1)}) == 400
    assert compile_formula("a + b" + " " * (MAX_LENGTH - 5)).names == {"a", "b"}
    with pytest.raises(FormulaError, match="2,001 characters long, more than the 2,000 allowed"):
        compile_formula("a + b" + " " * (MAX_LENGTH - 4))
    assert compile_formula("x" * 64).names == {"x" * 64}


def test_the_playground_prints_results_and_errors_with_a_caret(kpi):
    ok = kpi(
        "rules",
        "try",
        "min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%",
        "--set",
        "bookings=120000",
        "--set",
        "quota=100,000",
    )
    assert (ok.code, ok.out) == (0, "6600.00\n")
    assert kpi("rules", "try", "bookings * rate", "--set", "bookings=12,500.00", "--set", "rate=5%").out == "625.00\n"
    assert (
        kpi("rules", "try", "eligible and bookings > 0", "--set", "eligible=true", "--set", "bookings=1").out
        == "true\n"
    )
    failed = kpi("rules", "try", "bookings * rund(2)", "--set", "bookings=1")
    assert failed.code == 1
    assert failed.err == (
        "Error: unknown function 'rund' at column 12.\n"
        "  bookings * rund(2)\n"
        "             ^^^^\n"
        "Hint: did you mean round? the functions are abs, clamp, max, min, round\n"
    )


def test_the_playground_lists_the_names_still_needed(kpi):
    result = kpi("rules", "try", "min(bookings, quota) * rate + attainment[-1]", "--set", "bookings=1")
    assert result.code == 1
    assert result.err.splitlines() == [
        "Error: the formula needs a value for attainment[-1], quota, "
        "rate (it uses attainment[-1], bookings, quota, rate).",
        "Hint: add --set attainment[-1]=... --set quota=... --set rate=...",
    ]


def test_the_playground_tests_conditions_against_a_value(kpi):
    assert kpi("rules", "try", ">= 100%", "--value", "95%").out == "false\n"
    assert kpi("rules", "try", "[80%..100%)", "--value", "0.95").out == "true\n"
    assert kpi("rules", "try", "(0..5000]", "--value", "5,000").out == "true\n"
    assert kpi("rules", "try", "--condition", "attainment[-1] < 80%", "--set", "attainment[-1]=79%").out == "true\n"
    missing = kpi("rules", "try", ">= 100%")
    assert missing.code == 1 and "Hint: add --value X" in missing.err


def test_the_playground_refuses_values_it_cannot_read(kpi):
    result = kpi("rules", "try", "a + 1", "--set", "a=lots")
    assert result.code == 1
    assert result.err.splitlines()[0] == "Error: --set a: 'lots' is not a number or true/false."


# --- property tests ---------------------------------------------------------------------

VALID = [
    "min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%",
    "if attainment >= 100% then bookings * 10% else if attainment >= 80% then bookings * 8% else 0",
    "attainment in [80%..100%) and not (quota = 0)",
    "round(clamp(bookings / quota, 0, 2) * target_incentive, 2)",
    "abs(attainment - attainment[-1]) > 20% or eligible",
    "x not in (0..5,000] or -x < -1,000.50",
]
ALPHABET = st.sampled_from(
    list("0123456789abqxyz_.,%+-*/()[]<>=! \n")
    + [
        "..",
        "if ",
        " then ",
        " else ",
        " and ",
        " or ",
        "not ",
        " in ",
        "min(",
        "round(",
        "**",
        "'",
        "\u00d7",
        "\uff10",
    ]
)
VALUES = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(min_value=-(10**6), max_value=10**6, places=2),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.just(Decimal(0)),
)


def _check_evaluation(formula, data) -> None:
    env = {key: data.draw(VALUES, label=key) for key in sorted(formula.keys)}
    if data.draw(st.booleans(), label="drop one") and env:
        env.pop(sorted(env)[0])
    try:
        result = formula.evaluate(env)
    except FormulaError:
        return
    assert isinstance(result, (Decimal, bool))


def _compile_any(text: str):
    for compile_ in (compile_formula, compile_condition):
        try:
            yield compile_(text)
        except FormulaError:
            pass


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(ALPHABET, max_size=30).map("".join), data=st.data())
def test_random_text_only_ever_raises_formula_errors(text, data):
    for formula in _compile_any(text):
        _check_evaluation(formula, data)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=60), data=st.data())
def test_arbitrary_unicode_only_ever_raises_formula_errors(text, data):
    for formula in _compile_any(text):
        _check_evaluation(formula, data)


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(VALID))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate"]))
        piece = draw(ALPHABET)
        if kind == "insert":
            text = text[:at] + piece + text[at:]
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=5)) :]
        elif kind == "replace":
            text = text[:at] + piece + text[at + 1 :]
        else:
            text = text[:at] + text[at : at + 8] + text[at:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated(), data=st.data())
def test_mutations_of_valid_formulas_only_ever_raise_formula_errors(text, data):
    for formula in _compile_any(text):
        _check_evaluation(formula, data)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_valid_formulas_evaluate_or_fail_cleanly_on_any_inputs(data):
    formula = compile_formula(data.draw(st.sampled_from(VALID)))
    _check_evaluation(formula, data)
