"""The public API is explicit, and the layers only import what they may."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import kpi_engine

ROOT = Path(__file__).parent.parent


def _imports(folder: str) -> list[tuple[str, str]]:
    found = []
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((str(path.relative_to(ROOT)), node.module))
            elif isinstance(node, ast.Import):
                found.extend((str(path.relative_to(ROOT)), alias.name) for alias in node.names)
    return found


def test_all_is_complete_and_sorted():
    # identifiers only: pytest's assertion rewriting adds "@py_builtins" to modules of a distribution with a pytest
    # plugin
    public = {
        name for name in dir(kpi_engine) if name.isidentifier() and (not name.startswith("_") or name == "__version__")
    }
    public -= {
        name for name in public if isinstance(getattr(kpi_engine, name), types.ModuleType) and name != "schema"
    }  # submodules
    assert kpi_engine.__all__ == sorted(kpi_engine.__all__)
    assert set(kpi_engine.__all__) == public


def test_core_never_imports_plugins_connectors_or_rules():
    offenders = [
        (f, m) for f, m in _imports("kpi_engine") if m.split(".")[0] in ("kpi_engine_plugins", "kpi_engine_connectors")
    ]
    assert offenders == []


PUBLIC_MODULES = {"kpi_engine", "kpi_engine.connect", "kpi_engine.testing"}


def test_builtin_plugins_and_connectors_use_only_the_public_api():
    for folder in ("plugins", "connectors"):
        private = [(f, m) for f, m in _imports(folder) if m.startswith("kpi_engine") and m not in PUBLIC_MODULES]
        private = [(f, m) for f, m in private if m.split(".")[0] == "kpi_engine"]
        assert private == [], f"{folder} reaches into the core: {private}"


def test_the_connector_sdk_has_a_namespace_of_its_own_also_exported_by_the_package():
    import kpi_engine.connect

    assert kpi_engine.connect.__all__ == sorted(kpi_engine.connect.__all__)
    assert set(kpi_engine.connect.__all__) <= set(kpi_engine.__all__)
    for name in kpi_engine.connect.__all__:
        assert getattr(kpi_engine, name) is getattr(kpi_engine.connect, name), name
    assert {"Connector", "Stream", "HttpClient", "OAuth2Refresh", "cursor_pages", "sync"} <= set(
        kpi_engine.connect.__all__
    )


def test_every_hook_has_a_docstring_with_an_example():
    from kpi_engine import hookspecs

    for name in hookspecs.__all__:
        if name.startswith("kpi_"):
            doc = getattr(hookspecs, name).__doc__ or ""
            assert "Example" in doc, name
