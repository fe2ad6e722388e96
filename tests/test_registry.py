"""The plugin system: built-ins through entry points, duplicates refused, broken plugins reported."""

from __future__ import annotations

import types

import pytest
from sqlalchemy import literal, select

from kpi_engine import Metric, PluginError, hookimpl, load_plugins


def _metric_plugin(name: str) -> types.SimpleNamespace:
    @hookimpl
    def kpi_metrics():
        return [Metric(name=name, description="test", unit="count", query=lambda ctx: select(literal("p"), literal(1)))]

    return types.SimpleNamespace(kpi_metrics=kpi_metrics)


def test_builtins_register_through_the_public_entry_point_group():
    registry = load_plugins()
    origins = {p.name: p.origin for p in registry.plugins}
    assert origins["tiered_commission"].startswith("built-in")
    assert origins["sales_metrics"].startswith("built-in")
    assert "tiered_commission" in registry.rule_types
    assert registry.owners[("metric", "bookings")] == "sales_metrics"


def test_a_metric_name_taken_twice_leaves_the_second_plugin_out_naming_the_first():
    registry = load_plugins(extra={"first": _metric_plugin("pipeline"), "second": _metric_plugin("pipeline")})
    info = {p.name: p for p in registry.plugins}
    assert info["first"].error is None and registry.owners[("metric", "pipeline")] == "first"
    assert "'first'" in info["second"].error and info["second"].provides == []


def test_a_plugin_clashing_with_a_builtin_is_left_out_and_the_builtin_stays():
    registry = load_plugins(extra={"mine": _metric_plugin("bookings")})
    mine = next(p for p in registry.plugins if p.name == "mine")
    assert "'sales_metrics'" in mine.error and "built-in" in mine.error
    assert registry.owners[("metric", "bookings")] == "sales_metrics"


def test_a_plugin_that_fails_is_reported_and_the_rest_keep_working():
    @hookimpl
    def kpi_metrics():
        raise RuntimeError("boom")

    @hookimpl
    def kpi_rule_types():
        return []

    half_broken = types.SimpleNamespace(kpi_metrics=kpi_metrics, kpi_rule_types=kpi_rule_types)
    registry = load_plugins(extra={"broken": half_broken, "fine": _metric_plugin("pipeline")})
    info = {p.name: p for p in registry.plugins}
    assert "boom" in info["broken"].error
    assert registry.manager.get_plugin("broken") is None, "a failed plugin's hooks are never called again"
    assert info["fine"].error is None and "pipeline" in registry.metrics
    assert "bookings" in registry.metrics


def test_a_misspelt_hook_fails_at_start_up():
    @hookimpl
    def kpi_metric():  # missing "s"
        return []

    registry = load_plugins(extra={"typo": types.SimpleNamespace(kpi_metric=kpi_metric)})
    assert "kpi_metric" in registry.plugins[-1].error


def test_allow_list_empty_loads_no_third_party_plugin(monkeypatch):
    monkeypatch.setenv("KPI_PLUGINS", "")
    registry = load_plugins()
    assert {p.name for p in registry.plugins} >= {"tiered_commission", "sales_metrics"}
    assert all(p.origin.startswith("built-in") for p in registry.plugins)


def test_unknown_names_suggest_the_nearest():
    registry = load_plugins()
    with pytest.raises(PluginError, match="did you mean 'bookings'"):
        registry.metric("bokings")


def test_every_builtin_is_also_listed_in_the_entry_point_group_as_a_third_party_would_be():
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    listed = pyproject["project"]["entry-points"]["kpi_engine.plugins"]
    builtins = {p.name: p.origin for p in load_plugins().plugins if p.origin.startswith("built-in")}
    assert {name: f"built-in ({module})" for name, module in listed.items()} == builtins
