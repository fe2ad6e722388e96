"""Secrets at rest and in headers: refreshed tokens never in clear in the database, header values
checked before use, and no secret in a ``--debug`` traceback.

OAuth syncs run against the HubSpot mock, whose access tokens expire mid-sync so the connector
refreshes and saves new ones; what lands in ``connector_tokens`` is read back as the database holds it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from kpi_engine import (
    ConnectorConfigurationError,
    ConnectorContext,
    open_store,
    redact,
    register_secret,
    schema,
    sync,
)
from kpi_engine.cli import main
from kpi_engine.connect.secrets import (
    TOKEN_KEY_ENV,
    MemoryTokenStore,
    StoreTokenStore,
    default_token_store,
    load_settings,
    new_token_key,
)
from kpi_engine.testing import FakeClock
from kpi_engine_connectors.hubspot import HubSpotConnector, HubSpotSettings
from tests.conftest import database_of_its_own
from tests.support.mock_servers.hubspot import HubSpotMock


@pytest.fixture
def hubspot():
    with HubSpotMock(deals=60, burst_limit=None) as server:
        server.tokens.expire_after(5, every_token=True)
        yield server


@pytest.fixture(autouse=True)
def no_keyring(monkeypatch):
    monkeypatch.setitem(sys.modules, "keyring", None)  # as on a server: `import keyring` fails


def _oauth(hubspot: HubSpotMock, token_store) -> HubSpotConnector:
    return HubSpotConnector.from_env(
        {
            "base_url": hubspot.url,
            "client_id": hubspot.client_id,
            "client_secret": hubspot.client_secret,
            "refresh_token": hubspot.refresh_token,
        },
        environ={},
        context=ConnectorContext(clock=FakeClock(), token_store=token_store),
        use_keyring=False,
    )


def _saved_rows(store) -> str:
    with store.connect() as conn:
        return repr(conn.execute(select(schema.connector_tokens)).all())


def test_refreshed_tokens_are_kept_in_the_database_only_encrypted(store, hubspot):
    key = new_token_key()
    sync(store, _oauth(hubspot, StoreTokenStore(store, key)))
    issued = list(hubspot.tokens.live) + list(hubspot.tokens.expired)
    assert len(issued) >= 2, "tokens expired mid-sync and were refreshed"
    at_rest = _saved_rows(store)
    assert "fernet" in at_rest
    for secret in (*issued, hubspot.refresh_token, hubspot.client_secret):
        assert secret not in at_rest

    reopened = StoreTokenStore(store, key)
    [saved_key] = [row.key for row in _rows(store)]
    assert reopened.load(saved_key)["access_token"] in issued, "the next run reuses the newest token"


def _rows(store):
    with store.connect() as conn:
        return conn.execute(select(schema.connector_tokens)).all()


def test_a_token_saved_under_another_key_is_refreshed_not_shown(store, hubspot, caplog):
    sync(store, _oauth(hubspot, StoreTokenStore(store, new_token_key())))
    [saved_key] = [row.key for row in _rows(store)]
    with caplog.at_level(logging.WARNING):
        assert StoreTokenStore(store, new_token_key()).load(saved_key) is None
    assert "cannot be opened" in caplog.text


def test_without_keyring_or_key_tokens_stay_in_memory_with_a_warning(store, hubspot, caplog):
    token_store = default_token_store(store, environ={})
    assert isinstance(token_store, MemoryTokenStore)
    with caplog.at_level(logging.WARNING):
        sync(store, _oauth(hubspot, token_store))
    assert _rows(store) == []
    warned = [r.getMessage() for r in caplog.records if "this run only" in r.getMessage()]
    assert len(warned) == 1 and TOKEN_KEY_ENV in warned[0], "said once, when a refreshed token was first kept"


def test_kpi_sync_with_a_token_key_leaves_no_token_in_clear_in_kpi_sqlite(tmp_path, hubspot, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "BASE_URL": hubspot.url,
        "CLIENT_ID": hubspot.client_id,
        "CLIENT_SECRET": hubspot.client_secret,
        "REFRESH_TOKEN": hubspot.refresh_token,
    }.items():
        monkeypatch.setenv(f"KPI_HUBSPOT_{name}", value)
    monkeypatch.setenv(TOKEN_KEY_ENV, new_token_key())
    monkeypatch.delenv("KPI_DATABASE_URL", raising=False)
    code, _ = _kpi("sync", "hubspot", "--stream", "owners")
    assert code == 0
    data = (tmp_path / "kpi.sqlite").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("kpi.sqlite-*"))
    issued = list(hubspot.tokens.live) + list(hubspot.tokens.expired)
    assert issued
    for secret in (*issued, hubspot.refresh_token, hubspot.client_secret):
        assert secret.encode() not in data


def test_a_token_with_a_windows_line_end_is_used_without_it(store, hubspot):
    settings = load_settings(HubSpotSettings, "hubspot", environ={"KPI_HUBSPOT_TOKEN": hubspot.private_token + "\r"})
    assert settings.token.get_secret_value() == hubspot.private_token
    connector = HubSpotConnector(
        settings.model_copy(update={"base_url": hubspot.url}), context=ConnectorContext(clock=FakeClock())
    )
    assert sync(store, connector, streams=["owners"]).status == "succeeded"


@pytest.mark.parametrize("broken", ["pat-na1-1234\n5678", "pat-na1-1234\r\nX-Admin: yes", "pat\x00na1-1234"])
def test_a_token_with_a_line_break_inside_is_refused_without_showing_it(broken):
    with pytest.raises(ConnectorConfigurationError) as refused:
        load_settings(HubSpotSettings, "hubspot", environ={"KPI_HUBSPOT_TOKEN": broken})
    message = f"{refused.value.message} {refused.value.hint}"
    assert "KPI_HUBSPOT_TOKEN" in message and "control character" in message
    assert "1234" not in message


def _kpi(*args: str) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), pytest.raises(SystemExit) as exit_:
        main(list(args))
    return int(exit_.value.code or 0), printed.getvalue()


def test_debug_tracebacks_mask_a_token_that_reached_a_header_unchecked(tmp_path, hubspot, monkeypatch):
    """Were a token ever to skip the check, requests' InvalidHeader would carry it: --debug masks it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("kpi_engine.connect.auth.clean_secret", lambda value, what: value)
    monkeypatch.setattr("kpi_engine.connect.secrets.clean_secret", lambda value, what: value)
    token = hubspot.private_token + "\r"
    monkeypatch.setenv("KPI_HUBSPOT_BASE_URL", hubspot.url)
    monkeypatch.setenv("KPI_HUBSPOT_TOKEN", token)
    code, output = _kpi("--debug", "connectors", "check", "hubspot")
    assert code == 1
    assert "Traceback" in output and "InvalidHeader" in output
    assert hubspot.private_token not in output


