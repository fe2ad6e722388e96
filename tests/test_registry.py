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


def test_a_metric_name_taken_twice_is_refused_naming_both_plugins():
    with pytest.raises(PluginError) as err:
        load_plugins(extra={"first": _metric_plugin("pipeline"), "second": _metric_plugin("pipeline")})
    assert "'first'" in str(err.value) and "'second'" in str(err.value)


def test_a_plugin_clashing_with_a_builtin_is_refused():
    with pytest.raises(PluginError, match="sales_metrics"):
        load_plugins(extra={"mine": _metric_plugin("bookings")})


def test_a_plugin_that_fails_is_reported_and_the_rest_keep_working():
    def broken():
        raise ImportError("no module named 'crm_sdk'")

    @hookimpl
    def kpi_metrics():
        raise RuntimeError("boom")

    registry = load_plugins(
        extra={"broken": types.SimpleNamespace(kpi_metrics=kpi_metrics), "fine": _metric_plugin("pipeline")}
    )
    info = {p.name: p for p in registry.plugins}
    assert "boom" in info["broken"].error
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
