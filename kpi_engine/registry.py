"""The plugin manager: loads built-in and third-party plugins from entry points.

Built-in plugins ship in this distribution and register through the same entry-point
group (``kpi_engine.plugins``) as any third party. ``$KPI_PLUGINS`` is an allow-list of
third-party plugin names: unset loads all installed ones, empty loads none.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .engine.contract import RuleType
from .errors import PluginError
from .metrics.declaration import Metric

if TYPE_CHECKING:
    from .connect.connector import Connector

__all__ = ["ALLOW_LIST_ENV", "ENTRY_POINT_GROUP", "TRACE_ENV", "PluginInfo", "Registry", "get_registry", "load_plugins"]

ENTRY_POINT_GROUP = "kpi_engine.plugins"
ALLOW_LIST_ENV = "KPI_PLUGINS"
TRACE_ENV = "KPI_TRACE_PLUGINS"
"""Set to 1 to print every hook call and its result on standard error."""
_OWN_DISTRIBUTION = "kpi-engine"


@dataclass
class PluginInfo:
    """A loaded (or failed) plugin: its name, version, where it came from and what it adds."""

    name: str
    version: str
    origin: str
    provides: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class Registry:
    """Every metric, rule type and connector the loaded plugins provide, with the plugin behind each."""

    manager: pluggy.PluginManager
    plugins: list[PluginInfo] = field(default_factory=list)
    metrics: dict[str, Metric] = field(default_factory=dict)
    rule_types: dict[str, RuleType] = field(default_factory=dict)
    connectors: dict[str, type[Connector]] = field(default_factory=dict)
    owners: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, name) -> plugin

    def metric(self, name: str) -> Metric:
        return _lookup(self.metrics, name, "metric")

    def rule_type(self, name: str) -> RuleType:
        return _lookup(self.rule_types, name, "rule type")

    def connector(self, name: str) -> type[Connector]:
        return _lookup(self.connectors, name, "connector")


def _lookup(table: dict[str, Any], name: str, kind: str) -> Any:
    try:
        return table[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(name, table, n=1)
        hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(sorted(table)) or 'none'}"
        raise PluginError(f"no {kind} is called {name!r}.", hint=hint) from None


def _allow_list() -> set[str] | None:
    raw = os.environ.get(ALLOW_LIST_ENV)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _trace(message: str) -> None:
    if os.environ.get(TRACE_ENV):
        sys.stderr.write(f"[kpi plugins] {message}\n")


def _collect(registry: Registry, plugin_name: str, info: PluginInfo) -> None:
    """Ask one plugin for its records and refuse names another plugin already took."""
    hook_impls: list[tuple[str, Any, dict[str, Any]]] = [
        ("metric", registry.manager.hook.kpi_metrics, registry.metrics),
        ("rule type", registry.manager.hook.kpi_rule_types, registry.rule_types),
        ("connector", registry.manager.hook.kpi_connectors, registry.connectors),
    ]
    for kind, hook, table in hook_impls:
        for impl in hook.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            records = list(impl.function() or ())
            if kind == "connector":
                for record in records:
                    _check_connector(record, plugin_name)
            _trace(f"{plugin_name}.{impl.function.__name__}() -> {[r.name for r in records]}")
            for record in records:
                owner = registry.owners.get((kind, record.name))
                if owner is not None:
                    raise PluginError(
                        f"the {kind} {record.name!r} is provided by both plugin {owner!r} and plugin {plugin_name!r}.",
                        hint=f"uninstall one of them or leave one out of ${ALLOW_LIST_ENV}",
                    )
                table[record.name] = record
                registry.owners[(kind, record.name)] = plugin_name
                info.provides.append(f"{kind}:{record.name}")


def _check_connector(candidate: Any, plugin_name: str) -> None:
    from .connect.connector import Connector

    if not (isinstance(candidate, type) and issubclass(candidate, Connector)):
        raise PluginError(
            f"plugin {plugin_name!r} registered {candidate!r} as a connector, but it is not a Connector subclass."
        )
    missing = [attr for attr in ("name", "settings_model") if not hasattr(candidate, attr)]
    if missing:
        raise PluginError(
            f"the connector {candidate.__name__} of plugin {plugin_name!r} does not declare {', '.join(missing)}."
        )


def load_plugins(*, use_entry_points: bool = True, extra: dict[str, object] | None = None) -> Registry:
    """Build a registry from installed entry points and ``extra`` plugins (name -> module or object)."""
    manager = pluggy.PluginManager("kpi_engine")
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    allowed = _allow_list()
    candidates: list[tuple[str, str, str, Any]] = []  # name, version, origin, loader
    if use_entry_points:
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            dist = ep.dist
            dist_name = dist.name if dist else "unknown"
            version = dist.version if dist else "?"
            builtin = dist_name == _OWN_DISTRIBUTION
            if not builtin and allowed is not None and ep.name not in allowed:
                continue
            origin = f"built-in ({ep.value})" if builtin else f"{dist_name} ({ep.value})"
            candidates.append((ep.name, version, origin, ep.load))
    for name, obj in (extra or {}).items():
        candidates.append((name, "-", "registered in code", lambda obj=obj: obj))
    for name, version, origin, load in candidates:
        info = PluginInfo(name=name, version=version, origin=origin)
        registry.plugins.append(info)
        try:
            module = load()
            if manager.is_registered(module) or manager.get_plugin(name) is not None:
                raise PluginError(f"plugin {name!r} is registered twice.")
            manager.register(module, name=name)
            manager.check_pending()
            _collect(registry, name, info)
        except PluginError:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin that fails is listed with its error, the rest load
            info.error = f"{type(exc).__name__}: {exc}"
            _trace(f"{name} failed: {info.error}")
            if manager.get_plugin(name) is not None:
                manager.unregister(name=name)
    return registry


_cached: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _cached
    if _cached is None:
        _cached = load_plugins()
    return _cached
