"""The grammar in docs/formulas.md ("Grammar") is the language the scanner and the parser accept.

The EBNF block is read from the page. Every keyword, function and operator the scanner accepts
appears in it, and nothing else; formulas and conditions generated from it parse; variations of
them (a token dropped, doubled, swapped or inserted) parse exactly when an Earley recognizer built
from the same block accepts them; the examples table beside it holds.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from kpi_engine import FormulaError, compile_formula
from kpi_engine.formula.lexer import KEYWORDS, Lexer, Token
from kpi_engine.formula.parser import _FOREIGN_WORDS, FUNCTIONS, parse

DOC = Path(__file__).resolve().parents[2] / "docs" / "formulas.md"
SUBJECT_RULES = frozenset({"subject_test", "subject_reach"})
TOKEN_RULES = frozenset({"number", "name", "periods"})  # single tokens: their parts are written without spaces
SEPARATORS = [" ", " ", " ", "  ", "\t", "\n"]


# --- the page ------------------------------------------------------------------------------


@cache
def grammar_section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("\n## Grammar\n")
    return text[start : text.index("\n## ", start + 1)]


@cache
def ebnf_text() -> str:
    match = re.search(r"```ebnf\n(.*?)```", grammar_section(), re.S)
    assert match, "docs/formulas.md has no ```ebnf block under ## Grammar"
    return match.group(1)


# --- reading EBNF ----------------------------------------------------------------------------
# Nodes: ("alt", [seq, ...]), ("seq", [node, ...]), ("opt", node), ("rep", node), ("lit", text),
# ("ref", rule), ("special", words).

_EBNF_TOKEN = re.compile(
    r'\s*(?:(?P<comment>\(\*.*?\*\))|(?P<lit>"[^"]*")|(?P<special>\?[^?]*\?)|(?P<ident>[a-z_][a-z0-9_]*)'
    r"|(?P<punct>[=;|\[\]{}()]))",
    re.S,
)


def ebnf_tokens(text: str) -> list[tuple[str, str]]:
    found, position = [], 0
    while text[position:].strip():
        match = _EBNF_TOKEN.match(text, position)
        assert match and match.end() > position, f"cannot read the EBNF at {text[position : position + 30]!r}"
        position = match.end()
        if match.lastgroup != "comment":
            found.append((match.lastgroup or "", match.group(match.lastgroup or "")))
    return found


def read_grammar(text: str) -> dict[str, Any]:
    tokens = ebnf_tokens(text)
    at = 0

    def peek() -> str:
        return tokens[at][1] if at < len(tokens) else ""

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal at
        kind, value = tokens[at]
        assert expected is None or value == expected, f"expected {expected!r}, found {value!r}"
        at += 1
        return kind, value

    def alternatives() -> Any:
        options = [sequence()]
        while peek() == "|":
            take()
            options.append(sequence())
        return ("alt", options)

    def sequence() -> Any:
        items = []
        while peek() not in ("|", ";", "]", "}", ")", ""):
            items.append(item())
        return ("seq", items)

    def item() -> Any:
        kind, value = take()
        if kind == "lit":
            return ("lit", value[1:-1])
        if kind == "special":
            return ("special", " ".join(value[1:-1].split()))
        if kind == "ident":
            return ("ref", value)
        closing = {"[": "]", "{": "}", "(": ")"}[value]
        inner = alternatives()
        take(closing)
        return {"[": ("opt", inner), "{": ("rep", inner), "(": inner}[value]

    rules: dict[str, Any] = {}
    while at < len(tokens):
        _, name = take()
        take("=")
        assert name not in rules, f"rule {name} is defined twice"
        rules[name] = alternatives()
        take(";")
    return rules


@cache
def grammar() -> dict[str, Any]:
    return read_grammar(ebnf_text())


def walk(node: Any) -> Iterator[Any]:
    yield node
    if node[0] in ("alt", "seq"):
        for child in node[1]:
            yield from walk(child)
    elif node[0] in ("opt", "rep"):
        yield from walk(node[1])


def literals(rules: dict[str, Any]) -> set[str]:
    return {n[1] for rule in rules.values() for n in walk(rule) if n[0] == "lit"}


def without_subject_tests(node: Any) -> Any:
    """The node with every alternative that names a subject test left out (a formula has none)."""
    kind = node[0]
    if kind == "alt":
        kept = [s for s in node[1] if not any(c[0] == "ref" and c[1] in SUBJECT_RULES for c in s[1])]
        return ("alt", [without_subject_tests(s) for s in kept])
    if kind == "seq":
        return ("seq", [without_subject_tests(c) for c in node[1]])
    if kind in ("opt", "rep"):
        return (kind, without_subject_tests(node[1]))
    return node


@cache
def formula_rules() -> dict[str, Any]:
    return {name: without_subject_tests(rule) for name, rule in grammar().items()}


# --- what the scanner accepts, found by asking it -------------------------------------------


def scan(text: str) -> list[Token]:
    lexer = Lexer(text)
    found = []
    while (token := lexer.next()).kind != "end":
        found.append(token)
    return found


@cache
def scanner_operators() -> frozenset[str]:
    """Every operator the scanner gives as a token: each printable character and pair tried alone."""
    candidates = set(string.punctuation) | {a + b for a in string.punctuation for b in string.punctuation}
    found = set()
    for text in candidates:
        try:
            tokens = scan(text)
        except FormulaError:
            continue
        if len(tokens) == 1 and tokens[0].kind == "op" and tokens[0].text == text:
            found.add(text)
    return frozenset(found)


def test_the_grammar_names_every_keyword_function_and_operator_the_scanner_accepts():
    named = literals(grammar())
    assert sorted(KEYWORDS - named) == []
    assert sorted(set(FUNCTIONS) - named) == []
    assert sorted(scanner_operators() - named) == []
    assert "%" in named, "a number may end in %"


def test_every_word_and_sign_of_the_grammar_is_one_the_scanner_accepts():
    lexical = set(string.digits) | {".", "%", "_", ","}
    known = KEYWORDS | set(FUNCTIONS) | scanner_operators() | lexical
    assert sorted(literals(grammar()) - known) == []


def test_every_rule_is_defined_and_every_rule_is_used():
    rules = grammar()
    referenced = {n[1] for rule in rules.values() for n in walk(rule) if n[0] == "ref"}
    described = " ".join(n[1] for rule in rules.values() for n in walk(rule) if n[0] == "special")
    assert sorted(referenced - set(rules)) == []
    unused = set(rules) - referenced - {"formula", "condition"}
    assert sorted(r for r in unused if r not in described) == []


def test_the_page_lists_the_keywords_and_the_refused_words():
    words = set(re.findall(r"`([a-z]+)`", grammar_section()))
    assert sorted(KEYWORDS - words) == []
    assert sorted(_FOREIGN_WORDS - words) == []


# --- an Earley recognizer built from the block ----------------------------------------------


@dataclass(frozen=True)
class Grammar:
    """The block as plain productions over tokens: symbols are ("N", rule) or ("T", matcher)."""

    productions: dict[str, list[tuple[tuple[str, Any], ...]]]
    nullable: frozenset[str]


def compile_rules(rules: dict[str, Any]) -> Grammar:
    productions: dict[str, list[tuple[tuple[str, Any], ...]]] = {}
    counter = [0]

    def fresh(options: list[tuple[tuple[str, Any], ...]]) -> tuple[str, Any]:
        counter[0] += 1
        name = f"#{counter[0]}"
        productions[name] = options
        return ("N", name)

    def symbols(node: Any) -> tuple[tuple[str, Any], ...]:
        kind = node[0]
        if kind == "seq":
            return tuple(s for child in node[1] for s in symbols(child))
        if kind == "alt":
            if len(node[1]) == 1:
                return symbols(node[1][0])
            return (fresh([symbols(option) for option in node[1]]),)
        if kind == "opt":
            return (fresh([(), symbols(node[1])]),)
        if kind == "rep":
            counter[0] += 1
            name = f"#{counter[0]}"
            productions[name] = [(), (*symbols(node[1]), ("N", name))]
            return (("N", name),)
        if kind == "lit":
            return (("T", ("lit", node[1])),)
        if kind == "ref" and node[1] in TOKEN_RULES:
            return (("T", ("class", node[1])),)
        if kind == "ref":
            return (("N", node[1]),)
        raise AssertionError(f"a rule described in words is used between tokens: {node}")

    for name, rule in rules.items():
        if name in TOKEN_RULES or name in ("digits", "three_digits", "digit", "letter", "subject_condition"):
            continue
        productions[name] = [symbols(option) for option in rule[1]]
    nullable: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, options in productions.items():
            if name not in nullable and any(all(s[0] == "N" and s[1] in nullable for s in o) for o in options):
                nullable.add(name)
                changed = True
    return Grammar(productions, frozenset(nullable))


def matches(matcher: tuple[str, str], token: Token) -> bool:
    kind, value = matcher
    if kind == "class":
        if value == "number":
            return token.kind == "number"
        if value == "periods":
            return token.kind == "number" and token.text.isdigit() and 1 <= int(token.text) <= 36
        return token.kind == "name" and token.text.lower() not in _FOREIGN_WORDS
    if value in KEYWORDS:
        return token.kind == "keyword" and token.text.lower() == value
    if value in FUNCTIONS:
        return token.kind == "name" and token.text.lower() == value
    return token.kind == "op" and token.text == value


def recognises(g: Grammar, start: str, tokens: list[Token]) -> bool:
    """Earley's algorithm (with nullable rules completed on prediction)."""
    charts: list[dict[tuple[str, int, int, int], None]] = [{} for _ in range(len(tokens) + 1)]
    for index in range(len(g.productions[start])):
        charts[0][(start, index, 0, 0)] = None
    for position in range(len(tokens) + 1):
        chart = charts[position]
        items = list(chart)
        at = 0
        while at < len(items):
            lhs, index, dot, origin = items[at]
            at += 1
            body = g.productions[lhs][index]
            if dot < len(body):
                kind, value = body[dot]
                if kind == "N":
                    for option in range(len(g.productions[value])):
                        new = (value, option, 0, position)
                        if new not in chart:
                            chart[new] = None
                            items.append(new)
                    if value in g.nullable:
                        new = (lhs, index, dot + 1, origin)
                        if new not in chart:
                            chart[new] = None
                            items.append(new)
                elif position < len(tokens) and matches(value, tokens[position]):
                    charts[position + 1][(lhs, index, dot + 1, origin)] = None
            else:
                for waiting in list(charts[origin]):
                    w_lhs, w_index, w_dot, w_origin = waiting
                    w_body = g.productions[w_lhs][w_index]
                    if w_dot < len(w_body) and w_body[w_dot] == ("N", lhs):
                        new = (w_lhs, w_index, w_dot + 1, w_origin)
                        if new not in chart:
                            chart[new] = None
                            items.append(new)
    return any(
        lhs == start and dot == len(g.productions[lhs][index]) and origin == 0
        for lhs, index, dot, origin in charts[len(tokens)]
    )


