"""``notify``: collect the events, queue what each channel has not seen, deliver what is pending."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import requests

from ..periods import Period
from ..reports.roster import load_roster
from ..store.database import Store
from .config import NotifyConfig
from .events import Event, collect_events, default_since, weekly_digests
from .outbox import ChannelReport, Clock, SystemClock, deliver, enqueue
from .transports import transport_for

__all__ = ["NotifySummary", "notify"]


@dataclass
class NotifySummary:
    events: int = 0
    channels: list[ChannelReport] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(c.failed for c in self.channels)


def notify(
    store: Store,
    config: NotifyConfig,
    *,
    clock: Clock | None = None,
    since: Period | None = None,
    today: date | None = None,
    digest: bool | None = None,
    session: requests.Session | None = None,
) -> NotifySummary:
    """Send every channel what is new to it. Digests are made on Mondays (or when ``digest`` says so)."""
    clock = clock or SystemClock()
    today = today or datetime.fromtimestamp(clock.time(), UTC).date()
    events: list[Event] = collect_events(store, since=since, today=today)
    if digest if digest is not None else today.isoweekday() == 1:
        newest = since or default_since(store)
        if newest is not None:
            roster = load_roster(store, newest)
            events += weekly_digests(events, roster, today)
    summary = NotifySummary(events=len(events))
    own = session or requests.Session()
    try:
        for channel in config.channels:
            report = ChannelReport(channel.name)
            report.queued = enqueue(store, channel, events, clock)
            transport = transport_for(channel, clock.time, own)
            deliver(store, channel, transport, clock, site_url=config.site_url, report=report)
            summary.channels.append(report)
    finally:
        if session is None:
            own.close()
    return summary
