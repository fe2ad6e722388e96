"""Tokens of the plan formula language, read on demand from HR's text by a hand-written scanner.

The scanner accepts plain ASCII only: numbers (``100,000``, ``12.5``, ``5%``), names, the
keywords, and a short list of operators. Everything else is refused at its position with a
sentence saying why (quotes, attribute dots, power operators, braces, look-alike characters).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from ..errors import FormulaError

__all__ = [
    "KEYWORDS",
    "MAX_BACK",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_MAGNITUDE",
    "MAX_NAME",
    "MAX_NODES",
    "MAX_PLACES",
    "Lexer",
    "Token",
]

MAX_LENGTH = 2_000
"""Longest formula text, in characters."""
MAX_DEPTH = 40
"""Deepest nesting: parentheses, function arguments, branches and operators inside each other."""
MAX_NODES = 1_000
"""Most parts (numbers, names, operators, calls) in one formula."""
MAX_NAME = 64
"""Longest name."""
MAX_BACK = 36
"""Furthest earlier period a name may look back to (``attainment[-36]``)."""
MAX_PLACES = 15
"""Most decimal places of a number literal."""
MAX_MAGNITUDE = 18
"""Numbers, literal or computed, must stay below 10^18 in magnitude."""

KEYWORDS = frozenset({"and", "or", "not", "if", "then", "else", "in", "true", "false"})

_NUMBER = re.compile(r"([0-9]{1,3}(?:,[0-9]{3}(?![0-9]))+|[0-9]+)(\.[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TWO_CHAR = {"<=", ">=", "==", "!=", ".."}
_ONE_CHAR = set("+-*/()[],<>=")
_SPACE = " \t\r\n"

# Characters that are refused with a reason of their own (checked after the valid operators).
_REFUSED = {
    "**": ("there is no power operator", "multiply the value by itself (x * x) or use a rate table"),
    "^": ("there is no power operator", "multiply the value by itself (x * x) or use a rate table"),
    "'": ("text in quotes is not part of the formula language", "formulas hold numbers, names and true/false only"),
    '"': ("text in quotes is not part of the formula language", "formulas hold numbers, names and true/false only"),
    "`": ("back quotes are not part of the formula language", "formulas hold numbers, names and true/false only"),
    ";": ("';' is not allowed: a formula is a single expression", "remove everything after the expression"),
    ":": ("':' is not part of the formula language", "use if ... then ... else ... for choices"),
    "{": ("braces are not part of the formula language", "use parentheses ( ) to group"),
    "}": ("braces are not part of the formula language", "use parentheses ( ) to group"),
    "&&": ("'&&' is not an operator", "write and"),
    "&": ("'&' is not an operator", "write and"),
    "||": ("'||' is not an operator", "write or"),
    "|": ("'|' is not an operator", "write or"),
    "!": ("'!' is not an operator", "write not, or != for 'not equal'"),
    "<>": ("'<>' is not an operator", "write != for 'not equal'"),
    "=>": ("'=>' is not an operator", "write >= for 'at least'"),
    "=<": ("'=<' is not an operator", "write <= for 'at most'"),
    "%": ("'%' only follows a number, as in 5%", "write x * 1% or x / 100 to take a percentage of a value"),
    "#": ("'#' is not part of the formula language", "formulas have no comments; describe the rule in the plan"),
    "@": ("'@' is not part of the formula language", None),
    "$": ("'$' is not part of the formula language", "write amounts as plain numbers: 5000"),
    "\\": ("'\\' is not part of the formula language", None),
    "~": ("'~' is not part of the formula language", None),
    "?": ("'?' is not part of the formula language", "use if ... then ... else ... for choices"),
}

# Non-ASCII characters people paste from word processors, and what they meant.
_LOOK_ALIKES = {
    "\u2212": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u00d7": "*",
    "\u00f7": "/",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u00a0": " ",
    "\u2026": "..",
    "\u0430": "a",
    "\u0435": "e",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0445": "x",
    "\u0456": "i",
    "\u0410": "A",
    "\u0415": "E",
    "\u041e": "O",
    "\u0420": "P",
    "\u0421": "C",
    "\u0425": "X",
    "\u03bf": "o",
}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: ``kind`` is ``number``, ``name``, ``keyword``, ``op`` or ``end``."""

    kind: str
    text: str
    position: int
    value: Decimal | None = None

    @property
    def end(self) -> int:
        return self.position + len(self.text)

    def describe(self) -> str:
        return "the end of the formula" if self.kind == "end" else f"{self.text!r}"