@cache
def formula_grammar() -> Grammar:
    return compile_rules(formula_rules())


@cache
def condition_grammar() -> Grammar:
    return compile_rules(grammar())


SUBJECT_STARTS = frozenset({"<", "<=", ">", ">=", "=", "==", "!=", "[", "in"})


def grammar_accepts(text: str, *, condition: bool) -> bool | None:
    """The grammar's verdict on ``text``; None when only words decide (a condition opening with '(')."""
    try:
        tokens = scan(text)
    except FormulaError:
        return False
    if not condition or not tokens or tokens[0].text.lower() not in SUBJECT_STARTS | {"("}:
        return recognises(formula_grammar(), "formula", tokens)
    if tokens[0].text == "(":
        return None  # may be a leading interval, which the block describes in words
    return recognises(condition_grammar(), "expression", tokens)


def parser_accepts(text: str, *, condition: bool) -> bool:
    try:
        parse(text, subject="value" if condition else None)
    except FormulaError:
        return False
    return True


# --- generating text from the block -------------------------------------------------------------


def heights(rules: dict[str, Any]) -> dict[str, int]:
    """How many rule expansions each rule needs at least to end in tokens."""
    found = dict.fromkeys(rules, 10**6)

    def height(node: Any) -> int:
        kind = node[0]
        if kind == "alt":
            return min(height(s) for s in node[1])
        if kind == "seq":
            return max((height(c) for c in node[1]), default=0)
        if kind in ("opt", "rep", "lit", "special"):
            return 0
        return 1 + found[node[1]]

    for _ in range(len(rules) + 1):
        for name, rule in rules.items():
            found[name] = min(found[name], height(rule))
    return found


