"""The core's layout keeps the rules it was split by: the folders read as the data flow, modules stay small,
private names stay in their subpackage, and importing the engine changes nothing outside it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "kpi_engine"
SUBPACKAGES = [
    "formula",
    "plans",
    "metrics",
    "engine",
    "findings",
    "store",
    "ingest",
    "connect",
    "reports",
    "notify",
    "daily",
    "cli",
]
MAX_LINES = 600


def _modules() -> list[Path]:
    return [p for p in CORE.rglob("*.py") if "migrations" not in p.parts]


def _subpackage_of(path: Path) -> str:
    parts = path.relative_to(CORE).parts
    return parts[0] if len(parts) > 1 else ""


def _target_subpackage(path: Path, node: ast.ImportFrom) -> str | None:
    """The subpackage of ``kpi_engine`` an import reads from ("" for a top-level module)."""
    if node.level == 0:
        if not (node.module or "").startswith("kpi_engine."):
            return None
        parts = node.module.split(".")[1:]
    else:
        here = list(path.relative_to(CORE).parent.parts)
        base = here[: len(here) - (node.level - 1)]
        parts = base + (node.module.split(".") if node.module else [])
    return parts[0] if len(parts) > 1 or (parts and (CORE / parts[0]).is_dir()) else ""


def test_the_folders_are_the_pipeline():
    for name in SUBPACKAGES:
        init = CORE / name / "__init__.py"
        assert init.is_file(), name
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{name}/__init__.py says what it holds"


def test_no_module_of_the_core_passes_six_hundred_lines():
    long = {
        str(p.relative_to(CORE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_private_name_is_imported_from_another_subpackage():
    crossing = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            target = _target_subpackage(path, node)
            if target is None or target == _subpackage_of(path):
                continue
            crossing += [
                f"{path.relative_to(CORE)}: {a.name} from {node.module}"
                for a in node.names
                if a.name.startswith("_") and a.name != "__version__"
            ]
    assert crossing == []


def test_importing_the_engine_touches_no_other_library_and_leaves_the_collector_on():
    probe = (
        "import gc, logging; import kpi_engine, kpi_engine.cli, kpi_engine.connect; "
        "names = ['urllib3', 'urllib3.connectionpool', 'requests', 'kpi_engine', 'kpi_engine.http']; "
        "print(sum(len(logging.getLogger(n).filters) for n in names), gc.isenabled())"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", "True"]


def test_the_cli_installs_log_redaction_where_it_starts():
    probe = (
        "import logging, sys; from kpi_engine.cli import main; sys.argv = ['kpi', '--version']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(len(logging.getLogger('urllib3.connectionpool').filters))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[-1] == "1"
