"""Sending a message to each kind of channel, in its public format, signed as it requires.

- DingTalk custom robot (钉钉自定义机器人): ``POST`` the webhook with ``msgtype: markdown``; with signing
  (加签), ``timestamp`` (milliseconds) and ``sign`` = URL-encoded base64 of HMAC-SHA256 keyed with the
  secret over ``"{timestamp}\\n{secret}"`` are added to the query; it answers ``{"errcode": 0}``.
- Feishu custom bot (飞书自定义机器人): ``POST`` ``msg_type: post``; with signature verification,
  ``timestamp`` (seconds) and ``sign`` = base64 of HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"``
  over an empty message go into the body; it answers ``{"code": 0}``.
- WeCom group robot (企业微信群机器人): ``POST`` the webhook (its ``key`` in the address) with
  ``msgtype: markdown``, content at most 4096 bytes; it answers ``{"errcode": 0}``.
- Slack-compatible incoming webhook: ``POST`` ``{"text", "blocks"}``; it answers ``ok``.
- E-mail over SMTP (STARTTLS, TLS or plain), text and HTML parts.

Names from a CRM go into chat markdown with its markup characters replaced by look-alikes, so a
person named ``[x](http://evil)`` is shown, never linked. ``DeliveryFailed.retryable`` tells a
refusal that trying again may fix (a 5xx, a rate limit, a timeout) from one it cannot (a wrong
signature, a malformed message).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, Protocol
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import requests

from ..connect.secrets import redact
from ..errors import DeliveryFailed
from .config import (
    ChannelConfig,
    DingTalkSettings,
    EmailSettings,
    FeishuSettings,
    SlackSettings,
    WeComSettings,
)
from .messages import Message

__all__ = [
    "Transport",
    "dingtalk_sign",
    "feishu_sign",
    "markdown_safe",
    "transport_for",
]

TIMEOUT = 15  # seconds for a webhook to answer
WECOM_LIMIT = 4096  # bytes of a markdown message
_MARKDOWN = str.maketrans(
    {
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "<": "＜",
        ">": "＞",
        "*": "＊",
        "_": "＿",
        "`": "｀",
        "#": "＃",
        "!": "！",
        "|": "｜",
    }
)


def markdown_safe(text: str) -> str:
    """``text`` with the characters chat markdown acts on replaced by full-width look-alikes."""
    return text.translate(_MARKDOWN)


def dingtalk_sign(timestamp_ms: str, secret: str) -> str:
    """DingTalk's ``sign``: base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), URL-encoded."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return quote_plus(base64.b64encode(digest).decode())