class Generator:
    """Random sentences of the block: ``budget`` expressions nested at most, then the shortest way out."""

    def __init__(self, rules: dict[str, Any], seed: int, budget: int = 2, lead: bool = False) -> None:
        self.rules, self.rng, self.budget = rules, random.Random(seed), budget
        self.height = heights(rules)
        self.heights: dict[int, int] = {}
        self.lead = lead  # start with a subject test where the first token allows one
        self.emitted = 0

    def sentence(self, start: str, most: int = 40) -> list[str]:
        """A sentence of at most ``most`` tokens (longer ones are drawn again)."""
        while True:
            self.emitted = 0
            tokens = self.expand(("ref", start), 0)
            if len(tokens) <= most:
                return tokens

    def node_height(self, node: Any) -> int:
        known = self.heights.get(id(node))
        if known is None:
            kind = node[0]
            if kind == "alt":
                known = min(self.node_height(s) for s in node[1])
            elif kind == "seq":
                known = max((self.node_height(c) for c in node[1]), default=0)
            else:
                known = 1 + self.height[node[1]] if kind == "ref" and node[1] not in TOKEN_RULES else 0
            self.heights[id(node)] = known
        return known

    def expand(self, node: Any, depth: int) -> list[str]:
        kind, rng = node[0], self.rng
        out_of_budget = depth >= self.budget
        if kind == "alt":
            options = node[1]
            if out_of_budget:
                lowest = min(self.node_height(o) for o in options)
                options = [o for o in options if self.node_height(o) <= lowest + 1]
            elif self.lead and self.emitted == 0 and rng.random() < 0.8:
                options = [o for o in options if any(c == ("ref", r) for c in o[1] for r in SUBJECT_RULES)] or options
            return self.expand(rng.choice(options), depth)
        if kind == "seq":
            return [token for child in node[1] for token in self.expand(child, depth)]
        deep = depth >= self.budget - 1  # fewer options and repeats deeper down, so sentences stay short
        if kind == "opt":
            return [] if out_of_budget or rng.random() < (0.75 if deep else 0.5) else self.expand(node[1], depth)
        if kind == "rep":
            times = 0 if out_of_budget else rng.choice([0, 0, 0, 0, 1] if deep else [0, 0, 0, 1, 1, 2])
            return [token for _ in range(times) for token in self.expand(node[1], depth)]
        if kind == "lit":
            word = node[1]
            if word in KEYWORDS or word in FUNCTIONS:  # read in any case
                word = rng.choice([word, word, word.upper(), word.capitalize()])
            self.emitted += 1
            return [word]
        if kind == "ref" and node[1] in TOKEN_RULES:
            self.emitted += 1
            return [self.token(node[1])]
        return self.expand(self.rules[node[1]], depth + (node[1] == "expression"))

    def token(self, rule: str) -> str:
        for _ in range(100):
            text = "".join(self.characters(self.rules[rule]))
            if rule != "name" or text.lower() not in KEYWORDS | _FOREIGN_WORDS:
                return text
        raise AssertionError(f"no {rule} could be generated")

    def characters(self, node: Any) -> list[str]:
        kind, rng = node[0], self.rng
        if kind == "alt":
            return self.characters(rng.choice(node[1]))
        if kind == "seq":
            return [c for child in node[1] for c in self.characters(child)]
        if kind == "opt":
            return self.characters(node[1]) if rng.random() < 0.5 else []
        if kind == "rep":
            return [c for _ in range(rng.choice([0, 1, 1, 2, 3])) for c in self.characters(node[1])]
        if kind == "lit":
            return [node[1]]
        if kind == "ref":
            return self.characters(self.rules[node[1]])
        words = node[1]
        if "ASCII letter" in words:
            return [rng.choice(string.ascii_letters)]
        if "from 1 to 36" in words:
            return [str(rng.randint(1, 36))]
        raise AssertionError(f"the test does not know how to write {words!r}")

    def join(self, tokens: list[str]) -> str:
        return "".join(token + self.rng.choice(SEPARATORS) for token in tokens).strip()


