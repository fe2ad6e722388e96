"""Custom metrics declared in YAML files (``$KPI_METRICS_PATH`` or ``./metrics``), registered as any plugin's."""

from __future__ import annotations

from kpi_engine import Metric, custom_metrics_from_environment, hookimpl

__all__ = ["kpi_metrics"]


@hookimpl
def kpi_metrics() -> list[Metric]:
    return custom_metrics_from_environment()
