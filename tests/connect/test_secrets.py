"""Secrets: read from the environment or a keyring, and never shown in a log line, an error or a repr."""

from __future__ import annotations

import logging
import sys
import types

import pytest
from pydantic import SecretStr

from kpi_engine import (
    AuthenticationError,
    ConnectorConfigurationError,
    ConnectorContext,
    KPIError,
    redact,
    register_secret,
    sync,
)
from kpi_engine.connect.secrets import RedactingFilter, load_settings
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.hubspot import HubSpotConnector, HubSpotSettings
from tests.support.mock_servers.hubspot import HubSpotMock


@pytest.fixture
def hubspot():
    with HubSpotMock(deals=120, burst_limit=None) as server:
        yield server


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    lines = []
    for record in caplog.records:
        lines.append(record.getMessage())
        if record.exc_text:
            lines.append(record.exc_text)
    return "\n".join(lines)


def test_a_sync_with_a_token_set_never_shows_it_in_a_log_line_or_an_error(store, hubspot, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("KPI_HUBSPOT_BASE_URL", hubspot.url)
    monkeypatch.setenv("KPI_HUBSPOT_TOKEN", hubspot.private_token)
    hubspot.faults.every(4, "rate_limit")
    hubspot.faults.burst(2, "server_error", after=6)
    connector = HubSpotConnector.from_env(context=ConnectorContext(clock=FakeClock()), use_keyring=False)
    summary = sync(store, connector)
    assert summary.status == "succeeded" and summary.total("read") > 0
    # and once more with the token refused, so that errors are raised and logged too
    monkeypatch.setenv("KPI_HUBSPOT_TOKEN", hubspot.private_token[:-4] + "beef")
    refused = HubSpotConnector.from_env(context=ConnectorContext(clock=FakeClock()), use_keyring=False)
    with pytest.raises(AuthenticationError) as error:
        sync(store, refused)
    logging.getLogger("kpi_engine.connectors.hubspot").exception("sync failed: %s", error.value)
    text = _all_text(caplog)
    assert "GET" in text and "429" in text, "the HTTP layer logged its calls"
    for secret in (hubspot.private_token, hubspot.private_token[:-4] + "beef"):
        assert secret not in text
        assert secret not in str(error.value)
        assert secret not in repr(connector.settings) and secret not in repr(refused.settings)


def test_an_oauth_sync_never_shows_the_client_secret_refresh_token_or_access_tokens(store, hubspot, caplog):
    caplog.set_level(logging.DEBUG)
    connector = HubSpotConnector.from_env(
        {
            "base_url": hubspot.url,
            "client_id": hubspot.client_id,
            "client_secret": hubspot.client_secret,
            "refresh_token": hubspot.refresh_token,
        },
        environ={},
        context=ConnectorContext(clock=FakeClock()),
        use_keyring=False,
    )
    hubspot.tokens.expire_after(5, every_token=True)  # every access token dies 5 calls after it was issued
    sync(store, connector)
    text = _all_text(caplog)
    issued = list(hubspot.tokens.live) + list(hubspot.tokens.expired)
    assert len(issued) >= 2, "tokens expired mid-sync and were refreshed"
    for secret in (hubspot.client_secret, hubspot.refresh_token, *issued):
        assert secret not in text


def test_redact_masks_registered_secrets_and_credential_shaped_values():
    register_secret("s3cr3t-value-42")
    text = redact(
        'call failed: token s3cr3t-value-42; Authorization: Bearer abc.def; {"access_token": "xyz"} ?api_key=k123&x=1'
    )
    assert "s3cr3t-value-42" not in text and "abc.def" not in text and "xyz" not in text and "k123" not in text
    assert "x=1" in text


def test_the_log_filter_masks_arguments_and_tracebacks():
    register_secret("tb-secret-9876")
    try:
        raise ValueError("bad tb-secret-9876")
    except ValueError:
        record = logging.LogRecord(
            "kpi_engine", logging.ERROR, __file__, 1, "value %s", ("tb-secret-9876",), sys.exc_info()
        )
    RedactingFilter().filter(record)
    assert "tb-secret-9876" not in record.getMessage() and "tb-secret-9876" not in (record.exc_text or "")


def test_a_missing_secret_names_its_variable_and_keyring_entry():
    with pytest.raises(ConnectorConfigurationError) as error:
        HubSpotConnector.from_env({"client_id": "app"}, environ={}, use_keyring=False)
    message = str(error.value)
    assert "KPI_HUBSPOT_TOKEN" in message and "client_secret" in message


def test_an_invalid_setting_is_refused_without_echoing_the_value():
    with pytest.raises(KPIError) as error:
        load_settings(
            HubSpotSettings,
            "hubspot",
            {"token": "pat-very-secret-1", "page_size": "500 with pat-very-secret-1"},
            environ={},
        )
    assert "page_size" in str(error.value) and "pat-very-secret-1" not in str(error.value)


def test_secrets_come_from_the_keyring_when_the_environment_has_none(monkeypatch):
    fake = types.ModuleType("keyring")
    fake.get_password = lambda service, name: (
        "pat-from-keyring-7" if (service, name) == ("kpi-engine", "hubspot.token") else None
    )
    monkeypatch.setitem(sys.modules, "keyring", fake)
    settings = load_settings(HubSpotSettings, "hubspot", environ={})
    assert isinstance(settings.token, SecretStr) and settings.token.get_secret_value() == "pat-from-keyring-7"
    assert "pat-from-keyring-7" not in repr(settings) and redact("x pat-from-keyring-7") == "x ***"


def test_the_environment_wins_over_the_keyring(monkeypatch):
    fake = types.ModuleType("keyring")
    fake.get_password = lambda service, name: "from-keyring-1"
    monkeypatch.setitem(sys.modules, "keyring", fake)
    settings = load_settings(HubSpotSettings, "hubspot", environ={"KPI_HUBSPOT_TOKEN": "from-env-123"})
    assert settings.token.get_secret_value() == "from-env-123"


@pytest.mark.parametrize(
    "name", ["kpi_engine.http", "kpi_engine.sync", "kpi_engine.connectors.hubspot", "urllib3.connectionpool"]
)
def test_each_logger_of_a_sync_masks_secrets(caplog, name):
    from kpi_engine import connector_logger

    connector_logger("hubspot")
    register_secret("pat-logged-by-mistake-1")
    caplog.set_level(logging.DEBUG)
    logging.getLogger(name).debug("GET /x?token=%s", "pat-logged-by-mistake-1")
    assert "pat-logged-by-mistake-1" not in caplog.text and "GET /x" in caplog.text