def generated_formulas(count: int, seed: int, budget: int = 2) -> list[str]:
    generator = Generator(formula_rules(), seed, budget)
    return [generator.join(generator.sentence("formula")) for _ in range(count)]


def generated_conditions(count: int, seed: int, budget: int = 2) -> list[str]:
    generator = Generator(grammar(), seed, budget, lead=True)
    found: list[str] = []
    while len(found) < count:
        tokens = generator.sentence("expression")
        if tokens[0].lower() in SUBJECT_STARTS:
            found.append(generator.join(tokens))
    return found


def test_formulas_generated_from_the_grammar_parse():
    texts = generated_formulas(300, seed=1) + generated_formulas(40, seed=11, budget=3)
    assert len(set(texts)) > 250
    refused = [text for text in texts if not parser_accepts(text, condition=False)]
    assert refused == []


def test_conditions_generated_from_the_grammar_parse_as_conditions():
    texts = generated_conditions(200, seed=2)
    refused = [text for text in texts if not parser_accepts(text, condition=True)]
    assert refused == []


def test_numbers_and_names_generated_from_the_grammar_are_single_tokens_of_the_value_written():
    generator = Generator(grammar(), seed=3)
    for _ in range(300):
        number = generator.token("number")
        (token,) = scan(number)
        plain = Decimal(number.rstrip("%").replace(",", ""))
        assert (token.kind, token.value) == ("number", plain / 100 if number.endswith("%") else plain), number
        name = generator.token("name")
        assert [(t.kind, t.text) for t in scan(name)] == [("name", name)]


