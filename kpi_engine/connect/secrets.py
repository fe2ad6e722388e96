"""Secrets: connector settings from the environment or a keyring, redacted from every log and error.

A secret (a field typed ``SecretStr`` or declared with ``secret_field()``) is read from
``$KPI_<CONNECTOR>_<FIELD>`` (``KPI_HUBSPOT_TOKEN``) or, when the optional ``keyring``
package is installed, from the keyring entry ``kpi-engine`` / ``<connector>.<field>``.
Every secret value loaded (and every token obtained by a refresh) is registered with the
redactor: ``redact()`` replaces it in any text, and ``RedactingFilter`` does so in log records.
Refreshed OAuth tokens are persisted through a ``TokenStore``: the keyring; else the database,
encrypted with ``$KPI_TOKEN_KEY``; else memory for the run. Never in clear, never in a file of the
working tree. Secrets go into HTTP headers only once ``clean_secret`` has checked them.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

__all__ = [
    "KEYRING_SERVICE",
    "ConnectorSettings",
    "KeyringTokenStore",
    "MemoryTokenStore",
    "RedactingFilter",
    "TOKEN_KEY_ENV",
    "StoreTokenStore",
    "TokenStore",
    "clean_secret",
    "connector_logger",
    "default_token_store",
    "env_name",
    "install_log_redaction",
    "is_secret_field",
    "load_settings",
    "new_token_key",
    "redact",
    "register_secret",
    "secret_field",
]

KEYRING_SERVICE = "kpi-engine"
TOKEN_KEY_ENV = "KPI_TOKEN_KEY"
"""The key that encrypts refreshed OAuth tokens kept in the database when there is no keyring."""
_SEALED = "fernet"
log = logging.getLogger("kpi_engine.secrets")
MASK = "***"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
# Credentials that look like credentials even before they are registered.
_SHAPES = [
    (re.compile(r"(?i)\b(bearer|basic|zoho-oauthtoken)\s+[^\s\"',;]+"), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)\b(access_token|refresh_token|client_secret|api_key|apikey|api_token|token|password|corpAccessToken|appSecret)"
            r"([\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]+"
        ),
        r"\1\2" + MASK,
    ),
]


def register_secret(value: str | SecretStr | None) -> None:
    """Remember a secret value so that ``redact`` masks it from now on, as written and as a URL carries it."""
    global _pattern
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if not value or len(value.strip()) < _MIN_SECRET_LENGTH:
        return
    forms = {value, value.strip(), quote(value, safe=""), quote_plus(value), quote(value.strip(), safe="")}
    with _lock:
        if forms <= _secrets:
            return
        _secrets.update(forms)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def clean_secret(value: str, what: str) -> str:
    """A secret as it may go into an HTTP header: surrounding whitespace (a ``\\r`` left by a
    Windows ``.env``) removed; a line break or other control character inside refused, without
    showing the value."""
    from .errors import ConnectorConfigurationError

    cleaned = value.strip()
    if any(ord(char) < 32 or ord(char) == 127 for char in cleaned):
        raise ConnectorConfigurationError(
            f"the {what} holds a line break or another control character.",
            hint="set it again as one line; nothing was sent",
        )
    if not cleaned.isascii():
        raise ConnectorConfigurationError(
            f"the {what} holds characters an HTTP header cannot carry (outside ASCII).",
            hint="check that the whole value was copied, and nothing else",
        )
    return cleaned


def redact(text: str) -> str:
    """``text`` with every registered secret and every credential-shaped value masked."""
    if not text:
        return text
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that masks secrets in the message, its arguments and its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a log call with bad arguments still logs, masked
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact(text)
            record.exc_info = None
        return True


_FILTER = RedactingFilter()
_REDACTED_LOGGERS = (
    "kpi_engine",
    "kpi_engine.http",
    "kpi_engine.sync",
    "urllib3",
    "urllib3.connectionpool",
    "requests",
)
# A logger's filters see only the records of that very logger, not of its children: each one is listed.


def _add_filter(logger: logging.Logger) -> logging.Logger:
    if _FILTER not in logger.filters:
        logger.addFilter(_FILTER)
    return logger


def install_log_redaction() -> None:
    """Put the redacting filter on the engine's and the HTTP libraries' loggers (idempotent)."""
    for name in _REDACTED_LOGGERS:
        _add_filter(logging.getLogger(name))


def connector_logger(name: str) -> logging.Logger:
    """The logger a connector should use: ``kpi_engine.connectors.<name>``, with secrets redacted."""
    install_log_redaction()
    return _add_filter(logging.getLogger(f"kpi_engine.connectors.{name}"))


# --- settings -----------------------------------------------------------------------


def secret_field(description: str = "", **kwargs: Any) -> Any:
    """A settings field holding a secret: never printed, read from the environment or a keyring.

    Use with ``SecretStr``: ``token: SecretStr | None = secret_field("Private-app token")``.
    """
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["secret"] = True
    return Field(description=description, json_schema_extra=extra, **kwargs)


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model: unknown settings refused, inputs never echoed."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


S = TypeVar("S", bound=BaseModel)


def env_name(connector: str, field: str) -> str:
    """The environment variable of a setting: ``KPI_HUBSPOT_TOKEN`` for (hubspot, token)."""
    clean = re.sub(r"[^A-Za-z0-9]+", "_", f"{connector}_{field}").strip("_").upper()
    return f"KPI_{clean}"


def is_secret_field(model: type[BaseModel], name: str) -> bool:
    """Whether a field of a settings model holds a secret (``SecretStr`` or ``secret_field``)."""
    info = model.model_fields[name]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("secret"):
        return True
    return "SecretStr" in repr(info.annotation)


def _keyring_get(connector: str, field: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, f"{connector}.{field}")
    except Exception:  # noqa: BLE001 - a keyring backend that fails is a keyring with nothing in it
        return None


def load_settings(
    model: type[S],
    connector: str,
    values: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    use_keyring: bool = True,
) -> S:
    """Build a connector's settings from ``values``, then ``$KPI_<CONNECTOR>_<FIELD>``, then the keyring.

    Raises ``ConnectorConfigurationError`` naming the setting and its variable, never its value.
    Every secret read is registered with the redactor.
    """
    from .errors import ConnectorConfigurationError

    environ = os.environ if environ is None else environ
    given = dict(values or {})
    data: dict[str, Any] = {}
    for name in model.model_fields:
        if name in given:
            data[name] = given.pop(name)
            continue
        variable = env_name(connector, name)
        if environ.get(variable, "") != "":
            data[name] = environ[variable]
        elif use_keyring and is_secret_field(model, name):
            found = _keyring_get(connector, name)
            if found:
                data[name] = found
    for name, value in data.items():
        if is_secret_field(model, name):
            register_secret(value if isinstance(value, (str, SecretStr)) else None)
            if isinstance(value, (str, SecretStr)):
                plain = value.get_secret_value() if isinstance(value, SecretStr) else value
                where = f"{connector} setting {name!r} (${env_name(connector, name)})"
                data[name] = clean_secret(plain, where)
    if given:
        unknown = sorted(given)
        raise ConnectorConfigurationError(
            f"{connector} has no setting {unknown[0]!r}.",
            hint=f"its settings are: {', '.join(model.model_fields)}",
        )
    try:
        settings = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        loc = [str(p) for p in first["loc"]]
        reason = first["msg"].removeprefix("Value error, ")
        if not loc:
            raise ConnectorConfigurationError(f"the {connector} settings are not valid: {reason}.") from None
        field = loc[0]
        variable = env_name(connector, field)
        where = (
            f"keyring entry {KEYRING_SERVICE}/{connector}.{field} or ${variable}"
            if field in model.model_fields and is_secret_field(model, field)
            else f"${variable}"
        )
        if first["type"] == "missing":
            raise ConnectorConfigurationError(
                f"the {connector} setting {field!r} is missing.", hint=f"set {where}"
            ) from None
        raise ConnectorConfigurationError(
            f"the {connector} setting {field!r} is not valid: {reason}.", hint=f"check {where}"
        ) from None
    for name in model.model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            register_secret(value)
    return settings


# --- token persistence ----------------------------------------------------------------


class TokenStore(Protocol):
    """Where refreshed OAuth tokens live between runs (never a file of the working tree)."""

    def load(self, key: str) -> dict[str, Any] | None: ...

    def save(self, key: str, value: dict[str, Any]) -> None: ...


class MemoryTokenStore:
    """Tokens kept in memory only (tests, one-off runs)."""

    def __init__(self) -> None:
        self.tokens: dict[str, dict[str, Any]] = {}

    def load(self, key: str) -> dict[str, Any] | None:
        return self.tokens.get(key)

    def save(self, key: str, value: dict[str, Any]) -> None:
        self.tokens[key] = dict(value)


class KeyringTokenStore:
    """Tokens in the operating system's keyring (``pip install 'kpi-engine[keyring]'``)."""

    def __init__(self) -> None:
        import keyring

        self._keyring = keyring

    def load(self, key: str) -> dict[str, Any] | None:
        raw = self._keyring.get_password(KEYRING_SERVICE, f"token:{key}")
        return json.loads(raw) if raw else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        self._keyring.set_password(KEYRING_SERVICE, f"token:{key}", json.dumps(value))