class Lexer:
    """Reads tokens on demand, so the first fault in reading order is the one reported."""

    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise FormulaError(
                f"the formula is {len(text):,} characters long, more than the {MAX_LENGTH:,} allowed",
                text=text,
                position=MAX_LENGTH,
                hint="split the calculation into several rules that refer to each other",
            )
        self.text = text
        self.pos = 0
        self._ahead: list[Token] = []

    def fail(self, reason: str, position: int, length: int = 1, hint: str | None = None) -> FormulaError:
        return FormulaError(reason, text=self.text, position=position, length=length, hint=hint)

    def peek(self, k: int = 0) -> Token:
        while len(self._ahead) <= k:
            self._ahead.append(self._scan())
        return self._ahead[k]

    def next(self) -> Token:
        token = self.peek()
        self._ahead.pop(0)
        return token

    def _scan(self) -> Token:
        text, n = self.text, len(self.text)
        i = self.pos
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            self.pos = n
            return Token("end", "", n)
        c = text[i]
        if c.isdigit() and c.isascii():
            token = self._number(i)
        elif c.isascii() and (c.isalpha() or c == "_"):
            token = self._name(i)
        elif text.startswith("..", i):
            token = Token("op", "..", i)
        elif c == ".":
            token = self._dot(i)
        else:
            token = self._operator(i)
        self.pos = token.end
        return token

    def _number(self, i: int) -> Token:
        match = _NUMBER.match(self.text, i)
        assert match is not None
        whole, fraction = match.group(1), match.group(2) or ""
        end = match.end()
        text = self.text
        if end < len(text) and text[end] == "." and not text.startswith("..", end):
            raise self.fail("a decimal point needs digits after it", end, hint="write 12.5 or 12")
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            letter = text[end]
            hint = (
                "scientific notation is not supported; write the number in full"
                if letter in "eE"
                else "put an operator between a number and a name, e.g. 2 * bookings"
            )
            raise self.fail(f"the number {text[i:end]!r} runs into {letter!r}", i, end - i + 1, hint)
        digits = whole.replace(",", "")
        if len(digits.lstrip("0")) > MAX_MAGNITUDE:
            raise self.fail(
                f"the number {text[i:end]!r} is too large", i, end - i, f"numbers must be below 10^{MAX_MAGNITUDE}"
            )
        if len(fraction) - 1 > MAX_PLACES:
            raise self.fail(
                f"the number {text[i:end]!r} has more than {MAX_PLACES} decimal places",
                i,
                end - i,
                "round it to fewer places",
            )
        value = Decimal(digits + fraction)
        if end < len(text) and text[end] == "%":
            end += 1
            value = value.scaleb(-2)
        return Token("number", text[i:end], i, value)

    def _name(self, i: int) -> Token:
        match = _NAME.match(self.text, i)
        assert match is not None
        word = match.group()
        end = match.end()
        if end < len(self.text) and not self.text[end].isascii() and self.text[end].isalnum():
            raise self._foreign(end)
        if word.lower() in KEYWORDS:
            return Token("keyword", word, i)
        if word.startswith("_"):
            raise self.fail(
                f"names cannot start with '_' ({word!r})",
                i,
                len(word),
                "formulas refer to metrics, targets and rules by their plain names",
            )
        if len(word) > MAX_NAME:
            raise self.fail(f"the name {word[:20]!r}... is longer than {MAX_NAME} characters", i, len(word))
        return Token("name", word, i)

    def _dot(self, i: int) -> Token:
        text = self.text
        if i + 1 < len(text) and text[i + 1].isdigit():
            raise self.fail("a number needs a digit before its decimal point", i, hint="write 0.5 rather than .5")
        raise self.fail(
            "'.' is not part of the formula language here",
            i,
            hint="formulas have no attribute access; refer to metrics, targets and rules by name",
        )

    def _operator(self, i: int) -> Token:
        text = self.text
        two = text[i : i + 2]
        if two in _TWO_CHAR:
            return Token("op", two, i)
        if two in _REFUSED:
            reason, hint = _REFUSED[two]
            raise self.fail(reason, i, 2, hint)
        c = text[i]
        if c in _ONE_CHAR:
            return Token("op", c, i)
        if c in _REFUSED:
            reason, hint = _REFUSED[c]
            raise self.fail(reason, i, 1, hint)
        if not c.isascii():
            raise self._foreign(i)
        raise self.fail(f"the character {c!r} is not part of the formula language", i)

    def _foreign(self, i: int) -> FormulaError:
        c = self.text[i]
        name = unicodedata.name(c, f"U+{ord(c):04X}")
        meant = _LOOK_ALIKES.get(c) or unicodedata.normalize("NFKC", c)
        if meant.isascii() and meant.strip():
            hint = f"it looks like {meant!r}; type formulas in plain ASCII"
        else:
            hint = "names are ASCII letters, digits and '_'; numbers use ASCII digits"
        return self.fail(f"the character {c!r} ({name}) is not plain ASCII", i, 1, hint)
