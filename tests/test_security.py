"""No SQL text is built from input: every query is an expression with bound parameters.

Structurally: every ``text()`` and ``exec_driver_sql()`` call in the engine, the plugins and the
connectors is listed below with why it is safe, and none formats a value into its SQL. By behaviour:
text that looks like SQL is stored and read back as the text it is, through the import and the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select

from kpi_engine import PersonRecord, schema, upsert_records

ROOT = Path(__file__).resolve().parents[1]
CODE = [ROOT / "kpi_engine", ROOT / "plugins", ROOT / "connectors"]

# file -> why its SQL text is safe. Anything formatted into SQL must be a placeholder name or a
# constant of the code, never a value.
ALLOWED = {
    "kpi_engine/store/database.py": "PRAGMAs and advisory locks: constant text, the lock key a bound parameter",
    "kpi_engine/metrics/rollup.py": "a VALUES list of placeholders (:p0, :p1, ...); the values are bound",
    "kpi_engine/sample/_generator.py": "the demo generator's constant statements",
}


def _sql_calls(tree: ast.AST):
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("text", "exec_driver_sql") and node.args:
            yield node


def test_sql_text_appears_only_where_it_is_known_to_be_safe():
    found: dict[str, list[int]] = {}
    for folder in CODE:
        for path in folder.rglob("*.py"):
            relative = path.relative_to(ROOT).as_posix()
            if "/migrations/" in relative:
                continue  # schema changes: constant DDL written by hand, never run on input
            for call in _sql_calls(ast.parse(path.read_text(encoding="utf-8"))):
                first = call.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and relative in ALLOWED:
                    continue
                found.setdefault(relative, []).append(call.lineno)
    unexpected = {path: lines for path, lines in found.items() if path not in ALLOWED}
    assert unexpected == {}, "SQL text built outside the allow-list: use a SQLAlchemy expression"
    assert set(found) <= set(ALLOWED)


def test_the_rollup_formats_only_placeholder_names_into_its_sql():
    source = (ROOT / "kpi_engine/metrics/rollup.py").read_text(encoding="utf-8")
    [call] = [c for c in _sql_calls(ast.parse(source)) if isinstance(c.args[0], ast.JoinedStr)]
    formatted = [part for part in call.args[0].values if isinstance(part, ast.FormattedValue)]
    assert [ast.unparse(part.value) for part in formatted] == ["rows"]
    assert '"(:m{piece}p{i}, :m{piece}g{i})"' in source, "each row is a pair of placeholders; the values are bound"


HOSTILE = ["'; DROP TABLE deals; --", 'Robert"); DELETE FROM people; --', "1 OR 1=1", "%s %(x)s ?", "\\'; --"]


def test_text_that_looks_like_sql_is_stored_and_read_back_verbatim(store):
    people = [PersonRecord(id=f"E{n}", name=name, role="sales_rep") for n, name in enumerate(HOSTILE)]
    with store.begin() as conn:
        upsert_records(conn, "people", "hr", people)
    with store.connect() as conn:
        names = conn.execute(select(schema.people.c.name).order_by(schema.people.c.id)).scalars().all()
        deals = conn.execute(select(schema.deals.c.id)).all()
    assert names == HOSTILE
    assert deals == [], "the deals table is still there, empty"
