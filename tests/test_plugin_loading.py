"""Installed plugins that misbehave: each is listed with its error and contributes nothing; built-ins always load.

Each test installs a real distribution (a ``*.dist-info`` folder with ``entry_points.txt``) on a
temporary ``sys.path`` entry, the way pip would, so the loader reads it through ``importlib.metadata``.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from kpi_engine import load_plugins
from kpi_engine import registry as registry_module
from kpi_engine.cli import main


@pytest.fixture
def install(tmp_path, monkeypatch):
    """``install(dist, {entry_name: "module:attr"}, {module: source})`` puts a distribution on sys.path."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)

    def _install(dist: str, entries: dict[str, str], modules: dict[str, str]) -> None:
        info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        lines = "\n".join(f"{name} = {target}" for name, target in entries.items())
        (info / "entry_points.txt").write_text(f"[kpi_engine.plugins]\n{lines}\n")
        for module, source in modules.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))

    yield _install
    for name in set(sys.modules) - before:
        if Path(getattr(sys.modules[name], "__file__", "") or "").is_relative_to(site):
            del sys.modules[name]


METRIC_PLUGIN = """
    from sqlalchemy import literal, select
    from kpi_engine import Metric, hookimpl

    @hookimpl
    def kpi_metrics():
        query = lambda ctx: select(literal("p"), literal(1))  # noqa: E731
        return [Metric(name="{name}", description="d", unit="count", query=query)]
"""


def _by_name(registry):
    return {p.name: p for p in registry.plugins}


def test_a_plugin_calling_sys_exit_at_import_is_listed_and_every_command_still_runs(install, capsys, monkeypatch):
    install("acme-exit", {"exiting": "acme_exit"}, {"acme_exit": "import sys\nsys.exit(3)\n"})
    registry = load_plugins()
    assert "sys.exit(3)" in _by_name(registry)["exiting"].error
    assert "bookings" in registry.metrics

    monkeypatch.setattr(registry_module, "_cached", None)
    with pytest.raises(SystemExit) as exit_:
        main(["plugins", "list", "--format", "json"])
    assert exit_.value.code == 0
    warning = capsys.readouterr().err
    assert warning.startswith("Warning: plugin 'exiting'") and "sys.exit(3)" in warning


def test_junk_at_import_is_listed_with_its_error(install):
    install(
        "acme-junk",
        {"syntax": "acme_syntax", "number": "acme_number:VALUE"},
        {"acme_syntax": "def (:\n", "acme_number": "VALUE = 42\n"},
    )
    plugins = _by_name(load_plugins())
    assert "SyntaxError" in plugins["syntax"].error
    assert "42" in plugins["number"].error and plugins["number"].provides == []


def test_an_installed_plugin_named_like_a_builtin_names_both_and_leaves_the_builtin_in_place(install):
    install("acme-bonus", {"bonus": "acme_bonus"}, {"acme_bonus": METRIC_PLUGIN.format(name="acme_metric")})
    registry = load_plugins()
    clashes = [p for p in registry.plugins if p.name == "bonus"]
    builtin, third_party = clashes
    assert builtin.error is None and builtin.origin.startswith("built-in")
    assert "acme-bonus" in third_party.origin
    assert "built-in (kpi_engine_plugins.bonus)" in third_party.error
    assert "acme_metric" not in registry.metrics
    assert "bonus" in registry.rule_types


def test_a_plugin_whose_metric_is_taken_contributes_none_of_its_other_records(install):
    source = """
        from sqlalchemy import literal, select
        from kpi_engine import Metric, hookimpl

        def _metric(name):
            return Metric(name=name, description="d", unit="count", query=lambda ctx: select(literal("p"), literal(1)))

        @hookimpl
        def kpi_metrics():
            return [_metric("fresh"), _metric("bookings")]
    """
    install("acme-half", {"half": "acme_half"}, {"acme_half": source})
    registry = load_plugins()
    half = _by_name(registry)["half"]
    assert "'sales_metrics'" in half.error and half.provides == []
    assert "fresh" not in registry.metrics
    assert registry.owners[("metric", "bookings")] == "sales_metrics"


def test_a_distribution_claiming_the_engines_name_is_not_a_builtin(install, monkeypatch):
    install("kpi-engine", {"bonus": "evil_bonus", "extra": "evil_bonus"}, {"evil_bonus": "VALUE = 1\n"})
    monkeypatch.setenv("KPI_PLUGINS", "")
    registry = load_plugins()
    assert [p.name for p in registry.plugins if not p.origin.startswith("built-in")] == []
    assert all(p.error is None for p in registry.plugins)
    assert {"bonus", "tiered_commission", "scorecard"} <= set(registry.rule_types)
