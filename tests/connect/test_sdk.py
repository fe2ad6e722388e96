"""The connector SDK's public surface: registration through the kpi_connectors hook, settings,
streams, and the ``kpi connectors`` and ``kpi sync`` commands."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from kpi_engine import (
    Connector,
    ConnectorConfigurationError,
    ConnectorSettings,
    PluginError,
    Stream,
    hookimpl,
    load_plugins,
    secret_field,
)
from kpi_engine.cli import cli, main
from kpi_engine_connectors.hubspot import HubSpotConnector
from tests.support.mock_servers.hubspot import HubSpotMock


class AcmeSettings(ConnectorSettings):
    token: SecretStr = secret_field("API token")


class Acme(Connector):
    name = "acme"
    settings_model = AcmeSettings

    def streams(self):
        return [Stream(name="deals", entity="deals", cursor_field="updated_at", reports_deletes=True)]

    def check(self):
        return "ok"

    def read(self, stream, state):
        return iter(())


class AcmePlugin:
    @hookimpl
    def kpi_connectors(self):
        yield Acme


def test_a_third_party_connector_registers_like_a_built_in():
    registry = load_plugins(extra={"acme": AcmePlugin()})
    assert registry.connector("acme") is Acme
    assert registry.connector("hubspot") is HubSpotConnector
    hubspot = next(p for p in registry.plugins if p.name == "hubspot")
    assert hubspot.origin.startswith("built-in") and "connector:hubspot" in hubspot.provides


def test_a_second_connector_with_a_taken_name_is_left_out_naming_the_first():
    registry = load_plugins(use_entry_points=False, extra={"acme": AcmePlugin(), "acme_copy": AcmePlugin()})
    copy = next(p for p in registry.plugins if p.name == "acme_copy")
    assert "connector 'acme' is already provided by plugin 'acme'" in copy.error
    assert registry.owners[("connector", "acme")] == "acme"


def test_something_that_is_not_a_connector_is_refused():
    class Wrong:
        @hookimpl
        def kpi_connectors(self):
            yield object

    registry = load_plugins(use_entry_points=False, extra={"wrong": Wrong()})
    assert "not a Connector subclass" in registry.plugins[-1].error


def test_an_unknown_connector_suggests_the_nearest():
    with pytest.raises(PluginError, match="did you mean 'hubspot'"):
        load_plugins().connector("hubspt")


def test_an_unknown_stream_lists_the_streams():
    connector = Acme(AcmeSettings(token=SecretStr("t-1234")))
    with pytest.raises(ConnectorConfigurationError, match="its streams are: deals"):
        connector.stream("leads")


def test_settings_are_read_from_kpi_name_field_variables():
    connector = Acme.from_env(environ={"KPI_ACME_TOKEN": "from-env-1"}, use_keyring=False)
    assert connector.settings.token.get_secret_value() == "from-env-1"
    assert "from-env-1" not in repr(connector.settings)


def test_connectors_list_shows_streams_and_settings_as_json():
    result = CliRunner().invoke(cli, ["connectors", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    hubspot = rows["hubspot"]
    deals = next(s for s in hubspot["streams"] if s["name"] == "deals")
    assert deals == {
        "name": "deals",
        "entity": "deals",
        "primary_key": "id",
        "cursor_field": "hs_lastmodifieddate",
        "reports_deletes": True,
    }
    token = next(s for s in hubspot["settings"] if s["name"] == "token")
    assert token["variable"] == "KPI_HUBSPOT_TOKEN" and token["secret"] is True


def test_kpi_sync_prints_a_summary_and_check_confirms_the_connection(tmp_path, monkeypatch, capsys):
    with HubSpotMock(deals=60, burst_limit=None) as server:
        monkeypatch.setenv("KPI_HUBSPOT_BASE_URL", server.url)
        monkeypatch.setenv("KPI_HUBSPOT_TOKEN", server.private_token)
        db = f"sqlite:///{tmp_path / 'kpi.sqlite'}"
        runner = CliRunner()
        checked = runner.invoke(cli, ["--db", db, "connectors", "check", "hubspot"])
        assert checked.exit_code == 0 and "hubspot: OK" in checked.output
        first = runner.invoke(cli, ["--db", db, "sync", "hubspot"])
        assert first.exit_code == 0, first.output
        assert "deals" in first.output and "total" in first.output and "succeeded" in first.output
        again = runner.invoke(cli, ["--db", db, "sync", "hubspot", "--format", "json"])
        summary = json.loads(again.stdout)  # stdout alone: a warning on stderr (no keyring here) is not JSON
        assert (summary["inserted"], summary["updated"], summary["deleted"]) == (0, 0, 0)
        assert server.private_token not in first.output + again.output


def test_kpi_sync_errors_are_one_sentence_without_a_traceback(tmp_path, monkeypatch, capsys):
    with HubSpotMock(deals=1, burst_limit=None) as server:
        monkeypatch.setenv("KPI_HUBSPOT_BASE_URL", server.url)
        monkeypatch.setenv("KPI_HUBSPOT_TOKEN", "pat-wrong-token-0000")
        with pytest.raises(SystemExit) as exit_code:
            main(["--db", f"sqlite:///{tmp_path / 'kpi.sqlite'}", "sync", "hubspot"])
    err = capsys.readouterr().err
    assert exit_code.value.code == 1
    assert (
        "Error: HubSpot refused the credentials" in err and "Traceback" not in err and "pat-wrong-token-0000" not in err
    )


def test_a_missing_setting_tells_which_variable_to_set(tmp_path, monkeypatch, capsys):
    for name in (
        "KPI_HUBSPOT_TOKEN",
        "KPI_HUBSPOT_CLIENT_ID",
        "KPI_HUBSPOT_CLIENT_SECRET",
        "KPI_HUBSPOT_REFRESH_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        main(["--db", f"sqlite:///{tmp_path / 'kpi.sqlite'}", "connectors", "check", "hubspot"])
    assert "KPI_HUBSPOT_TOKEN" in capsys.readouterr().err
