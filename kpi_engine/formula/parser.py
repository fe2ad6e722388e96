"""A Pratt parser for plan formulas: tokens in, a small tree of ``Node`` objects out.

Recursion is bounded by an explicit depth counter and the tree by a node counter, so a hostile
text is refused after at most ``MAX_DEPTH`` nested calls and ``MAX_NODES`` nodes, whatever its size.

Binding powers, loosest first: ``if``, ``or``, ``and``, ``not``, comparisons and ``in``,
``+ -``, ``* /``, unary minus. Comparisons do not chain; ``+ -``, ``* /``, ``and`` and ``or``
chains become one node with several operands.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from decimal import Decimal

from ..errors import FormulaError
from .lexer import MAX_BACK, MAX_DEPTH, MAX_NODES, Lexer, Token

__all__ = [
    "FUNCTIONS",
    "Arithmetic",
    "Boolean",
    "Call",
    "Choice",
    "Compare",
    "Logic",
    "Name",
    "Negate",
    "Node",
    "Not",
    "Number",
    "Within",
    "children",
    "parse",
]

FUNCTIONS: dict[str, tuple[int, int | None, str]] = {
    "abs": (1, 1, "abs(x)"),
    "clamp": (3, 3, "clamp(x, low, high)"),
    "max": (2, None, "max(a, b, ...)"),
    "min": (2, None, "min(a, b, ...)"),
    "round": (1, 2, "round(x, places)"),
}
"""The only functions: name -> (fewest arguments, most arguments or None, usage)."""

COMPARISONS = frozenset({"<", "<=", ">", ">=", "=", "==", "!="})
_POWER = {"or": 10, "and": 20, "in": 40, "+": 50, "-": 50, "*": 60, "/": 60} | dict.fromkeys(COMPARISONS, 40)
_NOT_POWER, _UNARY_POWER, _COMPARE_POWER = 30, 70, 40
_FOREIGN_WORDS = frozenset({"lambda", "import", "from", "def", "class", "for", "while", "elif", "none", "is", "return"})


class Node:
    """A part of a formula with the span of text it came from and the height of its subtree."""

    __slots__ = ("end", "height", "position")

    position: int
    end: int
    height: int

    def __init__(self, position: int, end: int, *children: Node) -> None:
        self.position, self.end = position, end
        self.height = 1 + max((c.height for c in children), default=0)

    @property
    def length(self) -> int:
        return max(1, self.end - self.position)


class Number(Node):
    __slots__ = ("value",)

    def __init__(self, value: Decimal, position: int, end: int) -> None:
        super().__init__(position, end)
        self.value = value


class Boolean(Node):
    __slots__ = ("value",)

    def __init__(self, value: bool, position: int, end: int) -> None:
        super().__init__(position, end)
        self.value = value


class Name(Node):
    """A metric, target or rule result; ``back`` periods earlier (0 = this period)."""

    __slots__ = ("back", "name")

    def __init__(self, name: str, back: int, position: int, end: int) -> None:
        super().__init__(position, end)
        self.name, self.back = name, back

    @property
    def key(self) -> str:
        return self.name if not self.back else f"{self.name}[-{self.back}]"


class Negate(Node):
    __slots__ = ("operand",)

    def __init__(self, operand: Node, position: int) -> None:
        super().__init__(position, operand.end, operand)
        self.operand = operand


class Arithmetic(Node):
    """``operands[0] op[0] operands[1] op[1] ...`` with operators all from ``+ -`` or all from ``* /``."""

    __slots__ = ("operands", "operators")

    def __init__(self, first: Node) -> None:
        super().__init__(first.position, first.end, first)
        self.operands: list[Node] = [first]
        self.operators: list[str] = []

    def add(self, operator: str, operand: Node) -> None:
        self.operators.append(operator)
        self.operands.append(operand)
        self.end = operand.end
        self.height = max(self.height, operand.height + 1)


class Logic(Node):
    """``and`` / ``or`` over two or more operands, evaluated left to right with short circuit."""

    __slots__ = ("operands", "operator")

    def __init__(self, operator: str, first: Node) -> None:
        super().__init__(first.position, first.end, first)
        self.operator = operator
        self.operands: list[Node] = [first]

    def add(self, operand: Node) -> None:
        self.operands.append(operand)
        self.end = operand.end
        self.height = max(self.height, operand.height + 1)


class Not(Node):
    __slots__ = ("operand",)

    def __init__(self, operand: Node, position: int) -> None:
        super().__init__(position, operand.end, operand)
        self.operand = operand


class Compare(Node):
    __slots__ = ("left", "operator", "right")

    def __init__(self, operator: str, left: Node, right: Node) -> None:
        super().__init__(left.position, right.end, left, right)
        self.operator = "=" if operator == "==" else operator
        self.left, self.right = left, right


class Within(Node):
    """``subject in [low..high)``: either bound may be missing (unbounded on that side)."""

    __slots__ = ("high", "high_closed", "low", "low_closed", "negated", "subject")

    def __init__(
        self,
        subject: Node,
        low: Node | None,
        high: Node | None,
        low_closed: bool,
        high_closed: bool,
        negated: bool,
        position: int,
        end: int,
    ) -> None:
        super().__init__(position, end, *(n for n in (subject, low, high) if n is not None))
        self.subject, self.low, self.high = subject, low, high
        self.low_closed, self.high_closed, self.negated = low_closed, high_closed, negated


class Choice(Node):
    """``if condition then a else b``: only the branch taken is evaluated."""

    __slots__ = ("condition", "otherwise", "then")

    def __init__(self, condition: Node, then: Node, otherwise: Node, position: int) -> None:
        super().__init__(position, otherwise.end, condition, then, otherwise)
        self.condition, self.then, self.otherwise = condition, then, otherwise


class Call(Node):
    __slots__ = ("arguments", "function")

    def __init__(self, function: str, arguments: list[Node], position: int, end: int) -> None:
        super().__init__(position, end, *arguments)
        self.function, self.arguments = function, arguments


def children(node: Node) -> list[Node]:
    """The direct parts of ``node``, in reading order."""
    if isinstance(node, Arithmetic):
        return list(node.operands)
    if isinstance(node, Logic):
        return list(node.operands)
    if isinstance(node, (Negate, Not)):
        return [node.operand]
    if isinstance(node, Compare):
        return [node.left, node.right]
    if isinstance(node, Within):
        return [n for n in (node.subject, node.low, node.high) if n is not None]
    if isinstance(node, Choice):
        return [node.condition, node.then, node.otherwise]
    if isinstance(node, Call):
        return list(node.arguments)
    return []


def parse(text: str, *, names: Collection[str] | None = None, subject: str | None = None) -> Node:
    """The tree of ``text``; with ``subject``, a condition that may start with ``>=`` or an interval."""
    return _Parser(text, names, subject).parse()


class _Parser:
    def __init__(self, text: str, names: Collection[str] | None, subject: str | None) -> None:
        self.text = text
        self.lexer = Lexer(text)
        self.names = None if names is None else frozenset(names) | ({subject} if subject else set())
        self.subject = subject
        self.implicit = False  # the condition starts with a comparison or an interval
        self.start = 0  # where the first token is
        self.depth = 0
        self.count = 0

    # --- helpers ---------------------------------------------------------------------

    def fail(self, reason: str, position: int, length: int = 1, hint: str | None = None) -> FormulaError:
        return FormulaError(reason, text=self.text, position=position, length=length, hint=hint)

    def made(self, node: Node) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise self.fail(
                f"the formula has more than {MAX_NODES:,} parts",
                node.position,
                node.length,
                "split it into several rules",
            )
        if node.height > MAX_DEPTH:
            raise self.fail(
                f"the formula nests more than {MAX_DEPTH} levels deep",
                node.position,
                node.length,
                "split it into several rules",
            )
        return node

    def is_op(self, token: Token, *texts: str) -> bool:
        return token.kind == "op" and token.text in texts

    def is_word(self, token: Token, *words: str) -> bool:
        return token.kind == "keyword" and token.text.lower() in words

    def expect(self, text: str, what: str) -> Token:
        token = self.lexer.next()
        if token.kind == "op" and token.text == text or token.kind == "keyword" and token.text.lower() == text:
            return token
        raise self.unexpected(token, what)

    def unexpected(self, token: Token, what: str) -> FormulaError:
        if (
            token.kind in ("number", "name")
            or self.is_word(token, "true", "false", "if", "not")
            or self.is_op(token, "(")
        ):
            return self.fail(
                f"{token.describe()} follows a value without an operator between them",
                token.position,
                len(token.text),
                "add an operator (+ - * / and or) or, between function arguments, a comma",
            )
        if token.kind == "end":
            return self.fail(f"the formula ends where {what} is expected", token.position)
        return self.fail(f"expected {what} but found {token.describe()}", token.position, len(token.text))

    # --- grammar ---------------------------------------------------------------------

    def parse(self) -> Node:
        first = self.lexer.peek()
        if first.kind == "end":
            raise self.fail("the formula is empty", 0, hint="write a value, e.g. bookings * 5%")
        self.start = first.position
        if self.subject is not None and (
            first.kind == "op" and first.text in COMPARISONS | {"["} or self.is_word(first, "in")
        ):
            self.implicit = True
        node = self.expression(0)
        end = self.lexer.peek()
        if end.kind != "end":
            if self.is_op(end, ")", "]"):
                raise self.fail(f"{end.text!r} closes nothing", end.position)
            raise self.unexpected(end, "the end of the formula")
        return node

    def expression(self, power: int) -> Node:
        token = self.lexer.peek()
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.fail(
                f"the formula nests more than {MAX_DEPTH} levels deep",
                token.position,
                hint="split it into several rules",
            )
        left = self.infix(self.prefix(), power)
        self.depth -= 1
        return left

    def infix_power(self, token: Token) -> int:
        if token.kind == "op":
            return _POWER.get(token.text, 0)
        if token.kind == "keyword":
            word = token.text.lower()
            if word == "not" and self.is_word(self.lexer.peek(1), "in"):
                return _COMPARE_POWER
            return _POWER.get(word, 0) if word in ("and", "or", "in") else 0
        return 0

    def infix(self, left: Node, power: int) -> Node:
        chain: Arithmetic | Logic | None = None
        compared = False
        while True:
            token = self.lexer.peek()
            strength = self.infix_power(token)
            if strength <= power:
                return left
            self.lexer.next()
            operator = token.text.lower() if token.kind == "keyword" else token.text
            if strength == _COMPARE_POWER:
                if compared:
                    raise self.fail(
                        "comparisons cannot be chained",
                        token.position,
                        len(token.text),
                        "write x in [low..high) or low <= x and x < high",
                    )
                compared = True
                if operator in ("in", "not"):
                    if operator == "not":
                        self.lexer.next()
                    left = self.made(self.interval(left, negated=operator == "not"))
                else:
                    left = self.made(Compare(operator, left, self.expression(_COMPARE_POWER)))
                chain = None
                continue
            right = self.expression(strength)
            if operator in ("and", "or"):
                if not (isinstance(chain, Logic) and chain.operator == operator):
                    chain = Logic(operator, left)
                chain.add(right)
            else:
                same = isinstance(chain, Arithmetic) and chain.operators and _POWER[chain.operators[0]] == strength
                if not same:
                    chain = Arithmetic(left)
                assert isinstance(chain, Arithmetic)
                chain.add(operator, right)
            left = self.made(chain)

    def prefix(self) -> Node:
        token = self.lexer.next()
        if token.kind == "number":
            assert token.value is not None
            return self.made(Number(token.value, token.position, token.end))
        if token.kind == "name":
            return self.name(token)
        if token.kind == "keyword":
            word = token.text.lower()
            if word in ("true", "false"):
                return self.made(Boolean(word == "true", token.position, token.end))
            if word == "not":
                return self.made(Not(self.expression(_NOT_POWER), token.position))
            if word == "if":
                return self.choice(token)
            if word == "in" and self.implicit and self.subject:
                return self.made(self.interval(self.implicit_subject(token), negated=False))
            raise self.fail(f"expected a value but found {token.describe()}", token.position, len(token.text))
        if token.kind == "op":
            if token.text == "(":
                return self.group(token)
            if token.text == "-":
                operand = self.expression(_UNARY_POWER)
                if isinstance(operand, Number):
                    return self.made(Number(-operand.value, token.position, operand.end))
                return self.made(Negate(operand, token.position))
            if token.text == "+":
                return self.expression(_UNARY_POWER)
            if self.implicit and self.subject and token.text in COMPARISONS:
                return self.made(Compare(token.text, self.implicit_subject(token), self.expression(_COMPARE_POWER)))
            if token.text == "[" and self.implicit and self.subject:
                return self.made(self.interval(self.implicit_subject(token), negated=False, opened=token))
            if token.text == "[":
                raise self.fail(
                    "'[' starts an interval, which follows 'in'", token.position, hint="write x in [80%..100%)"
                )
        if token.kind == "end":
            raise self.fail("the formula ends where a value is expected", token.position)
        raise self.fail(f"expected a value but found {token.describe()}", token.position, len(token.text))

    def implicit_subject(self, token: Token) -> Name:
        assert self.subject is not None
        return Name(self.subject, 0, token.position, token.position)

    def group(self, opened: Token) -> Node:
        may_be_interval = self.subject is not None and opened.position == self.start
        if may_be_interval and self.is_op(self.lexer.peek(), ".."):
            self.implicit = True
            return self.made(self.interval(self.implicit_subject(opened), negated=False, opened=opened))
        inner = self.expression(0)
        after = self.lexer.peek()
        if may_be_interval and self.is_op(after, ".."):
            self.implicit = True
            return self.made(self.interval(self.implicit_subject(opened), negated=False, opened=opened, low=inner))
        if after.kind == "end":
            raise self.fail("this '(' is never closed", opened.position, hint="add ')' where the group ends")
        if not self.is_op(after, ")"):
            raise self.unexpected(after, "')'")
        self.lexer.next()
        return inner

    def name(self, token: Token) -> Node:
        word = token.text
        if word.lower() in _FOREIGN_WORDS and not (self.names and word in self.names):
            raise self.fail(
                f"{word!r} is not part of the formula language",
                token.position,
                len(word),
                "formulas are arithmetic on named values with min, max, round, abs and clamp",
            )
        following = self.lexer.peek()
        if self.is_op(following, "("):
            return self.call(token)
        back, end = 0, token.end
        if self.is_op(following, "["):
            back, end = self.back_reference()
        if self.names is not None and word not in self.names:
            near = difflib.get_close_matches(word, sorted(self.names), n=1)
            known = ", ".join(sorted(self.names)[:12]) + (", ..." if len(self.names) > 12 else "")
            raise self.fail(
                f"unknown name {word!r}",
                token.position,
                len(word),
                f"did you mean {near[0]!r}?"
                if near
                else (f"known names: {known}" if self.names else "this formula may not refer to any name"),
            )
        return self.made(Name(word, back, token.position, end))

    def back_reference(self) -> tuple[int, int]:
        opened = self.lexer.next()
        usage = f"an earlier period is written name[-1] (last period) to name[-{MAX_BACK}]"
        minus = self.lexer.next()
        number = self.lexer.next()
        closed = self.lexer.next()
        if not (
            self.is_op(minus, "-") and number.kind == "number" and number.text.isdigit() and self.is_op(closed, "]")
        ):
            raise self.fail(
                "only an earlier period can follow a name in brackets",
                opened.position,
                max(1, closed.end - opened.position),
                usage,
            )
        back = int(number.text)
        if not 1 <= back <= MAX_BACK:
            raise self.fail(
                f"a name can look back 1 to {MAX_BACK} periods, not {back}", number.position, len(number.text), usage
            )
        return back, closed.end

    def call(self, token: Token) -> Node:
        function = token.text.lower()
        if function not in FUNCTIONS:
            near = difflib.get_close_matches(function, FUNCTIONS, n=1)
            raise self.fail(
                f"unknown function {token.text!r}",
                token.position,
                len(token.text),
                (f"did you mean {near[0]}? " if near else "") + f"the functions are {', '.join(FUNCTIONS)}",
            )
        self.lexer.next()  # (
        arguments: list[Node] = []
        grouped = False
        if self.is_op(self.lexer.peek(), ")"):
            closing = self.lexer.next()
        else:
            while True:
                grouped = grouped or "," in self.lexer.peek().text
                arguments.append(self.expression(0))
                closing = self.lexer.next()
                if self.is_op(closing, ")"):
                    break
                if not self.is_op(closing, ","):
                    raise self.unexpected(closing, f"',' or ')' to close {function}(")
        fewest, most, usage = FUNCTIONS[function]
        if len(arguments) < fewest or most is not None and len(arguments) > most:
            wanted = f"{fewest}" if fewest == most else f"{fewest} or {most}" if most else f"at least {fewest}"
            hint = f"write {usage}"
            if grouped:
                hint += (
                    "; a comma between digits groups thousands (1,000), so put a space after commas between arguments"
                )
            raise self.fail(
                f"{function} takes {wanted} values, not {len(arguments)}",
                token.position,
                closing.end - token.position,
                hint,
            )
        return self.made(Call(function, arguments, token.position, closing.end))

    def choice(self, token: Token) -> Node:
        condition = self.expression(0)
        self.expect("then", "'then'")
        then = self.expression(0)
        following = self.lexer.peek()
        if not self.is_word(following, "else"):
            if following.kind == "end" or self.is_op(following, ")", ",", "]"):
                raise self.fail(
                    "an if needs an else",
                    token.position,
                    following.position - token.position,
                    "write if condition then a else b",
                )
            raise self.unexpected(following, "'else'")
        self.lexer.next()
        otherwise = self.expression(0)
        return self.made(Choice(condition, then, otherwise, token.position))

    def interval(self, subject: Node, *, negated: bool, opened: Token | None = None, low: Node | None = None) -> Within:
        usage = "write an interval as [80%..100%), (0..5000] or [100%..)"
        if opened is None:
            opened = self.lexer.next()
            if not self.is_op(opened, "[", "("):
                raise self.fail(
                    f"an interval is expected after 'in' but found {opened.describe()}",
                    opened.position,
                    len(opened.text),
                    usage,
                )
        if low is None and not self.is_op(self.lexer.peek(), ".."):
            low = self.expression(0)
        dots = self.lexer.next()
        if not self.is_op(dots, ".."):
            raise self.fail(
                f"an interval needs '..' between its bounds but found {dots.describe()}",
                dots.position,
                len(dots.text),
                usage,
            )
        high = None if self.is_op(self.lexer.peek(), ")", "]") else self.expression(0)
        closed = self.lexer.next()
        if not self.is_op(closed, ")", "]"):
            raise (
                self.unexpected(closed, "')' or ']' to close the interval")
                if closed.kind != "op"
                else self.fail(
                    f"an interval ends with ')' or ']' but found {closed.describe()}",
                    closed.position,
                    len(closed.text),
                    usage,
                )
            )
        if low is None and high is None:
            raise self.fail(
                "an interval needs at least one bound", opened.position, closed.end - opened.position, usage
            )
        return Within(subject, low, high, opened.text == "[", closed.text == "]", negated, subject.position, closed.end)
