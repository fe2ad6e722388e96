"""Mock receivers of the chat robots ``kpi notify`` posts to: real HTTP servers on 127.0.0.1 that check each
request as the service does (the token or key in the address, the signature and its time stamp, the
message's shape) and answer in the service's own words. Faults are scripted as for the CRM mocks
(``server.faults.burst(2, "server_error")``: the next two requests get a 503).

Sources of the formats: DingTalk's custom robot security settings (加签), Feishu's custom bot guide
(签名校验), WeCom's group robot guide and Slack's incoming webhooks (see docs/notifications.md).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from kpi_engine.testing import MockCRMServer, MockRequest, MockResponse, route

__all__ = ["DingTalkRobot", "FeishuBot", "SlackWebhook", "WeComRobot"]

ONE_HOUR = 3600


class _Robot(MockCRMServer):
    """A robot: no bearer tokens; accepted messages are kept in ``received``."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self.received: list[Any] = []

    def authenticate(self, request: MockRequest) -> MockResponse | None:
        return None

    def body(self, request: MockRequest) -> Any:
        try:
            return json.loads(request.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None


class DingTalkRobot(_Robot):
    """``POST /robot/send?access_token=…[&timestamp=…&sign=…]``; answers ``{"errcode": 0, "errmsg": "ok"}``."""

    name = "dingtalk"

    def __init__(self, token: str, secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token, self.secret = token, secret

    @property
    def webhook(self) -> str:
        return f"{self.url}/robot/send?access_token={self.token}"

    @route("POST", r"/robot/send")
    def send(self, request: MockRequest) -> MockResponse:
        if request.arg("access_token") != self.token:
            return MockResponse(200, {"errcode": 300001, "errmsg": "token is not exist"})
        if self.secret is not None:
            timestamp, sign = request.arg("timestamp"), request.arg("sign")
            if not timestamp or not sign or not timestamp.isdigit():
                return MockResponse(200, {"errcode": 310000, "errmsg": "sign not match"})
            if abs(int(timestamp) / 1000 - self.clock()) > ONE_HOUR:
                return MockResponse(200, {"errcode": 310000, "errmsg": "timestamp out of range"})
            digest = hmac.new(self.secret.encode(), f"{timestamp}\n{self.secret}".encode(), hashlib.sha256).digest()
            if sign != base64.b64encode(digest).decode():  # parse_qs decoded the URL-encoding
                return MockResponse(200, {"errcode": 310000, "errmsg": "sign not match"})
        body = self.body(request)
        markdown = body.get("markdown") if isinstance(body, dict) else None
        if (
            not isinstance(body, dict)
            or body.get("msgtype") != "markdown"
            or not isinstance(markdown, dict)
            or not isinstance(markdown.get("title"), str)
            or not isinstance(markdown.get("text"), str)
        ):
            return MockResponse(200, {"errcode": 40035, "errmsg": "missing or invalid parameter"})
        self.received.append(body)
        return MockResponse(200, {"errcode": 0, "errmsg": "ok"})


class FeishuBot(_Robot):
    """``POST /open-apis/bot/v2/hook/<token>``; answers ``{"code": 0, "msg": "success", "data": {}}``."""

    name = "feishu"

    def __init__(self, token: str, secret: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.token, self.secret = token, secret

    @property
    def webhook(self) -> str:
        return f"{self.url}/open-apis/bot/v2/hook/{self.token}"

    @route("POST", r"/open-apis/bot/v2/hook/(?P<token>[^/]+)")
    def hook(self, request: MockRequest) -> MockResponse:
        assert request.match is not None
        if request.match["token"] != self.token:
            return MockResponse(200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid"})
        body = self.body(request)
        if not isinstance(body, dict):
            return MockResponse(200, {"code": 9499, "msg": "Bad Request"})
        if self.secret is not None:
            timestamp, sign = str(body.get("timestamp", "")), body.get("sign")
            key = f"{timestamp}\n{self.secret}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            fresh = timestamp.isdigit() and abs(int(timestamp) - self.clock()) <= ONE_HOUR
            if not fresh or sign != expected:
                return MockResponse(
                    200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
                )
        post = body.get("content", {}).get("post") if isinstance(body.get("content"), dict) else None
        if body.get("msg_type") != "post" or not isinstance(post, dict) or not post:
            return MockResponse(200, {"code": 9499, "msg": "Bad Request"})
        self.received.append(body)
        return MockResponse(200, {"code": 0, "msg": "success", "data": {}})


class WeComRobot(_Robot):
    """``POST /cgi-bin/webhook/send?key=…``; answers ``{"errcode": 0, "errmsg": "ok"}``."""

    name = "wecom"

    def __init__(self, key: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    @property
    def webhook(self) -> str:
        return f"{self.url}/cgi-bin/webhook/send?key={self.key}"

    @route("POST", r"/cgi-bin/webhook/send")
    def send(self, request: MockRequest) -> MockResponse:
        if request.arg("key") != self.key:
            return MockResponse(200, {"errcode": 93000, "errmsg": "invalid webhook url"})
        body = self.body(request)
        markdown = body.get("markdown") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("msgtype") != "markdown" or not isinstance(markdown, dict):
            return MockResponse(200, {"errcode": 40008, "errmsg": "invalid message type"})
        content = markdown.get("content")
        if not isinstance(content, str) or len(content.encode()) > 4096:
            return MockResponse(200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"})
        self.received.append(body)
        return MockResponse(200, {"errcode": 0, "errmsg": "ok"})


class SlackWebhook(_Robot):
    """``POST /services/<path>``; answers ``ok`` (text), or ``invalid_payload`` with a 400."""

    name = "slack"

    def __init__(self, path: str = "T000/B000/XXXX", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path

    @property
    def webhook(self) -> str:
        return f"{self.url}/services/{self.path}"

    @route("POST", r"/services/(?P<path>.+)")
    def hook(self, request: MockRequest) -> MockResponse:
        assert request.match is not None
        if request.match["path"] != self.path:
            return MockResponse(404, "no_service")
        body = self.body(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            return MockResponse(400, "invalid_payload")
        self.received.append(body)
        return MockResponse(200, "ok")
