"""Channels and what each may be told, from ``notify.yaml``; their secrets from the environment or a keyring.

A channel's file entry says its type, which events it receives, how much personal data its messages
may carry and, optionally, which teams it is for. Its secrets (a robot's webhook address, which holds its
token, the signing secret, the SMTP password) are never written in the file: they are read from
``$KPI_NOTIFY_<CHANNEL>_<FIELD>`` or the keyring entry ``kpi-engine`` / ``notify_<channel>.<field>`` and
registered with the redactor, so no log or error shows them.

```yaml
language: zh                 # en or zh
site_url: https://intranet.example.com/kpi/   # where the report site is published (links), optional
channels:
  sales-managers:
    type: dingtalk           # dingtalk, wecom, feishu, slack, email
    events: [alert, pip, approval, digest]
    personal_data: names     # none, ids, names, figures
    teams: [east, north]     # only events about these teams (default: every team)
```
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ..connect.secrets import ConnectorSettings, load_settings, secret_field
from ..errors import ConfigurationError
from ..yaml_reader import YAMLRefused, load_located, read_yaml_text
from .events import EVENT_KINDS, EventKind

__all__ = [
    "CONFIG_ENV",
    "ChannelConfig",
    "ChannelType",
    "DingTalkSettings",
    "EmailSettings",
    "FeishuSettings",
    "NotifyConfig",
    "PersonalData",
    "SlackSettings",
    "WeComSettings",
    "load_notify_config",
]

CONFIG_ENV = "KPI_NOTIFY_CONFIG"
ChannelType = Literal["dingtalk", "wecom", "feishu", "slack", "email"]
PersonalData = Literal["none", "ids", "names", "figures"]
"""How much a channel's messages may say about people: ``none`` (counts only), ``ids`` (employee ids),
``names`` (names, ids, teams), ``figures`` (also attainment, amounts and the rules' explanations)."""
PERSONAL_DATA_ORDER: tuple[PersonalData, ...] = ("none", "ids", "names", "figures")


def _web_address(value: SecretStr | None) -> SecretStr | None:
    """HTTPS, or plain HTTP to this machine only (a local relay, a test receiver)."""
    if value is None:
        return None
    parts = urlsplit(value.get_secret_value())
    if parts.scheme == "https" and parts.hostname:
        return value
    if parts.scheme == "http" and parts.hostname:
        host = parts.hostname
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return value
    raise ValueError("must be an https:// address (plain http only to this machine)")


class _Webhook(ConnectorSettings):
    url: SecretStr = secret_field("The robot's webhook address, as the chat app gives it (it holds the token)")

    @field_validator("url")
    @classmethod
    def _checked(cls, value: SecretStr) -> SecretStr:
        checked = _web_address(value)
        assert checked is not None
        return checked


class DingTalkSettings(_Webhook):
    """A DingTalk (钉钉) group's custom robot; ``secret`` (SEC…) when its security setting is signing (加签)."""

    secret: SecretStr | None = secret_field("Signing secret (加签), SEC…", default=None)


class FeishuSettings(_Webhook):
    """A Feishu/Lark (飞书) group's custom bot; ``secret`` when signature verification (签名校验) is on."""

    secret: SecretStr | None = secret_field("Signing secret (签名校验)", default=None)


class WeComSettings(_Webhook):
    """A WeCom (企业微信) group robot: its webhook address holds its key."""


class SlackSettings(_Webhook):
    """A Slack incoming webhook (or any service that accepts Slack's format: Mattermost, Rocket.Chat …)."""


class EmailSettings(ConnectorSettings):
    """E-mail through an SMTP server."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = secret_field("SMTP password", default=None)
    sender: str
    to: list[str] = Field(default_factory=list)  # addresses that receive every message of the channel
    managers: bool = False  # each manager's weekly digest also to the manager's own address

    @field_validator("to", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value


SETTINGS: dict[str, type[ConnectorSettings]] = {
    "dingtalk": DingTalkSettings,
    "wecom": WeComSettings,
    "feishu": FeishuSettings,
    "slack": SlackSettings,
    "email": EmailSettings,
}


class _ChannelEntry(BaseModel):
    model_config = ConfigDict(extra="allow", hide_input_in_errors=True)

    type: ChannelType
    events: list[EventKind] = Field(default_factory=lambda: list(EVENT_KINDS))
    personal_data: PersonalData = "none"
    teams: list[str] | None = None
    language: Literal["en", "zh"] | None = None


class ChannelConfig(BaseModel):
    """A channel: its name and type, what it receives and may say, and its settings (secrets included)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, frozen=True)

    name: str
    type: ChannelType
    events: tuple[EventKind, ...]
    personal_data: PersonalData
    teams: tuple[str, ...] | None
    language: Literal["en", "zh"]
    settings: ConnectorSettings

    def allows(self, level: PersonalData) -> bool:
        """Whether this channel may say what ``level`` says about people."""
        return PERSONAL_DATA_ORDER.index(self.personal_data) >= PERSONAL_DATA_ORDER.index(level)


class NotifyConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    language: Literal["en", "zh"] = "en"
    site_url: str | None = None
    channels: tuple[ChannelConfig, ...] = ()


def _problem(path: Path, message: str, hint: str | None = None) -> ConfigurationError:
    return ConfigurationError(f"{path}: {message}", hint=hint)


def load_notify_config(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> NotifyConfig:
    """Read the channels from ``path`` (default: ``$KPI_NOTIFY_CONFIG``, else ``./notify.yaml``)."""
    environ = os.environ if environ is None else environ
    path = path or Path(environ.get(CONFIG_ENV) or "notify.yaml")
    try:
        text = read_yaml_text(path)
        data = load_located(text, path).data
    except FileNotFoundError:
        raise ConfigurationError(
            f"there is no notification config {path}.",
            hint=f"write notify.yaml (docs/notifications.md) or set ${CONFIG_ENV}",
        ) from None
    except (OSError, UnicodeDecodeError, YAMLRefused) as exc:
        raise _problem(path, f"cannot be read: {exc}.") from None
    except Exception as exc:  # noqa: BLE001 - a YAML syntax error, in one sentence
        raise _problem(path, f"is not valid YAML: {str(exc).splitlines()[0]}.") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("channels"), Mapping):
        raise _problem(path, "needs a 'channels:' mapping of channel names to their settings.")
    unknown = sorted(set(data) - {"language", "site_url", "channels"})
    if unknown:
        raise _problem(path, f"has no setting {unknown[0]!r}.", hint="its settings are: language, site_url, channels")
    language = data.get("language", "en")
    if language not in ("en", "zh"):
        raise _problem(path, f"language {language!r} is not en or zh.")
    channels = []
    for name, raw in data["channels"].items():
        if not isinstance(raw, Mapping):
            raise _problem(path, f"channel {name!r} needs settings (type:, events: …).")
        try:
            entry = _ChannelEntry.model_validate(dict(raw))
        except ValidationError as exc:
            first = exc.errors(include_input=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise _problem(path, f"channel {name!r}, {where}: {first['msg']}.") from None
        model = SETTINGS[entry.type]
        values = dict(entry.model_extra or {})
        secrets = [k for k in values if k in model.model_fields and _is_secret(model, k)]
        if secrets:
            raise _problem(
                path,
                f"channel {name!r} writes its {secrets[0]!r} in the file; secrets never go into files.",
                hint=f"set ${_variable(str(name), secrets[0])} (or the keyring entry) and remove it from the file",
            )
        settings = load_settings(model, f"notify_{name}", values, environ=environ)
        channels.append(
            ChannelConfig(
                name=str(name),
                type=entry.type,
                events=tuple(entry.events),
                personal_data=entry.personal_data,
                teams=tuple(entry.teams) if entry.teams is not None else None,
                language=entry.language or language,
                settings=settings,
            )
        )
    return NotifyConfig(language=language, site_url=data.get("site_url"), channels=tuple(channels))


def _is_secret(model: type[BaseModel], name: str) -> bool:
    from ..connect.secrets import is_secret_field

    return is_secret_field(model, name)


def _variable(channel: str, field: str) -> str:
    from ..connect.secrets import env_name

    return env_name(f"notify_{channel}", field)
