"""Notifications: PIP recommendations, alerts that start or stop firing, findings, periods awaiting approval
and weekly digests, sent once to DingTalk, WeCom, Feishu, Slack-compatible webhooks and e-mail.

``events`` says what is worth telling, ``config`` which channel hears what and may say how much about
people, ``messages`` writes the message at that level, ``transports`` sends it in each service's format
(signed where the service signs), and ``outbox`` records each event per channel so it is sent once,
retrying with backoff. ``notify`` runs them together. See docs/notifications.md.
"""

from .config import ChannelConfig, NotifyConfig, load_notify_config
from .events import Event, collect_events, weekly_digests
from .messages import Message, compose
from .outbox import ChannelReport, Clock, SystemClock
from .run import NotifySummary, notify

__all__ = [
    "ChannelConfig",
    "ChannelReport",
    "Clock",
    "Event",
    "Message",
    "NotifyConfig",
    "NotifySummary",
    "SystemClock",
    "collect_events",
    "compose",
    "load_notify_config",
    "notify",
    "weekly_digests",
]
