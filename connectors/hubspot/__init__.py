"""The HubSpot connector (CRM v3), registered like any third-party connector."""

from collections.abc import Iterator

from kpi_engine import Connector, hookimpl

from .connector import HubSpotConnector, HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings", "kpi_connectors"]


@hookimpl
def kpi_connectors() -> Iterator[type[Connector]]:
    yield HubSpotConnector