def test_tokens_inside_urls_are_masked_as_written_and_url_encoded():
    register_secret("s3cr3t+token/with=chars")
    text = redact(
        "GET https://crm.example/api?access_token=abc.def.ghi&page=2 "
        "and https://crm.example/cb?code=s3cr3t%2Btoken%2Fwith%3Dchars and s3cr3t+token/with=chars"
    )
    assert "abc.def.ghi" not in text and "page=2" in text
    assert "s3cr3t" not in text


# --- migration 0014: tokens an earlier version saved in clear ---------------------------

CLEAR_TOKENS = "0014_clear_tokens"


def _migrated_to_just_before(revision: str, url: str) -> None:
    """An empty database brought to what ``revision`` builds on, and to ``0004_connectors``, which creates the
    ``connector_tokens`` table on a branch of its own."""
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import to_tuple

    from kpi_engine.store.database import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    script = ScriptDirectory.from_config(config).get_revision(revision)
    assert script is not None
    before = [*to_tuple(script.down_revision), "0004_connectors"]
    store = open_store(url, upgrade=False)
    with store.engine.begin() as conn:
        config.attributes["connection"] = conn
        for target in before:
            command.upgrade(config, target)
    store.dispose()


def test_the_migration_removes_tokens_an_earlier_version_saved_in_clear_and_keeps_sealed_ones(tmp_path, caplog):
    with database_of_its_own("clear_tokens", tmp_path) as url:
        _migrated_to_just_before(CLEAR_TOKENS, url)
        old = open_store(url, upgrade=False)
        key = new_token_key()
        StoreTokenStore(old, key).save("hubspot:sealed", {"access_token": "sealed-access-1234"})
        in_clear = {
            "hubspot:clear": {"access_token": "clear-access-1234", "refresh_token": "clear-refresh-5678"},
            "salesforce:clear": "clear-access-9012",  # a bare JSON string
            "fxiaoke:mixed": {"fernet": "gAAAAA-not-checked", "corpAccessToken": "clear-corp-3456"},
        }
        with old.begin() as conn:
            for name, value in in_clear.items():
                conn.execute(
                    schema.connector_tokens.insert().values(key=name, value=value, updated_at=datetime.now(UTC))
                )
        old.dispose()

        with caplog.at_level(logging.WARNING, logger="kpi_engine"):
            upgraded = open_store(url)
        try:
            assert [row.key for row in _rows(upgraded)] == ["hubspot:sealed"]
            assert "clear-" not in _saved_rows(upgraded)
            assert StoreTokenStore(upgraded, key).load("hubspot:sealed") == {"access_token": "sealed-access-1234"}
            assert "removed 3 connector tokens an earlier version saved in clear" in caplog.text
            assert "clear-" not in caplog.text
        finally:
            upgraded.dispose()
