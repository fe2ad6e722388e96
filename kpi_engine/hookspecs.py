"""Hook specifications: what a plugin can add to the engine.

A plugin is any module or object with functions marked ``@kpi_engine.hookimpl`` and named
as below; each returns typed records. Register it under the ``kpi_engine.plugins``
entry-point group::

    [project.entry-points."kpi_engine.plugins"]
    my_metrics = "my_package.metrics"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from .engine.contract import RuleType
from .metrics.declaration import Metric

if TYPE_CHECKING:
    from .connect.connector import Connector

__all__ = ["hookimpl", "hookspec", "kpi_connectors", "kpi_metrics", "kpi_rule_types"]

hookspec = pluggy.HookspecMarker("kpi_engine")
hookimpl = pluggy.HookimplMarker("kpi_engine")


@hookspec
def kpi_metrics() -> Iterable[Metric]:
    """Metrics this plugin computes per person and period.

    Example::

        @hookimpl
        def kpi_metrics():
            yield Metric(name="visits", description="Customer visits", unit="count",
                         query=lambda ctx: select(...))
    """
    return ()


@hookspec
def kpi_rule_types() -> Iterable[RuleType]:
    """Rule types plans may use (``type:`` in a plan's rule).

    Example::

        @hookimpl
        def kpi_rule_types():
            yield RuleType(name="flat_bonus", description="...", config_model=FlatBonus,
                           metrics=lambda cfg: {cfg.metric}, evaluate=evaluate_flat_bonus)
    """
    return ()


@hookspec
def kpi_connectors() -> Iterable[type[Connector]]:
    """CRM connectors this plugin provides (``kpi sync NAME``): ``Connector`` subclasses.

    Example::

        @hookimpl
        def kpi_connectors():
            yield AcmeConnector  # class AcmeConnector(Connector): name = "acme"; ...
    """
    return ()