def feishu_sign(timestamp_s: str, secret: str) -> str:
    """Feishu's ``sign``: base64(HMAC-SHA256(key="timestamp\\nsecret", msg=empty))."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class Transport(Protocol):
    def send(self, message: Message) -> None: ...


def _markdown(message: Message) -> str:
    lines = [f"### {markdown_safe(message.title)}", ""]
    for heading, items in message.sections:
        lines.append(f"**{markdown_safe(heading)}**")
        lines += [f"- {markdown_safe(item)}" for item in items]
        lines.append("")
    if message.link:
        lines.append(message.link)
    return "\n".join(lines).strip()


def _fit(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[: limit - 4].decode(errors="ignore") + " …"


class _Webhook:
    """A JSON POST to a webhook and its answer read as the service writes it."""

    def __init__(self, name: str, url: str, clock: Callable[[], float], session: requests.Session) -> None:
        self.name, self.url, self.clock, self.session = name, url, clock, session

    def post(self, url: str, body: dict[str, Any]) -> requests.Response:
        try:
            response = self.session.post(
                url,
                data=json.dumps(body, ensure_ascii=False).encode(),
                timeout=TIMEOUT,
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        except requests.RequestException as exc:
            raise DeliveryFailed(
                redact(f"channel {self.name!r} did not answer: {type(exc).__name__}"), retryable=True
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            after = response.headers.get("Retry-After")
            raise DeliveryFailed(
                f"channel {self.name!r} answered HTTP {response.status_code}.",
                retryable=True,
                retry_after=float(after) if after and after.isdigit() else None,
            )
        if response.status_code >= 400:
            raise DeliveryFailed(
                f"channel {self.name!r} refused the message: HTTP {response.status_code} "
                f"{redact(response.text[:200])}.",
                retryable=False,
                hint="check the channel's address and settings",
            )
        return response

    def answer(self, response: requests.Response, code_key: str, retry_codes: frozenset[int]) -> None:
        try:
            data = response.json()
        except ValueError:
            raise DeliveryFailed(
                f"channel {self.name!r} answered something that is not JSON.", retryable=True
            ) from None
        code = data.get(code_key, data.get("StatusCode", 0)) if isinstance(data, dict) else 0
        if code not in (0, None):
            said = data.get("errmsg") or data.get("msg") or data.get("StatusMessage") or ""
            raise DeliveryFailed(
                f"channel {self.name!r} refused the message: {code_key} {code} {redact(str(said))[:200]}.",
                retryable=int(code) in retry_codes,
                hint="a signature refused means the secret or the machine's clock is wrong",
            )


class DingTalk(_Webhook):
    RETRY = frozenset({130101, -1})  # sent too fast; system busy

    def __init__(self, name: str, settings: DingTalkSettings, clock: Callable[[], float], session: requests.Session):
        super().__init__(name, settings.url.get_secret_value(), clock, session)
        self.secret = settings.secret.get_secret_value() if settings.secret else None

    def send(self, message: Message) -> None:
        url = self.url
        if self.secret:
            timestamp = str(int(self.clock() * 1000))
            url = _with_query(url, {"timestamp": timestamp}, raw_sign=dingtalk_sign(timestamp, self.secret))
        body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": _markdown(message)}}
        self.answer(self.post(url, body), "errcode", self.RETRY)


class WeCom(_Webhook):
    RETRY = frozenset({45009, -1})  # over the frequency limit; system busy

    def __init__(self, name: str, settings: WeComSettings, clock: Callable[[], float], session: requests.Session):
        super().__init__(name, settings.url.get_secret_value(), clock, session)

    def send(self, message: Message) -> None:
        body = {"msgtype": "markdown", "markdown": {"content": _fit(_markdown(message), WECOM_LIMIT)}}
        self.answer(self.post(self.url, body), "errcode", self.RETRY)


class Feishu(_Webhook):
    RETRY = frozenset({11232, 9499})  # frequency limited; a busy server

    def __init__(self, name: str, settings: FeishuSettings, clock: Callable[[], float], session: requests.Session):
        super().__init__(name, settings.url.get_secret_value(), clock, session)
        self.secret = settings.secret.get_secret_value() if settings.secret else None

    def send(self, message: Message) -> None:
        paragraphs: list[list[dict[str, str]]] = []
        for heading, items in message.sections:
            paragraphs.append([{"tag": "text", "text": heading}])
            paragraphs += [[{"tag": "text", "text": f"• {item}"}] for item in items]
        if message.link:
            paragraphs.append([{"tag": "text", "text": message.link}])
        body: dict[str, Any] = {
            "msg_type": "post",
            "content": {"post": {"zh_cn": {"title": message.title, "content": paragraphs}}},
        }
        if self.secret:
            timestamp = str(int(self.clock()))
            body = {"timestamp": timestamp, "sign": feishu_sign(timestamp, self.secret), **body}
        self.answer(self.post(self.url, body), "code", self.RETRY)


class Slack(_Webhook):
    def __init__(self, name: str, settings: SlackSettings, clock: Callable[[], float], session: requests.Session):
        super().__init__(name, settings.url.get_secret_value(), clock, session)

    def send(self, message: Message) -> None:
        def esc(text: str) -> str:
            return html.escape(text, quote=False)  # Slack's own rule: &, < and > as entities

        text = "\n".join(
            [f"*{esc(message.title)}*"]
            + [f"*{esc(h)}*\n" + "\n".join(f"• {esc(i)}" for i in items) for h, items in message.sections]
            + ([esc(message.link)] if message.link else [])
        )
        body = {"text": esc(message.title), "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
        response = self.post(self.url, body)
        if response.text.strip() not in ("ok", ""):
            raise DeliveryFailed(f"channel {self.name!r} answered {response.text[:100]!r}.", retryable=False)


class Email:
    def __init__(self, name: str, settings: EmailSettings) -> None:
        self.name, self.settings = name, settings

    def send(self, message: Message) -> None:
        s = self.settings
        recipients = list(dict.fromkeys([*s.to, *(message.to if s.managers else ())]))
        if not recipients:
            return
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = s.sender
        mail["To"] = ", ".join(recipients)
        mail.set_content(message.plain())
        body = "".join(
            f"<h3>{html.escape(h)}</h3><ul>{''.join(f'<li>{html.escape(i)}</li>' for i in items)}</ul>"
            for h, items in message.sections
        )
        link = f"<p>{html.escape(message.link)}</p>" if message.link else ""
        mail.add_alternative(
            f"<html><body><h2>{html.escape(message.title)}</h2>{body}{link}</body></html>", subtype="html"
        )
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    s.host, s.port, timeout=TIMEOUT, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=TIMEOUT)
            with client:
                if s.security == "starttls":
                    client.starttls(context=ssl.create_default_context())
                if s.username and s.password:
                    client.login(s.username, s.password.get_secret_value())
                client.send_message(mail, to_addrs=recipients)
        except smtplib.SMTPAuthenticationError:
            raise DeliveryFailed(
                f"channel {self.name!r}: the SMTP server refused the login.",
                retryable=False,
                hint=f"check the username and $KPI_NOTIFY_{self.name.upper().replace('-', '_')}_PASSWORD",
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryFailed(
                f"channel {self.name!r}: the SMTP server refused the recipients.", retryable=False
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                redact(f"channel {self.name!r}: SMTP failed: {type(exc).__name__}."), retryable=True
            ) from None


def _with_query(url: str, extra: dict[str, str], *, raw_sign: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *extra.items()])
    query += f"&sign={raw_sign}"  # already URL-encoded, as DingTalk documents it
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def transport_for(channel: ChannelConfig, clock: Callable[[], float], session: requests.Session) -> Transport:
    settings = channel.settings
    if isinstance(settings, DingTalkSettings):
        return DingTalk(channel.name, settings, clock, session)
    if isinstance(settings, FeishuSettings):
        return Feishu(channel.name, settings, clock, session)
    if isinstance(settings, WeComSettings):
        return WeCom(channel.name, settings, clock, session)
    if isinstance(settings, SlackSettings):
        return Slack(channel.name, settings, clock, session)
    assert isinstance(settings, EmailSettings)
    return Email(channel.name, settings)