class StoreTokenStore:
    """Tokens in the database's ``connector_tokens`` table, encrypted with ``$KPI_TOKEN_KEY``.

    Each value is sealed with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``): the
    database alone never holds a token in clear. A value that cannot be opened with the key (the
    key was changed) is treated as absent, and the connector refreshes its token.
    """

    def __init__(self, store: Any, key: str | SecretStr) -> None:
        from cryptography.fernet import Fernet

        from .errors import ConnectorConfigurationError

        self.store = store
        plain = key.get_secret_value() if isinstance(key, SecretStr) else key
        register_secret(plain)
        try:
            self._fernet = Fernet(plain.strip().encode())
        except (ValueError, TypeError):
            raise ConnectorConfigurationError(
                f"${TOKEN_KEY_ENV} is not a token key (32 bytes in URL-safe base64).",
                hint="make one with: kpi connectors token-key",
            ) from None

    def load(self, key: str) -> dict[str, Any] | None:
        from cryptography.fernet import InvalidToken

        from ..store import schema as s

        with self.store.connect() as conn:
            row = conn.execute(s.connector_tokens.select().where(s.connector_tokens.c.key == key)).first()
        if row is None or not isinstance(row.value, dict) or _SEALED not in row.value:
            return None  # nothing saved, or saved in clear by an earlier version (0014_clear_tokens removes those)
        try:
            value = json.loads(self._fernet.decrypt(str(row.value[_SEALED]).encode()))
        except (InvalidToken, ValueError):
            log.warning("the saved token %r cannot be opened with $%s; it will be refreshed", key, TOKEN_KEY_ENV)
            return None
        return value if isinstance(value, dict) else None

    def save(self, key: str, value: dict[str, Any]) -> None:
        from ..store import schema as s

        sealed = {_SEALED: self._fernet.encrypt(json.dumps(value).encode()).decode()}
        t = s.connector_tokens
        now = datetime.now(UTC)
        with self.store.begin() as conn:
            done = conn.execute(t.update().where(t.c.key == key).values(value=sealed, updated_at=now)).rowcount
            if not done:
                conn.execute(t.insert().values(key=key, value=sealed, updated_at=now))


