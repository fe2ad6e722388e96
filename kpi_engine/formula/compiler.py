"""Formula trees compiled to nested Python closures over exact ``Decimal`` arithmetic.

Types are checked once, here: numbers and yes/no values never mix, and a name's value is
checked when it is read. Constant parts are folded. Every arithmetic step runs in a bounded
``decimal.Context`` that traps overflow (magnitude 10^18 and above), division by zero and
undefined results; a fault becomes a ``FormulaError`` pointing at the part that caused it.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DecimalException,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Any

from ..errors import FormulaError
from .lexer import MAX_MAGNITUDE, MAX_PLACES
from .parser import Arithmetic, Boolean, Call, Choice, Compare, Logic, Name, Negate, Node, Not, Number, Within, children

__all__ = ["ANY", "BOOLEAN", "CONTEXT", "LIMIT", "NUMBER", "Evaluator", "compile_tree"]

NUMBER, BOOLEAN, ANY = "number", "yes/no value", "any"
CONTEXT = Context(prec=34, Emax=MAX_MAGNITUDE - 1, Emin=-40, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Every calculation: 34 significant digits, magnitudes below 10^18, faults raised rather than flagged."""
LIMIT = Decimal(10) ** MAX_MAGNITUDE
_ROUND_PLACES = range(-(MAX_MAGNITUDE - 1), MAX_PLACES + 1)

Value = Decimal | bool
Env = Mapping[str, Any]
Evaluator = Callable[[Env], Any]
_VARIES: Any = object()  # marks a part whose value depends on the names

_ARITHMETIC = {"+": CONTEXT.add, "-": CONTEXT.subtract, "*": CONTEXT.multiply, "/": CONTEXT.divide}
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "=": operator.eq, "!=": operator.ne}


def compile_tree(text: str, root: Node, *, want: str) -> tuple[Evaluator, str]:
    """A function of the names' values computing ``root``, and the type of its result."""
    return _Compiler(text).top(root, want)


def _join(a: str, b: str) -> str | None:
    if a == ANY:
        return b
    if b == ANY or a == b:
        return a
    return None


