"""Tests of the connector SDK, the sync engine and the connectors."""