# --- variations: the parser accepts exactly what the grammar accepts ----------------------------

POOL = ["x", "7", "5%", "(", ")", "[", "]", ",", "..", "-", "+", "*", "<", ">=", "=", "and", "or", "not", "in"]
POOL += ["if", "then", "else", "true", "min", "round"]


def variations(text: str, rng: random.Random) -> Iterator[str]:
    try:
        tokens = [t.text for t in scan(text)]
    except FormulaError:
        return  # an example the scanner refuses has no tokens to vary
    for _ in range(3):
        changed = list(tokens)
        where = rng.randrange(len(changed))
        how = rng.choice(["drop", "double", "swap", "insert", "replace"])
        if how == "drop" and len(changed) > 1:
            del changed[where]
        elif how == "double":
            changed.insert(where, changed[where])
        elif how == "swap" and where + 1 < len(changed):
            changed[where], changed[where + 1] = changed[where + 1], changed[where]
        elif how == "insert":
            changed.insert(where, rng.choice(POOL))
        else:
            changed[where] = rng.choice(POOL)
        yield " ".join(changed)


@pytest.mark.parametrize("condition", [False, True], ids=["formulas", "conditions"])
def test_variations_parse_exactly_when_the_grammar_accepts_them(condition):
    rng = random.Random(4)
    texts = generated_conditions(100, seed=5) if condition else generated_formulas(150, seed=6)
    texts += grammar_examples()
    disagreements, accepted, refused = [], 0, 0
    for text in texts:
        for first in variations(text, rng):
            for variant in (first, next(variations(first, rng), first)):  # one change, then two
                verdict = grammar_accepts(variant, condition=condition)
                if verdict is None:
                    continue
                if verdict != parser_accepts(variant, condition=condition):
                    disagreements.append((variant, "grammar accepts" if verdict else "grammar refuses"))
                accepted += verdict
                refused += not verdict
    assert disagreements == []
    assert accepted > 50 and refused > 50, "the variations should include both kinds"


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_each_function_takes_the_number_of_values_the_grammar_gives_it(function):
    for count in range(6):
        text = f"{function}({', '.join(['a'] * count)})"
        assert grammar_accepts(text, condition=False) == parser_accepts(text, condition=False), text


# --- the examples beside the grammar -------------------------------------------------------------


@cache
def example_rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in grammar_section().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def grammar_examples() -> list[str]:
    return [text for text, _, _ in example_rows()]


def test_the_examples_beside_the_grammar_parse_or_are_refused_as_the_page_says():
    rows = example_rows()
    assert len(rows) > 30 and {kind for _, kind, _ in rows} == {"formula", "condition"}
    assert {verdict for _, _, verdict in rows} == {"yes", "no"}
    wrong = []
    for text, kind, verdict in rows:
        condition = kind == "condition"
        parsed = parser_accepts(text, condition=condition)
        by_grammar = grammar_accepts(text, condition=condition)
        if parsed != (verdict == "yes") or by_grammar not in (None, parsed):
            wrong.append((text, kind, verdict, parsed, by_grammar))
    assert wrong == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10 - 3 - 2", "5"),
        ("12 / 3 / 2", "2"),
        ("2 + 3 * 4", "14"),
        ("- 2 * 3 + 7", "1"),
        ("1,000 + 5%", "1000.05"),
        ("if true then 1 else 2 + 10", "1"),
        ("if false then 1 else 2 + 10", "12"),
        ("not false and false", False),
        ("true or true and false", True),
        ("not 1 > 2", True),
        ("2 in [1..2]", True),
        ("2 not in [1..2)", True),
    ],
)
def test_binding_and_grouping_are_as_the_page_says(text, expected):
    result = compile_formula(text).evaluate({})
    assert result == (Decimal(expected) if isinstance(expected, str) else expected)
