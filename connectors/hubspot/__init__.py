"""The HubSpot connector (CRM v3), registered like any third-party connector."""

from kpi_engine import hookimpl

from .connector import HubSpotConnector, HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings", "kpi_connectors"]


@hookimpl
def kpi_connectors():
    yield HubSpotConnector
