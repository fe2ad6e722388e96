"""The plan formula language: what HR writes and what it computes, exactly, in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from kpi_engine import (
    ConditionText,
    Formula,
    FormulaError,
    FormulaText,
    KPIError,
    compile_condition,
    compile_formula,
)

D = Decimal


def value(text: str, **env: object) -> Decimal | bool:
    return compile_formula(text).evaluate({k: D(v) if isinstance(v, (str, int)) else v for k, v in env.items()})  # type: ignore[misc]


# --- arithmetic and numbers -----------------------------------------------------------


def test_decimal_arithmetic_is_exact():
    assert value("0.1 + 0.2") == D("0.3")
    assert value("0.1 + 0.2 - 0.3") == 0
    assert value("1 / 4") == D("0.25")
    assert isinstance(value("1 / 3"), Decimal)


def test_the_seed_commission_formula_pays_5_percent_to_quota_and_8_percent_above():
    formula = compile_formula("min(bookings, quota) * 5% + max(bookings - quota, 0) * 8%")
    assert formula.evaluate({"bookings": D("120000"), "quota": D("100000")}) == D("6600")
    assert formula.evaluate({"bookings": D("80000"), "quota": D("100000")}) == D("4000")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", "7"),
        ("(1 + 2) * 3", "9"),
        ("10 - 4 - 3", "3"),
        ("100 / 10 / 2", "5"),
        ("2 * 3 - 4 / 2", "4"),
        ("-2 * 3", "-6"),
        ("- -2", "2"),
        ("+5 - -5", "10"),
        ("-(1 + 2)", "-3"),
        ("10 - 2 * -3", "16"),
    ],
)
def test_multiplication_binds_tighter_than_addition_and_both_group_left(text, expected):
    assert value(text) == D(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5%", "0.05"), ("12.5%", "0.125"), ("100%", "1"), ("0.5%", "0.005"), ("200,000 * 5%", "10000"), ("-3%", "-0.03")],
)
def test_percent_literals_are_hundredths(text, expected):
    assert value(text) == D(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("100,000", "100000"), ("1,234,567.89", "1234567.89"), ("12,500.00", "12500"), ("1000000", "1000000")],
)
def test_numbers_may_group_thousands_with_commas(text, expected):
    assert value(text) == D(expected)


def test_a_comma_with_a_space_separates_function_arguments():
    assert value("max(1, 000)") == 1
    assert value("min(100, 200)") == 100


# --- comparisons, logic and choices ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 < 2", True),
        ("2 <= 2", True),
        ("3 > 4", False),
        ("4 >= 4.0", True),
        ("1 = 1.00", True),
        ("1 == 2", False),
        ("1 != 2", True),
        ("100% = 1", True),
        ("true = true", True),
        ("true != false", True),
    ],
)
def test_comparisons_give_true_or_false(text, expected):
    assert value(text) is expected


def test_and_binds_tighter_than_or_and_not_applies_to_a_whole_comparison():
    assert value("true or false and false") is True
    assert value("(true or false) and false") is False
    assert value("not 1 > 2") is True
    assert value("not true and false") is False
    assert value("1 + 1 = 2 and 2 * 2 = 4") is True


def test_and_or_stop_at_the_first_deciding_operand():
    # the right side would divide by zero; it is never evaluated
    assert value("quota = 0 or bookings / quota > 1", quota=0, bookings=5) is True
    assert value("quota != 0 and bookings / quota > 1", quota=0, bookings=5) is False


def test_if_evaluates_only_the_branch_taken():
    formula = compile_formula("if quota > 0 then bookings / quota else 0")
    assert formula.evaluate({"quota": D(0), "bookings": D(5)}) == 0
    assert formula.evaluate({"quota": D(4), "bookings": D(5)}) == D("1.25")


def test_else_if_chains_pick_the_first_true_condition():
    ladder = compile_formula("if attainment >= 120% then 10% else if attainment >= 100% then 8% else 5%")
    assert [ladder.evaluate({"attainment": D(a)}) for a in ("1.3", "1.2", "1.0", "0.99")] == [
        D("0.10"),
        D("0.10"),
        D("0.08"),
        D("0.05"),
    ]


def test_else_takes_the_rest_of_the_expression():
    assert value("if false then 1 else 2 + 3") == 5
    assert value("1 + (if true then 1 else 0)") == 2


def test_keywords_and_functions_are_case_insensitive_names_are_not():
    assert value("IF TRUE THEN MIN(1, 2) ELSE 0") == 1
    with pytest.raises(FormulaError, match="no value for 'Bookings'"):
        compile_formula("Bookings").evaluate({"bookings": D(1)})


# --- intervals ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval", "inside", "outside"),
    [
        ("[80%..100%)", ["0.8", "0.9", "0.9999"], ["0.7999", "1"]),
        ("(80%..100%]", ["0.8001", "1"], ["0.8", "1.0001"]),
        ("[80%..100%]", ["0.8", "1"], ["0.79", "1.01"]),
        ("(0..5000)", ["0.01", "4999.99"], ["0", "5000"]),
        ("[100%..)", ["1", "5"], ["0.9999"]),
        ("(..0]", ["-5", "0"], ["0.01"]),
    ],
)
def test_intervals_include_square_bracket_ends_and_exclude_round_ones(interval, inside, outside):
    test = compile_formula(f"attainment in {interval}")
    assert [test.evaluate({"attainment": D(v)}) for v in inside] == [True] * len(inside)
    assert [test.evaluate({"attainment": D(v)}) for v in outside] == [False] * len(outside)


def test_not_in_is_the_opposite_of_in():
    assert value("x not in [1..2]", x=3) is True
    assert value("x not in [1..2]", x=2) is False


def test_interval_bounds_may_be_formulas():
    assert value("bookings in [quota * 80%..quota)", bookings=85, quota=100) is True


# --- conditions -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subject", "expected"),
    [
        (">= 100%", "1", True),
        (">= 100%", "0.99", False),
        ("< 80%", "0.79", True),
        ("= 0", "0", True),
        ("[80%..100%)", "0.8", True),
        ("(0..5000]", "5000", True),
        ("(0..5000]", "0", False),
        ("[100%..)", "3", True),
        (">= 80% and < 100%", "0.9", True),
        ("in [1..2]", "1.5", True),
    ],
)
def test_a_condition_starting_with_a_comparison_or_interval_tests_its_subject(text, subject, expected):
    condition = compile_condition(text)
    assert condition.is_condition
    assert condition.references == frozenset({("value", 0)})
    assert condition.evaluate({"value": D(subject)}) is expected


def test_a_condition_subject_can_be_named():
    condition = compile_condition(">= 100%", subject="attainment")
    assert condition.names == frozenset({"attainment"})
    assert condition.evaluate({"attainment": D("1.1")}) is True


def test_any_other_condition_is_a_full_yes_no_formula():
    condition = compile_condition("attainment[-1] < 80% and attainment[-2] < 80%")
    assert condition.references == frozenset({("attainment", 1), ("attainment", 2)})
    assert condition.names == frozenset()
    assert condition.evaluate({"attainment[-1]": D("0.7"), "attainment[-2]": D("0.75")}) is True
    assert compile_condition("(bookings > 0)").evaluate({"bookings": D(1)}) is True


def test_a_condition_that_gives_a_number_is_refused():
    with pytest.raises(FormulaError, match="a condition must be true or false"):
        compile_condition("bookings * 5%")


# --- functions ------------------------------------------------------------------------


def test_min_and_max_take_two_or_more_values():
    assert value("min(3, 1, 2)") == 1
    assert value("max(3, 1, 2, 7)") == 7
    assert value("max(a, b)", a=-1, b=-2) == -1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("round(2.345, 2)", "2.35"),
        ("round(2.5, 0)", "3"),
        ("round(-2.5, 0)", "-3"),
        ("round(0.125, 2)", "0.13"),
        ("round(1234.5)", "1235"),
        ("round(1250, -2)", "1.3E+3"),
    ],
)
def test_round_is_half_up(text, expected):
    assert value(text) == D(expected)


def test_abs_and_clamp():
    assert value("abs(-4.5)") == D("4.5")
    assert value("clamp(x, 0, 10)", x=-3) == 0
    assert value("clamp(x, 0, 10)", x=30) == 10
    assert value("clamp(x, 0, 10)", x=7) == 7


# --- names and earlier periods --------------------------------------------------------


def test_references_name_each_period_looked_at():
    formula = compile_formula("attainment[-1] + attainment + bookings[-12] * 0")
    assert formula.references == frozenset({("attainment", 1), ("attainment", 0), ("bookings", 12)})
    assert formula.names == frozenset({"attainment"})
    assert formula.keys == frozenset({"attainment[-1]", "attainment", "bookings[-12]"})


def test_earlier_periods_are_read_by_their_key():
    formula = compile_formula("attainment - attainment[-1]")
    assert formula.evaluate({"attainment": D("0.9"), "attainment[-1]": D("0.7")}) == D("0.2")


def test_names_restrict_the_names_a_formula_may_use():
    assert compile_formula("bookings * 5%", names={"bookings", "quota"}).names == {"bookings"}
    with pytest.raises(FormulaError, match="unknown name 'bokings'") as caught:
        compile_formula("bokings * 5%", names={"bookings", "quota"})
    assert caught.value.hint == "did you mean 'bookings'?"


def test_booleans_from_the_inputs_drive_conditions():
    formula = compile_formula("if eligible then 100 else 0")
    assert formula.evaluate({"eligible": True}) == 100
    assert formula.evaluate({"eligible": False}) == 0


def test_whole_numbers_are_accepted_as_inputs():
    assert compile_formula("bookings * 2").evaluate({"bookings": 21}) == 42


# --- the Formula object ---------------------------------------------------------------


def test_a_formula_is_immutable_and_compares_by_its_text():
    formula = compile_formula("a + 1")
    with pytest.raises(AttributeError):
        formula.text = "a + 2"  # type: ignore[misc]
    assert formula == compile_formula("a + 1")
    assert formula != compile_condition("a + 1 > 2")
    assert hash(formula) == hash(compile_formula("a + 1"))
    assert str(formula) == "a + 1"
    assert not formula.is_condition
    assert compile_formula("a > 1").is_condition


def test_formula_error_is_a_kpi_error_with_position_length_and_caret():
    with pytest.raises(KPIError) as caught:
        compile_formula("bookings * rate(2)")
    error = caught.value
    assert isinstance(error, FormulaError)
    assert (error.text, error.position, error.length) == ("bookings * rate(2)", 11, 4)
    assert error.caret() == "bookings * rate(2)\n           ^^^^"


# --- config models --------------------------------------------------------------------


class Rule(BaseModel):
    rate: FormulaText
    when: ConditionText = compile_condition(">= 0%")


def test_formula_text_compiles_strings_and_bare_numbers_in_config_models():
    rule = Rule.model_validate({"rate": "min(bookings, quota) * 5%", "when": "[80%..100%)"})
    assert isinstance(rule.rate, Formula)
    assert rule.rate.names == {"bookings", "quota"}
    assert rule.when.evaluate({"value": D("0.9")}) is True
    assert Rule.model_validate({"rate": 500}).rate.evaluate({}) == 500
    assert Rule.model_validate({"rate": D("0.05")}).rate.evaluate({}) == D("0.05")
    assert rule.model_dump() == {"rate": "min(bookings, quota) * 5%", "when": "[80%..100%)"}


def test_formula_text_errors_name_the_problem_and_the_column():
    with pytest.raises(ValidationError) as caught:
        Rule.model_validate({"rate": "exec('id')"})
    (problem,) = caught.value.errors()
    assert problem["msg"].startswith("Value error, unknown function 'exec' at column 1. ")
    cause = problem["ctx"]["error"].__cause__
    assert isinstance(cause, FormulaError) and cause.position == 0


def test_condition_text_errors_point_into_the_condition():
    with pytest.raises(ValidationError, match=r"unknown function 'foo' at column 9"):
        Rule.model_validate({"rate": "1", "when": "value > foo(1)"})


def test_config_models_refuse_binary_floats():
    with pytest.raises(ValidationError, match="binary float"):
        Rule.model_validate({"rate": 0.05})
