"""kpi notify: each event reaches each channel once, signed as the service requires, retried with backoff,
saying no more about people than the channel allows. The receivers are real HTTP servers on 127.0.0.1
that check the token, the signature and the message's shape as the services document them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
from urllib.parse import quote_plus

import pytest

from kpi_engine import ConfigurationError, redact
from kpi_engine.notify import load_notify_config, notify
from kpi_engine.notify.transports import dingtalk_sign, feishu_sign
from kpi_engine.store import schema
from tests.notify.conftest import NOW, write_config
from tests.support.mock_servers.chat_robots import DingTalkRobot, FeishuBot, SlackWebhook, WeComRobot

DING_SECRET = "SECd1e8f5a0c3b74c2a9e6f1d0b7a5c3e2f1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6"
FEISHU_SECRET = "feishu-signing-secret-0123"


def channels_yaml(personal_data: str = "names", events: str = "[pip, alert, finding, approval, digest]") -> str:
    return f"""
language: en
channels:
  ding:
    type: dingtalk
    events: {events}
    personal_data: {personal_data}
  lark:
    type: feishu
    personal_data: {personal_data}
  wecom:
    type: wecom
    personal_data: {personal_data}
  slack:
    type: slack
    personal_data: {personal_data}
"""


@pytest.fixture
def robots(start_mock, wall_clock):
    return {
        "ding": start_mock(DingTalkRobot("ding-token", DING_SECRET, clock=wall_clock.time)),
        "lark": start_mock(FeishuBot("lark-hook", FEISHU_SECRET, clock=wall_clock.time)),
        "wecom": start_mock(WeComRobot("wecom-key-1")),
        "slack": start_mock(SlackWebhook()),
    }


def environ_for(robots, *, ding_secret: str = DING_SECRET) -> dict[str, str]:
    return {
        "KPI_NOTIFY_DING_URL": robots["ding"].webhook,
        "KPI_NOTIFY_DING_SECRET": ding_secret,
        "KPI_NOTIFY_LARK_URL": robots["lark"].webhook,
        "KPI_NOTIFY_LARK_SECRET": FEISHU_SECRET,
        "KPI_NOTIFY_WECOM_URL": robots["wecom"].webhook,
        "KPI_NOTIFY_SLACK_URL": robots["slack"].webhook,
    }


def test_signatures_are_computed_as_dingtalk_and_feishu_document_them():
    # DingTalk: sign = urlEncode(base64(HmacSHA256(key=secret, "timestamp\nsecret"))), timestamp in ms
    expected = base64.b64encode(hmac.new(b"SECabc", b"1700000000000\nSECabc", hashlib.sha256).digest()).decode()
    assert dingtalk_sign("1700000000000", "SECabc") == quote_plus(expected)
    # Feishu: sign = base64(HmacSHA256(key="timestamp\nsecret", message="")), timestamp in seconds
    lark = base64.b64encode(hmac.new(b"1700000000\nabc", b"", hashlib.sha256).digest()).decode()
    assert feishu_sign("1700000000", "abc") == lark


def test_each_event_reaches_each_channel_once_with_valid_signatures(team_store, robots, wall_clock, tmp_path):
    config = load_notify_config(write_config(tmp_path, channels_yaml()), environ=environ_for(robots))

    first = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    channels = ("ding", "lark", "wecom", "slack")
    assert {r.channel: (r.queued, r.sent, r.messages, r.failed) for r in first.channels} == dict.fromkeys(
        channels, (2, 2, 1, 0)
    )
    assert [len(robot.received) for robot in robots.values()] == [1, 1, 1, 1]
    assert robots["ding"].received[0] == {
        "msgtype": "markdown",
        "markdown": {
            "title": "KPI notifications",
            "text": "### KPI notifications\n\n"
            "**PIP recommendations for HR review**\n"
            "- Li Lei （E1, Team east）: raised （2026-11）\n\n"
            "**Alerts**\n"
            "- ［x］（http://evil） ＜b＞ （E2, Team east）: Lead conversion alert started firing 2026-11-05",
        },
    }
    lark = robots["lark"].received[0]
    assert lark["msg_type"] == "post" and lark["timestamp"] == str(int(NOW.timestamp()))
    assert lark["content"]["post"]["zh_cn"]["content"][1] == [
        {"tag": "text", "text": "• Li Lei (E1, Team east): raised (2026-11)"}
    ]

    again = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    assert [(r.queued, r.sent, r.messages) for r in again.channels] == [(0, 0, 0)] * 4
    assert [len(robot.received) for robot in robots.values()] == [1, 1, 1, 1]
    with team_store.connect() as conn:
        rows = conn.execute(schema.notifications.select()).all()
    assert len(rows) == 8 and {r.status for r in rows} == {"sent"}


def test_a_receiver_failing_twice_gets_the_message_on_the_third_try_without_waiting(
    team_store, robots, wall_clock, tmp_path
):
    robots["ding"].faults.burst(2, "server_error")
    config = load_notify_config(write_config(tmp_path, channels_yaml()), environ=environ_for(robots))

    summary = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    ding = summary.channels[0]
    assert (ding.sent, ding.pending, ding.failed, ding.errors) == (2, 0, 0, [])
    assert robots["ding"].request_count == 3 and len(robots["ding"].received) == 1
    assert wall_clock.sleeps == [1.0, 2.0]  # backoff 1 s then 2 s, through the clock: the test never sleeps


def test_a_wrong_signing_secret_is_refused_once_and_given_up(team_store, robots, wall_clock, tmp_path):
    config = load_notify_config(
        write_config(tmp_path, channels_yaml()), environ=environ_for(robots, ding_secret="SECwrong-secret")
    )

    summary = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    ding = summary.channels[0]
    assert (ding.sent, ding.failed) == (0, 2)
    assert "errcode 310000" in ding.errors[0] and "SECwrong" not in ding.errors[0]
    assert robots["ding"].request_count == 1 and wall_clock.sleeps == []
    assert [len(robots[n].received) for n in ("lark", "wecom", "slack")] == [1, 1, 1]


def test_a_receiver_that_stays_down_keeps_the_events_for_a_later_run(team_store, robots, wall_clock, tmp_path):
    robots["slack"].faults.burst(4, "server_error")
    config = load_notify_config(write_config(tmp_path, channels_yaml()), environ=environ_for(robots))

    first = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)
    assert (first.channels[3].sent, first.channels[3].pending) == (0, 2)
    assert robots["slack"].received == []

    soon = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)
    assert robots["slack"].request_count == 4  # not due yet: nothing sent, nothing asked

    wall_clock.now += 3600
    later = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)
    assert (later.channels[3].sent, len(robots["slack"].received)) == (2, 1)
    assert soon.channels[3].sent == 0


@pytest.mark.parametrize(
    ("level", "present", "absent"),
    [
        ("none", ["raised × 1", "started firing × 1"], ["E1", "Li Lei", "E2", "74"]),
        ("ids", ["E1: raised", "E2: Lead conversion alert"], ["Li Lei", "evil", "74"]),
        ("names", ["Li Lei （E1, Team east）"], ["74", "2026-11-03"]),
        ("figures", ["Li Lei", "2026-10 82.0%; 2026-11 74.0%", "2026-11-05 6.0%"], []),
    ],
)
def test_a_channel_is_told_no_more_about_people_than_it_allows(
    team_store, robots, wall_clock, tmp_path, level, present, absent
):
    config = load_notify_config(write_config(tmp_path, channels_yaml(level)), environ=environ_for(robots))

    notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    text = robots["ding"].received[0]["markdown"]["text"]
    for word in present:
        assert word in text
    for word in absent:
        assert word not in text


def test_secrets_come_from_the_environment_never_from_the_file_and_are_masked(robots, tmp_path):
    with pytest.raises(ConfigurationError, match="secrets never go into files"):
        load_notify_config(
            write_config(
                tmp_path,
                "channels:\n  ding:\n    type: dingtalk\n    url: https://oapi.dingtalk.com/robot/send?access_token=abc\n",
            ),
            environ={},
        )
    with pytest.raises(ConfigurationError, match=r"KPI_NOTIFY_DING_URL"):
        load_notify_config(write_config(tmp_path, "channels:\n  ding:\n    type: dingtalk\n"), environ={})

    load_notify_config(write_config(tmp_path, channels_yaml()), environ=environ_for(robots))

    assert DING_SECRET not in redact(f"signing with {DING_SECRET}")
    assert "wecom-key-1" not in redact(robots["wecom"].webhook)


def test_a_webhook_address_must_be_https_unless_it_is_this_machine(tmp_path):
    with pytest.raises(ConfigurationError, match="https"):
        load_notify_config(
            write_config(tmp_path, "channels:\n  w:\n    type: wecom\n"),
            environ={"KPI_NOTIFY_W_URL": "http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k123"},
        )


def test_a_channel_receives_only_the_kinds_of_event_it_asks_for(team_store, robots, wall_clock, tmp_path):
    config = load_notify_config(write_config(tmp_path, channels_yaml(events="[alert]")), environ=environ_for(robots))

    summary = notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=False)

    assert (summary.channels[0].queued, summary.channels[1].queued) == (1, 2)
    assert "PIP" not in robots["ding"].received[0]["markdown"]["text"]


def test_the_weekly_digest_reaches_each_manager_by_email_once(team_store, wall_clock, tmp_path):
    from aiosmtpd.controller import Controller

    class Inbox:
        def __init__(self) -> None:
            self.mails: list[tuple[list[str], str]] = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
            self.mails.append((list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
            return "250 OK"

    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(inbox, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        text = f"""
channels:
  mail:
    type: email
    host: 127.0.0.1
    port: {port}
    security: none
    sender: kpi@example.com
    to: hr@example.com
    managers: true
    events: [digest]
    personal_data: names
"""
        config = load_notify_config(write_config(tmp_path, text), environ={})
        notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=True)
        notify(team_store, config, clock=wall_clock, today=NOW.date(), digest=True)
    finally:
        smtp.stop()

    assert len(inbox.mails) == 1
    recipients, content = inbox.mails[0]
    assert recipients == ["hr@example.com", "m1@example.com"]
    assert "Weekly digest 2026-W49: team of Wang Hong" in content and "Li Lei" in content
