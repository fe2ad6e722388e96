"""The plugin manager: loads built-in and third-party plugins.

Built-in plugins are written as any third party's are, and listed in the entry-point group
(``kpi_engine.plugins``) like them; the loader finds them by module path (the public modules
of ``kpi_engine_plugins`` and ``kpi_engine_connectors``), since a distribution name can be
claimed by anyone. ``$KPI_PLUGINS`` is an allow-list of third-party plugin names: unset loads
all installed ones, empty loads none. A third-party plugin that fails to load, or whose names
are taken, is listed with its error, contributes nothing and is logged as a warning.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Callable
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

__all__ = [
    "ALLOW_LIST_ENV",
    "BUILTIN_PACKAGES",
    "ENTRY_POINT_GROUP",
    "TRACE_ENV",
    "PluginInfo",
    "Registry",
    "get_registry",
    "load_plugins",
]

ENTRY_POINT_GROUP = "kpi_engine.plugins"
ALLOW_LIST_ENV = "KPI_PLUGINS"
TRACE_ENV = "KPI_TRACE_PLUGINS"
"""Set to 1 to print every hook call and its result on standard error."""
BUILTIN_PACKAGES = frozenset({"kpi_engine_plugins", "kpi_engine_connectors"})
"""Entry points whose code lives in these packages are the built-ins, whatever distribution lists them."""

logger = logging.getLogger(__name__)


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


def _collect(registry: Registry, plugin_name: str, info: PluginInfo) -> list[tuple[str, Any, dict[str, Any]]]:
    """Ask one plugin for its records; nothing is added to the registry here.

    Raises ``_Clash`` when a name is already taken, so the caller can leave the whole plugin out.
    """
    hook_impls: list[tuple[str, Any, dict[str, Any]]] = [
        ("metric", registry.manager.hook.kpi_metrics, registry.metrics),
        ("rule type", registry.manager.hook.kpi_rule_types, registry.rule_types),
        ("connector", registry.manager.hook.kpi_connectors, registry.connectors),
    ]
    offered: list[tuple[str, Any, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for kind, hook, table in hook_impls:
        for impl in hook.get_hookimpls():
            if impl.plugin_name != plugin_name:
                continue
            records = list(impl.function() or ())
            for record in records:
                _check_record(kind, record, plugin_name)
            _trace(f"{plugin_name}.{impl.function.__name__}() -> {[r.name for r in records]}")
            for record in records:
                key = (kind, record.name)
                owner = registry.owners.get(key)
                if owner is not None or key in seen:
                    raise _Clash(kind, record.name, owner or plugin_name)
                seen.add(key)
                offered.append((kind, record, table))
    return offered


class _Clash(Exception):
    def __init__(self, kind: str, name: str, owner: str) -> None:
        super().__init__(kind, name, owner)
        self.kind, self.name, self.owner = kind, name, owner


_RECORD_TYPES: dict[str, type] = {"metric": Metric, "rule type": RuleType}


def _check_record(kind: str, candidate: Any, plugin_name: str) -> None:
    if kind == "connector":
        _check_connector(candidate, plugin_name)
        return
    expected = _RECORD_TYPES[kind]
    if not isinstance(candidate, expected):
        raise PluginError(
            f"plugin {plugin_name!r} offered {candidate!r} as a {kind}, but it is not a {expected.__name__}."
        )


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


@dataclass
class _Candidate:
    name: str
    version: str
    origin: str
    load: Callable[[], object]


def _builtin_candidates() -> list[_Candidate]:
    """The built-ins, found by where their code lives: every public module of the built-in packages.

    Not read from entry points: another distribution can claim this one's name and shadow its metadata.
    """
    from ._version import __version__

    found: list[_Candidate] = []
    for package_name in sorted(BUILTIN_PACKAGES):
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            if module.name.startswith("_"):
                continue
            path = f"{package_name}.{module.name}"
            found.append(
                _Candidate(
                    module.name, __version__, f"built-in ({path})", functools.partial(importlib.import_module, path)
                )
            )
    return sorted(found, key=lambda c: c.name)


def _entry_point_candidates(allowed: set[str] | None) -> list[_Candidate]:
    """Third-party plugins: entry points whose code lives outside the built-in packages, as allowed."""
    found: list[_Candidate] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.module.partition(".")[0] in BUILTIN_PACKAGES:
            continue  # a built-in, loaded by module path
        if allowed is not None and ep.name not in allowed:
            continue
        dist = ep.dist
        dist_name = dist.name if dist else "an unknown distribution"
        found.append(_Candidate(ep.name, dist.version if dist else "?", f"{dist_name} ({ep.value})", ep.load))
    return found


def load_plugins(*, use_entry_points: bool = True, extra: dict[str, object] | None = None) -> Registry:
    """Build a registry from the built-ins, installed entry points and ``extra`` plugins (name -> module or object).

    Built-ins load first. A third-party plugin that fails at import (an exception, ``sys.exit``,
    something that is not a plugin) or whose names are taken is listed with its error and
    contributes nothing; the others, and every built-in, keep working.
    """
    manager = pluggy.PluginManager("kpi_engine")
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager=manager)
    candidates = _builtin_candidates() + (_entry_point_candidates(_allow_list()) if use_entry_points else [])
    for name, obj in (extra or {}).items():
        candidates.append(_Candidate(name, "-", "registered in code", functools.partial(_given, obj)))
    origins: dict[str, str] = {}
    for candidate in candidates:
        info = PluginInfo(name=candidate.name, version=candidate.version, origin=candidate.origin)
        registry.plugins.append(info)
        error = _register(registry, candidate, info, origins)
        if error is None:
            origins[candidate.name] = candidate.origin
            continue
        info.error = error
        info.provides.clear()
        _trace(f"{candidate.name} failed: {error}")
        logger.warning("plugin %r (%s) was not loaded: %s", candidate.name, candidate.origin, error)
    return registry


def _given(obj: object) -> object:
    return obj


def _register(registry: Registry, candidate: _Candidate, info: PluginInfo, origins: dict[str, str]) -> str | None:
    """Load and register one plugin; return why it was left out, or None."""
    manager = registry.manager
    name = candidate.name
    if name in origins:
        return f"the name {name!r} is already taken by the plugin from {origins[name]}."
    try:
        module = candidate.load()
        if module is None or isinstance(module, str | int | float | bytes | bool):
            return f"its entry point gives {module!r}, not a module or object with hook functions."
        if manager.is_registered(module):
            taken = manager.get_name(module)
            return f"it is the same code as plugin {taken!r} from {origins.get(taken or '', 'elsewhere')}."
        manager.register(module, name=name)
        manager.check_pending()
        offered = _collect(registry, name, info)
    except KeyboardInterrupt:
        raise
    except _Clash as clash:
        _forget(manager, name)
        if clash.owner == name:
            return f"it offers the {clash.kind} {clash.name!r} twice."
        where = origins.get(clash.owner, "elsewhere")
        return f"the {clash.kind} {clash.name!r} is already provided by plugin {clash.owner!r} from {where}."
    except PluginError as exc:
        _forget(manager, name)
        return exc.message
    except SystemExit as exc:
        _forget(manager, name)
        return f"it called sys.exit({exc.code!r}) while loading."
    except BaseException as exc:  # noqa: BLE001 - a plugin that fails is listed with its error, the rest load
        _forget(manager, name)
        return f"{type(exc).__name__}: {exc}"
    for kind, record, table in offered:
        table[record.name] = record
        registry.owners[(kind, record.name)] = name
        info.provides.append(f"{kind}:{record.name}")
    return None


def _forget(manager: pluggy.PluginManager, name: str) -> None:
    if manager.get_plugin(name) is not None:
        manager.unregister(name=name)


_cached: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _cached
    if _cached is None:
        _cached = load_plugins()
    return _cached
