"""Every ``kpi`` command, called with hostile and careless arguments, answers in sentences.

The command tree is walked from the CLI itself, so a command added later is fuzzed too. Each
example picks a command and fills its arguments and options from pools that mix what operations
type (periods, plan files, people, amounts, formats) with what they mistype and what an attacker
tries (control characters, formula injection, paths to directories and devices, huge numbers).
The answer is exit 0, 1 (one sentence) or 2 (click's usage error); never a traceback, never
"Error: unexpected". Commands that reach the network or build the demo are left to their own tests. The
company lives on the suite's backend, so ``kpi import`` of the odd files is answered by SQLite or PostgreSQL.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpi_engine import open_store
from kpi_engine.cli import main
from kpi_engine.cli.app import cli
from kpi_engine.sample import generate_sample_company
from tests.conftest import database_of_its_own
from tests.support.fuzzing import fuzz_settings

RULES = Path(__file__).parents[2] / "rules"
LEFT_OUT = {("demo",), ("sync",), ("connectors", "check"), ("connectors", "new")}

HOSTILE = [
    "",
    " ",
    "-",
    "--",
    "x" * 300,
    "\x00",
    "a\nb",
    "\r",
    '=HYPERLINK("http://x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1)",
    "'; DROP TABLE deals; --",
    "%s%s%n",
    "{0}",
    "../../../etc/passwd",
    "é≈∂ 销售额",
    "1e9999",
    "NaN",
    "-0",
    "99999999999999999999999999",
]
PERIODS = [
    "2026-07",
    "2026-10",
    "2026-Q3",
    "2026",
    "2026-W05",
    "2026-01-01..2026-03-15",
    "2026-13",
    "2026-00",
    "0000-01",
    "9999-12",
    "2026-02-30..2026-03-01",
    "2026-03-01..2026-01-01",
    "1900-01-01..2999-12-31",
    "2026-07,2026-08",
    "2026-01..2026-12",
]
POOLS: dict[str, list[str]] = {
    "period": PERIODS,
    "label": PERIODS,
    "periods": PERIODS,
    "since": [*PERIODS, "2026-07-01T00:00:00Z", "yesterday"],
    "window": ["3", "0", "-1", "1000000", "3 months"],
    "plan_file": [
        "rules/sales-commission.yaml",
        "rules",
        "rules/pip.yaml",
        "missing.yaml",
        "junk.bin",
        "bomb.yaml",
        ".",
    ],
    "draft_path": ["rules/sales-commission.yaml", "rules/scorecard-sales-rep.yaml", "bomb.yaml", "junk.bin", "nowhere"],
    "against": ["sales-commission", "rules/sales-commission.yaml", "nothing"],
    "plan_id": ["sales-commission", "scorecard-sales-rep", "deal-integrity", "unknown-plan"],
    "person": ["E1001", "E1002", "M3001", "nobody"],
    "run_id": ["0123456789abcdef", "newest", "1"],
    "rule": ["commission", "bonus", "nothing"],
    "metric": ["bookings", "win_rate", "gross_margin", "nothing", "bookings + 1"],
    "reason": ["late refund", "x"],
    "note": ["checked", "x"],
    "reviewed_by": ["wang.fang"],
    "finding_id": ["1", "abc", "0"],
    "formula": ["bookings * 10%", "1 / 0", "((((1))))", "__import__('os')", "10 ** 10 ** 10", "max()", "a if b else c"],
    "settings": ["rate=10%", "rate", "=", "a=1,b=2"],
    "value": ["100", "abc", "1e999"],
    "total": ["1000000", "-5", "abc", "1e999"],
    "team": ["T01", "nobody"],
    "weights": ["1,2,3", "a", "-1"],
    "levels": ["80%,100%,120%", "x"],
    "time_zone": ["Asia/Shanghai", "UTC", "Asia/Shangai", "Mars/Olympus", "+08:00", "utc"],
    "currency": ["CNY", "USD", "ZZZ", "cny", "US"],
    "source": ["crm", "file"],
    "columns": ["amount=金额", "amount", "=x"],
    "defaults": ["currency=CNY", "currency"],
    "override_reason": ["approved by HR"],
    "status": ["pending"],
    "name": ["hubspot", "acme", "Bad Name!", "../escape"],
    "adjustment_id": ["1", "0", "-1", "99999999999999999999"],
    "amount": ["100.00", "-50", "1e9999", "NaN", "1,000.00", "0.001"],
    "places": ["2", "-1", "100"],
    "top": ["5", "0", "-3"],
    "lookback": ["1", "-1"],
    "seed": ["1"],
    "month": PERIODS,
}
PATHS_IN = [
    "rules/sales-commission.yaml",
    "deals.csv",
    "junk.bin",
    "bomb.yaml",
    "empty.yaml",
    "folder",
    "missing.yaml",
    "/dev/null",
]
PATHS_OUT = ["out.csv", "out.xlsx", "out.json", "folder", "no/such/folder/out.csv"]


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if (*path, name) in LEFT_OUT:
            continue
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                found.append(((*path, name), command))
            found.extend(_commands(command, (*path, name)))
        else:
            found.append(((*path, name), command))
    return found


COMMANDS = _commands(cli)


def _values(param: click.Parameter, draw: st.DrawFn) -> list[str]:
    kind = param.type
    if isinstance(kind, click.Choice):
        return [draw(st.sampled_from([*map(str, kind.choices), "nonsense"]))]
    if isinstance(kind, click.Path):
        outgoing = param.name in {"out", "output", "folder"}
        return [draw(st.sampled_from(PATHS_OUT if outgoing else PATHS_IN))]
    pool = POOLS.get(param.name or "", [])
    if isinstance(kind, click.types.IntParamType):
        pool = pool or ["1", "0", "-1", "99999999999999999999"]
    return [draw(st.sampled_from(pool + HOSTILE) if pool else st.sampled_from(HOSTILE) | st.text(max_size=12))]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    path, command = draw(st.sampled_from(COMMANDS))
    args = list(path)
    for param in command.params:
        if isinstance(param, click.Argument):
            count = 1 if param.nargs == 1 else draw(st.integers(1, 2))
            args += [v for _ in range(count) for v in _values(param, draw)]
            continue
        if not isinstance(param, click.Option) or param.hidden:
            continue
        if not param.required and not draw(st.booleans()):
            continue
        flag = max(param.opts, key=len)
        if param.is_flag:
            args.append(flag)
        else:
            args += [flag, *_values(param, draw)]
    return args


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A folder as operations keep it: plans in rules/, a small company in a database on the suite's backend
    (kpi.sqlite there, or a PostgreSQL schema of its own with KPI_TEST_DATABASE_URL), and odd files."""
    folder = tmp_path_factory.mktemp("fuzz-cli")
    shutil.copytree(RULES, folder / "rules", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    with database_of_its_own("kpi", folder) as url:
        store = open_store(url)
        with store.begin() as conn:
            generate_sample_company(conn, seed=7, months=3, end_month="2026-10", clean=True)
        store.dispose()
        _odd_files(folder)
        yield folder, url


def _odd_files(folder: Path) -> None:
    (folder / "junk.bin").write_bytes(bytes(range(256)) * 8)
    (folder / "bomb.yaml").write_text(
        "a: &a [x, x, x, x, x, x, x, x]\n"
        + "".join(f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 9)}]\n" for i in range(7))
    )
    (folder / "empty.yaml").write_text("")
    (folder / "folder").mkdir()
    (folder / "deals.csv").write_text(  # a deal type longer than its column: refused alike on every backend
        "remote_id,owner_id,status,amount,currency,closed_at,deal_type\n"
        f"FZ-1,E1001,won,100,CNY,2026-10-01,new\nFZ-2,E1001,won,100,CNY,2026-10-02,{'x' * 35}\n",
        encoding="utf-8",
    )


@fuzz_settings(in_suite=60)
@given(command_lines())
def test_every_command_answers_hostile_arguments_in_sentences(workspace, args):
    folder, url = workspace
    printed = io.StringIO()
    before, stdin = os.getcwd(), sys.stdin
    os.chdir(folder)
    sys.stdin = io.StringIO("bookings * 10%\n")  # a command reading "-" reads this
    try:
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), pytest.raises(SystemExit) as e:
            main(["--db", url, "--as", "fuzz.ops", *args])
    finally:
        os.chdir(before)
        sys.stdin = stdin
    output = printed.getvalue()
    assert e.value.code in (None, 0, 1, 2), (args, output)
    assert "Error: unexpected" not in output and "Traceback" not in output, (args, output)
