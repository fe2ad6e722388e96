"""Formula errors: one sentence, the exact position of the fault, a caret under it and a hint."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_engine import FormulaError, compile_condition, compile_formula

D = Decimal


def compile_error(text: str, **kwargs: object) -> FormulaError:
    with pytest.raises(FormulaError) as caught:
        compile_formula(text, **kwargs)  # type: ignore[arg-type]
    return caught.value


def runtime_error(text: str, env: dict[str, object]) -> FormulaError:
    formula = compile_formula(text)
    with pytest.raises(FormulaError) as caught:
        formula.evaluate(env)  # type: ignore[arg-type]
    return caught.value


@pytest.mark.parametrize(
    ("text", "reason", "caret"),
    [
        ("bookings * rate(2)", "unknown function 'rate'", "           ^^^^"),
        ("min(a)", "min takes at least 2 values, not 1", "^^^^^^"),
        ("clamp(x, 1)", "clamp takes 3 values, not 2", "^^^^^^^^^^^"),
        ("a +", "the formula ends where a value is expected", "   ^"),
        ("a b", "'b' follows a value without an operator between them", "  ^"),
        ("(a + 1", "this '(' is never closed", "^"),
        ("a + 1)", "')' closes nothing", "     ^"),
        ("1 < x < 3", "comparisons cannot be chained", "      ^"),
        ("true * 2", "'true' is a yes/no value where a number is needed", "^^^^"),
        ("if 1 then 2 else 3", "'1' is a number where a yes/no value is needed", "   ^"),
        ("if a > 1 then 2 else true", "one branch gives a number and the other a yes/no value", "^" * 25),
        ("if a > 1 then 2", "an if needs an else", "^" * 15),
        ("x in 1..2", "an interval is expected after 'in' but found '1'", "     ^"),
        ("x in [2..1]", "the interval from 2 to 1 holds no value", "^" * 11),
        ("x in (..)", "an interval needs at least one bound", "     ^^^^"),
        ("a[0]", "only an earlier period can follow a name in brackets", " ^^^"),
        ("a[-37]", "a name can look back 1 to 36 periods, not 37", "   ^^"),
        ("1e6", "the number '1' runs into 'e'", "^^"),
        ("1.", "a decimal point needs digits after it", " ^"),
        (".5", "a number needs a digit before its decimal point", "^"),
        ("5 % 2", "'%' only follows a number, as in 5%", "  ^"),
        ("2 ^ 8", "there is no power operator", "  ^"),
        ("a <> b", "'<>' is not an operator", "  ^^"),
        ("a && b", "'&&' is not an operator", "  ^^"),
        ("1 = true", "a number is compared with a yes/no value", "^^^^^^^^"),
        ("", "the formula is empty", "^"),
        ("round(1, 1.5)", "round takes a whole number of places from -17 to 15, not 1.5", "         ^^^"),
    ],
)
def test_compile_errors_point_at_the_offending_span(text, reason, caret):
    error = compile_error(text)
    assert error.reason == reason
    assert error.caret() == f"{text}\n{caret}"
    assert error.message.startswith(f"{reason} at column {error.position + 1} of the formula ")


def test_unknown_names_and_functions_suggest_the_nearest():
    assert compile_error("mni(a, b)").hint == "did you mean min? the functions are abs, clamp, max, min, round"
    error = compile_error("attainmnet >= 100%", names=["attainment", "bookings"])
    assert (error.reason, error.hint) == ("unknown name 'attainmnet'", "did you mean 'attainment'?")
    assert compile_error("zzz", names=["attainment"]).hint == "known names: attainment"


def test_thousands_grouping_inside_a_call_gets_a_hint():
    error = compile_error("clamp(x,100,200)")
    assert error.reason == "clamp takes 3 values, not 2"
    assert "put a space after commas between arguments" in (error.hint or "")


def test_errors_in_a_formula_over_several_lines_give_line_and_column():
    error = compile_error("min(a,\n    b) +\n  foo(1)")
    assert error.location == "line 3, column 3"
    assert error.caret() == "  foo(1)\n  ^^^"


def test_a_long_formula_shows_the_part_around_the_fault():
    text = "a + " * 40 + "foo(1)" + " + a" * 40
    caret = compile_error(text).caret()
    line, marks = caret.splitlines()
    assert len(line) <= 78 and line.startswith("...") and line.endswith("...")
    assert line[marks.index("^") :].startswith("foo")


# --- faults while evaluating ------------------------------------------------------------


def test_division_by_zero_points_at_the_divisor_and_suggests_a_guard():
    error = runtime_error("bookings / quota", {"bookings": D(1), "quota": D(0)})
    assert error.reason == "division by zero: 'quota' is 0"
    assert error.caret() == "bookings / quota\n           ^^^^^"
    assert error.hint == "guard the division, e.g. if quota != 0 then ... else 0"
    assert runtime_error("0 / x", {"x": D(0)}).reason == "division by zero: 'x' is 0"


def test_a_missing_name_is_named():
    error = runtime_error("bookings * rate", {"bookings": D(1)})
    assert error.reason == "no value for 'rate'"
    assert error.position == 11
    assert runtime_error("attainment[-2] > 1", {}).reason == "no value for 'attainment of 2 periods earlier'"


@pytest.mark.parametrize(
    ("text", "env", "reason"),
    [
        ("a + 1", {"a": True}, "'a' is a yes/no value where a number is needed"),
        ("if a then 1 else 0", {"a": D(1)}, "'a' is a number where a yes/no value is needed"),
        ("a + 1", {"a": 0.5}, "'a' is a binary float"),
        ("a + 1", {"a": "12"}, "'a' is not a number or a yes/no value"),
        ("a + 1", {"a": D("NaN")}, "'a' is NaN, not a finite number"),
        ("a", {"a": D("-Infinity")}, "'a' is -Infinity, not a finite number"),
        ("a = b", {"a": D(1), "b": True}, "a number is compared with a yes/no value"),
        ("clamp(x, hi, lo)", {"x": D(1), "hi": D(5), "lo": D(0)}, "clamp's low bound 5 is above its high bound 0"),
    ],
)
def test_values_of_the_wrong_kind_are_refused_by_name(text, env, reason):
    assert runtime_error(text, env).reason == reason


def test_results_must_stay_below_10_to_the_18():
    assert compile_formula("999,999,999,999,999,999").evaluate({}) == D("999999999999999999")
    assert compile_error("1,000,000,000,000,000,000").reason == "the number '1,000,000,000,000,000,000' is too large"
    error = runtime_error("a * a", {"a": D("1000000000")})
    assert error.reason == "the result is beyond the limit of ±10^18"
    assert runtime_error("a", {"a": D("1E+30")}).reason == "the result is beyond the limit of ±10^18"
    assert runtime_error("a - 1", {"a": D("-999999999999999999")}).reason == "the result is beyond the limit of ±10^18"


def test_a_constant_fault_is_reported_when_evaluated():
    formula = compile_formula("if a then 1 / 0 else 2")
    assert formula.evaluate({"a": False}) == 2
    with pytest.raises(FormulaError, match="division by zero"):
        formula.evaluate({"a": True})


def test_condition_errors_point_into_the_condition_text():
    with pytest.raises(FormulaError) as caught:
        compile_condition(">= 100%%")
    assert caught.value.position == 7