def new_token_key() -> str:
    """A fresh key for ``$KPI_TOKEN_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _usable_keyring() -> KeyringTokenStore | None:
    try:
        keyring_store = KeyringTokenStore()
        backend = type(keyring_store._keyring.get_keyring()).__name__
    except Exception:  # noqa: BLE001 - no keyring package or no usable backend
        return None
    return None if "fail" in backend.lower() or "null" in backend.lower() else keyring_store


def default_token_store(store: Any | None = None, *, environ: Mapping[str, str] | None = None) -> TokenStore:
    """Where refreshed tokens go: the keyring when one is usable; else the database ``store``,
    encrypted with ``$KPI_TOKEN_KEY``; else memory for this run only (with a warning), never in clear."""
    environ = os.environ if environ is None else environ
    found = _usable_keyring()
    if found is not None:
        return found
    key = environ.get(TOKEN_KEY_ENV, "").strip()
    if store is not None and key:
        return StoreTokenStore(store, key)
    return _RunOnlyTokenStore() if store is not None else MemoryTokenStore()


class _RunOnlyTokenStore(MemoryTokenStore):
    """Memory, for want of a keyring or a key: says so once, when a refreshed token is first kept."""

    def save(self, key: str, value: dict[str, Any]) -> None:
        if not self.tokens:
            log.warning(
                "refreshed tokens are kept for this run only: there is no keyring, and no $%s to encrypt them "
                "in the database (make one with: kpi connectors token-key)",
                TOKEN_KEY_ENV,
            )
        super().save(key, value)