class _Compiler:
    def __init__(self, text: str) -> None:
        self.text = text
        self.keys: list[str] = []

    def fault(self, reason: str, node: Node, hint: str | None = None) -> FormulaError:
        return FormulaError(reason, text=self.text, position=node.position, length=node.length, hint=hint)

    def source(self, node: Node) -> str:
        return " ".join(self.text[node.position : node.end].split())

    # --- types -----------------------------------------------------------------------

    def infer(self, node: Node) -> str:
        if isinstance(node, (Number, Negate, Arithmetic, Call)):
            return NUMBER
        if isinstance(node, (Boolean, Logic, Not, Compare, Within)):
            return BOOLEAN
        if isinstance(node, Choice):
            joined = _join(self.infer(node.then), self.infer(node.otherwise))
            if joined is None:
                raise self.fault(
                    "one branch gives a number and the other a yes/no value",
                    node,
                    "both branches of an if must give numbers, or both true/false",
                )
            return joined
        return ANY

    def mismatch(self, node: Node, want: str, got: str) -> FormulaError:
        if want == NUMBER:
            return self.fault(
                f"{self.source(node)!r} is a yes/no value where a number is needed",
                node,
                "turn a condition into a number with if ... then ... else ...",
            )
        return self.fault(
            f"{self.source(node)!r} is a number where a yes/no value is needed",
            node,
            "compare it, e.g. attainment >= 100%",
        )

    # --- entry -----------------------------------------------------------------------

    def top(self, root: Node, want: str) -> tuple[Evaluator, str]:
        got = self.infer(root)
        if want == BOOLEAN and got == NUMBER:
            raise self.fault(
                "a condition must be true or false, but this gives a number",
                root,
                "compare it, e.g. >= 100% or [80%..100%)",
            )
        kind = got if want == ANY else want
        fn, constant = self.part(root, kind)
        if isinstance(constant, Decimal) and not -LIMIT < constant < LIMIT:
            raise self.too_large(root)
        if kind == BOOLEAN:
            return fn, kind
        too_large = self.too_large

        if kind == NUMBER:

            def result(env: Env) -> Any:
                value = fn(env)
                if -LIMIT < value < LIMIT:
                    return value
                raise too_large(root)

        else:

            def result(env: Env) -> Any:
                value = fn(env)
                if value.__class__ is bool or -LIMIT < value < LIMIT:
                    return value
                raise too_large(root)

        return result, kind

    def too_large(self, node: Node) -> FormulaError:
        return self.fault(
            f"the result is beyond the limit of ±10^{MAX_MAGNITUDE}", node, "check the inputs and the formula"
        )

    # --- parts: each returns (function, constant value or _VARIES) -------------------

    def part(self, node: Node, want: str) -> tuple[Evaluator, Any]:
        got = self.infer(node)
        if want != ANY and got != ANY and got != want:
            raise self.mismatch(node, want, got)
        if isinstance(node, Number):
            if not -LIMIT < node.value < LIMIT:
                raise self.fault(
                    f"the number {self.source(node)} is too large", node, f"numbers must be below 10^{MAX_MAGNITUDE}"
                )
            return _constant(node.value), node.value
        if isinstance(node, Boolean):
            return _constant(node.value), node.value
        if isinstance(node, Name):
            return self.name(node, want), _VARIES
        compile_part = {
            Arithmetic: self.arithmetic,
            Negate: self.negate,
            Logic: self.logic,
            Not: self.not_,
            Compare: self.compare,
            Within: self.within,
            Choice: self.choice,
            Call: self.call,
        }[type(node)]
        fn = compile_part(node, want)  # type: ignore[operator]
        if all(_free_of_names(child) for child in children(node)):
            return self.fold(fn)
        return fn, _VARIES

    def fold(self, fn: Evaluator) -> tuple[Evaluator, Any]:
        try:
            value = fn({})
        except FormulaError:  # a fault in constants shows when evaluated, like any other
            return fn, _VARIES
        return _constant(value), value

    def name(self, node: Name, want: str) -> Evaluator:
        key, fault = node.key, self.fault
        self.keys.append(key)
        label = (
            node.name if not node.back else f"{node.name} of {node.back} period{'s' if node.back > 1 else ''} earlier"
        )

        def missing() -> FormulaError:
            return fault(f"no value for {label!r}", node, "every name the formula uses needs a value")

        def wrong(value: Any, needed: str) -> Any:
            if isinstance(value, bool):
                if needed == NUMBER:
                    raise fault(f"{label!r} is a yes/no value where a number is needed", node)
                return value
            if isinstance(value, Decimal):
                if value.is_finite():
                    if needed == BOOLEAN:
                        raise fault(f"{label!r} is a number where a yes/no value is needed", node)
                    return value
                raise fault(f"{label!r} is {value}, not a finite number", node)
            if isinstance(value, int):
                return wrong(Decimal(value), needed)
            if isinstance(value, float):
                raise fault(f"{label!r} is a binary float", node, "pass numbers as Decimal so the cents stay exact")
            raise fault(f"{label!r} is not a number or a yes/no value", node)

        if want == NUMBER:

            def load(env: Env) -> Any:
                try:
                    value = env[key]
                except KeyError:
                    raise missing() from None
                if value.__class__ is Decimal and value.is_finite():
                    return value
                return wrong(value, NUMBER)

        elif want == BOOLEAN:

            def load(env: Env) -> Any:
                try:
                    value = env[key]
                except KeyError:
                    raise missing() from None
                if value is True or value is False:
                    return value
                return wrong(value, BOOLEAN)

        else:

            def load(env: Env) -> Any:
                try:
                    value = env[key]
                except KeyError:
                    raise missing() from None
                if value.__class__ is Decimal and value.is_finite() or value is True or value is False:
                    return value
                return wrong(value, ANY)

        return load

    def arithmetic_fault(self, error: DecimalException, node: Node, divisor: Node | None) -> FormulaError:
        if isinstance(error, (DivisionByZero,)) or divisor is not None and isinstance(error, InvalidOperation):
            assert divisor is not None
            shown = self.source(divisor)
            return self.fault(
                f"division by zero: {shown!r} is 0",
                divisor,
                f"guard the division, e.g. if {shown} != 0 then ... else 0"
                if len(shown) <= 30
                else "guard the division with if ... then ... else",
            )
        if isinstance(error, Overflow):
            return self.too_large(node)
        return self.fault("the calculation has no defined result", node)

    def arithmetic(self, node: Arithmetic, want: str) -> Evaluator:
        parts = [self.part(operand, NUMBER) for operand in node.operands]
        if len(node.operators) > 8:  # long chains loop rather than nest, keeping the call depth small
            return self.arithmetic_loop(node, parts)
        fn, constant = parts[0]
        for index, operator_ in enumerate(node.operators, start=1):
            step = _span(node.operands[0], node.operands[index])
            divisor = node.operands[index] if operator_ == "/" else None
            right, right_constant = parts[index]
            fn = self.binary(_ARITHMETIC[operator_], fn, constant, right, right_constant, step, divisor)
            constant = _VARIES
        return fn

    def binary(
        self,
        op: Callable[..., Decimal],
        left: Evaluator,
        lc: Any,
        right: Evaluator,
        rc: Any,
        node: Node,
        divisor: Node | None,
    ) -> Evaluator:
        fault = self.arithmetic_fault
        if rc is not _VARIES:

            def step(env: Env) -> Any:
                try:
                    return op(left(env), rc)
                except DecimalException as error:
                    raise fault(error, node, divisor) from None

        elif lc is not _VARIES:

            def step(env: Env) -> Any:
                try:
                    return op(lc, right(env))
                except DecimalException as error:
                    raise fault(error, node, divisor) from None

        else:

            def step(env: Env) -> Any:
                try:
                    return op(left(env), right(env))
                except DecimalException as error:
                    raise fault(error, node, divisor) from None

        return step

    def arithmetic_loop(self, node: Arithmetic, parts: list[tuple[Evaluator, Any]]) -> Evaluator:
        first = parts[0][0]
        steps = [
            (
                _ARITHMETIC[op],
                parts[i][0],
                _span(node.operands[0], node.operands[i]),
                node.operands[i] if op == "/" else None,
            )
            for i, op in enumerate(node.operators, start=1)
        ]
        fault = self.arithmetic_fault

        def loop(env: Env) -> Any:
            value = first(env)
            for op, fn, span, divisor in steps:
                try:
                    value = op(value, fn(env))
                except DecimalException as error:
                    raise fault(error, span, divisor) from None
            return value

        return loop

    def negate(self, node: Negate, want: str) -> Evaluator:
        fn, _ = self.part(node.operand, NUMBER)
        return lambda env: fn(env).copy_negate()

    def logic(self, node: Logic, want: str) -> Evaluator:
        fns = [self.part(operand, BOOLEAN)[0] for operand in node.operands]
        if node.operator == "and":
            if len(fns) == 2:
                a, b = fns
                return lambda env: a(env) and b(env)

            def every(env: Env) -> bool:
                for fn in fns:
                    if not fn(env):
                        return False
                return True

            return every
        if len(fns) == 2:
            a, b = fns
            return lambda env: a(env) or b(env)

        def some(env: Env) -> bool:
            for fn in fns:
                if fn(env):
                    return True
            return False

        return some

    def not_(self, node: Not, want: str) -> Evaluator:
        fn, _ = self.part(node.operand, BOOLEAN)
        return lambda env: not fn(env)

    def compare(self, node: Compare, want: str) -> Evaluator:
        op = _ORDER[node.operator]
        if node.operator in ("=", "!="):
            kinds = _join(self.infer(node.left), self.infer(node.right))
            if kinds is None:
                raise self.fault(
                    "a number is compared with a yes/no value",
                    node,
                    "compare numbers with numbers and true/false with true/false",
                )
        else:
            kinds = NUMBER
        (left, _), (right, rc) = self.part(node.left, kinds), self.part(node.right, kinds)
        if kinds == ANY:
            fault = self.fault

            def same_kind(env: Env) -> bool:
                a, b = left(env), right(env)
                if (a.__class__ is bool) is not (b.__class__ is bool):
                    raise fault("a number is compared with a yes/no value", node)
                return op(a, b)

            return same_kind
        if rc is not _VARIES:
            return lambda env: op(left(env), rc)
        return lambda env: op(left(env), right(env))

    def within(self, node: Within, want: str) -> Evaluator:
        subject, _ = self.part(node.subject, NUMBER)
        low, lc = self.part(node.low, NUMBER) if node.low else (None, None)
        high, hc = self.part(node.high, NUMBER) if node.high else (None, None)
        above = operator.ge if node.low_closed else operator.gt
        below = operator.le if node.high_closed else operator.lt
        if (
            lc is not _VARIES
            and hc is not _VARIES
            and lc is not None
            and hc is not None
            and not (lc < hc or lc == hc and node.low_closed and node.high_closed)
        ):
            raise self.fault(
                f"the interval from {lc} to {hc} holds no value", node, "the lower bound comes first: [80%..100%)"
            )
        negated = node.negated
        if low is None:
            assert high is not None

            def test(env: Env) -> bool:
                return below(subject(env), high(env))

        elif high is None:

            def test(env: Env) -> bool:
                return above(subject(env), low(env))

        elif lc is not _VARIES and hc is not _VARIES:
            assert lc is not None and hc is not None  # both bounds are written, and both are constants
            low_value, high_value = lc, hc

            def test(env: Env) -> bool:
                value = subject(env)
                return above(value, low_value) and below(value, high_value)

        else:
            fault = self.fault

            def test(env: Env) -> bool:
                value, bottom, top = subject(env), low(env), high(env)
                if bottom > top:
                    raise fault(f"the interval's lower bound {bottom} is above its upper bound {top}", node)
                return above(value, bottom) and below(value, top)

        if negated:
            return lambda env: not test(env)
        return test

    def choice(self, node: Choice, want: str) -> Evaluator:
        kind = want if want != ANY else self.infer(node)
        condition, cc = self.part(node.condition, BOOLEAN)
        then, _ = self.part(node.then, kind)
        otherwise, _ = self.part(node.otherwise, kind)
        if cc is not _VARIES:
            return then if cc else otherwise
        return lambda env: then(env) if condition(env) else otherwise(env)

    def call(self, node: Call, want: str) -> Evaluator:
        parts = [self.part(argument, NUMBER) for argument in node.arguments]
        fns = [fn for fn, _ in parts]
        name = node.function
        if name in ("min", "max"):
            pick = operator.le if name == "min" else operator.ge
            if len(parts) == 2:
                (a, _), (b, bc) = parts
                if bc is not _VARIES:

                    def pick_constant(env: Env) -> Any:
                        x = a(env)
                        return x if pick(x, bc) else bc

                    return pick_constant

                def pick_two(env: Env) -> Any:
                    x, y = a(env), b(env)
                    return x if pick(x, y) else y

                return pick_two
            builtin = min if name == "min" else max
            return lambda env: builtin([fn(env) for fn in fns])
        if name == "abs":
            (a,) = fns
            return lambda env: a(env).copy_abs()
        if name == "clamp":
            return self.clamp(node, fns)
        return self.round(node, parts)

    def clamp(self, node: Call, fns: list[Evaluator]) -> Evaluator:
        value, low, high = fns
        fault = self.fault

        def clamp(env: Env) -> Any:
            x, bottom, top = value(env), low(env), high(env)
            if bottom > top:
                raise fault(
                    f"clamp's low bound {bottom} is above its high bound {top}", node, "write clamp(x, low, high)"
                )
            return bottom if x < bottom else min(x, top)

        return clamp

    def round(self, node: Call, parts: list[tuple[Evaluator, Any]]) -> Evaluator:
        value = parts[0][0]
        places_node = node.arguments[1] if len(parts) > 1 else None
        places_fn, places_constant = parts[1] if len(parts) > 1 else (None, Decimal(0))
        fault = self.fault
        where = places_node or node

        def exponent(places: Decimal) -> Decimal:
            if not -100 < places < 100 or places != places.to_integral_value() or int(places) not in _ROUND_PLACES:
                raise fault(
                    f"round takes a whole number of places from {_ROUND_PLACES.start} to {_ROUND_PLACES.stop - 1}, not "
                    f"{places}",
                    where,
                    "write round(x, 2) for cents",
                )
            return Decimal(1).scaleb(-int(places))

        def rounded(x: Decimal, exp: Decimal) -> Decimal:
            try:
                return x.quantize(exp, rounding=ROUND_HALF_UP, context=CONTEXT)
            except DecimalException as error:
                raise self.arithmetic_fault(error, node, None) from None

        if places_constant is not _VARIES:
            exp = exponent(places_constant)
            return lambda env: rounded(value(env), exp)
        assert places_fn is not None
        return lambda env: rounded(value(env), exponent(places_fn(env)))


def _constant(value: Any) -> Evaluator:
    return lambda env: value


def _span(first: Node, last: Node) -> Node:
    return Node(first.position, last.end)


def _free_of_names(node: Node) -> bool:
    """Whether ``node`` can be computed once, at compile time (it reads no name)."""
    if isinstance(node, Name):
        return False
    return all(_free_of_names(child) for child in children(node))
