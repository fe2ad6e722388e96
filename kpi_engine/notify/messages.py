"""Messages from events, saying about people no more than the channel allows.

``compose`` groups a channel's new events into one message (a chat is told "3 PIP recommendations, 2
alerts started" once, not thirty times), section by section, each line at the channel's level of
personal data: ``none`` counts only; ``ids`` employee ids; ``names`` names, ids and teams; ``figures``
also the values and the rules' explanations. A weekly digest is one message per manager.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..reports.i18n import Locale, locale_for
from .config import ChannelConfig
from .events import Event

__all__ = ["Message", "compose", "digest_message"]

MAX_LINES = 30  # per section: a chat message points to the site for the rest


@dataclass(frozen=True)
class Message:
    """A title, sections of lines, and where to read more."""

    title: str
    sections: tuple[tuple[str, tuple[str, ...]], ...]
    link: str | None = None
    to: tuple[str, ...] = ()  # e-mail: addresses besides the channel's own

    def plain(self) -> str:
        parts = [self.title, ""]
        for heading, lines in self.sections:
            parts.append(heading)
            parts += [f"- {line}" for line in lines]
            parts.append("")
        if self.link:
            parts.append(self.link)
        return "\n".join(parts).strip() + "\n"


TEXT = {
    "title": {"en": "KPI notifications", "zh": "KPI 通知"},
    "pip": {"en": "PIP recommendations for HR review", "zh": "绩效改进计划（PIP）建议，待人力资源复核"},
    "alert": {"en": "Alerts", "zh": "预警"},
    "finding": {"en": "Findings awaiting review", "zh": "待复核的异常"},
    "approval": {"en": "Awaiting approval", "zh": "待审批"},
    "started": {"en": "started firing", "zh": "开始告警"},
    "stopped": {"en": "stopped firing", "zh": "已恢复"},
    "more": {"en": "… and {n} more", "zh": "……另有 {n} 条"},
    "plans_waiting": {"en": "{period}: {n} plan(s) awaiting approval", "zh": "{period}：{n} 个方案待审批"},
    "digest_title": {"en": "Weekly digest {week}: team of {manager}", "zh": "{week} 周报：{manager}的团队"},
    "digest_none": {"en": "Weekly digest {week}", "zh": "{week} 周报"},
    "read_more": {"en": "Details: {url}", "zh": "详情：{url}"},
}


def _t(key: str, lang: str, **values: object) -> str:
    return TEXT[key][lang].format(**values)


def _who(event: Event, channel: ChannelConfig) -> str:
    facts = event.facts
    if channel.allows("names"):
        team = f", {facts['team']}" if facts.get("team") else ""
        return f"{facts.get('name') or event.person_id} ({event.person_id}{team})"
    return str(event.person_id)


def _percent(value: Any, loc: Locale) -> str:
    try:
        return loc.percent(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return str(value)


def _evidence(event: Event, loc: Locale) -> str:
    items = event.facts.get("evidence")
    if not isinstance(items, list):
        return ""
    shown = []
    for item in items[-3:]:
        if isinstance(item, Mapping):
            when = item.get("period") or item.get("interval")
            shown.append(f"{when} {_percent(item.get('value'), loc)}")
    return "; ".join(shown)


def _line(event: Event, channel: ChannelConfig, loc: Locale) -> str:
    lang = channel.language
    facts = event.facts
    if event.kind == "approval":
        text = _t("plans_waiting", lang, period=event.period, n=len(facts.get("plans", [])))
        if channel.allows("ids"):
            text += ": " + ", ".join(str(p) for p in facts.get("plans", []))
            if facts.get("evaluated_by"):
                text += f" ({loc.t('evaluated_by')}: {', '.join(facts['evaluated_by'])})"
        return text
    who = _who(event, channel)
    if event.kind == "pip":
        text = f"{who}: {loc.t(str(facts.get('status')))} ({event.period})"
    elif event.kind == "alert":
        text = f"{who}: {loc.t(str(facts.get('rule')))} {_t(str(facts.get('state')), lang)} {facts.get('at')}"
    else:
        text = f"{who}: {loc.t(str(facts.get('check')))}, {loc.t(str(facts.get('effect')))} ({event.period})"
    if channel.allows("figures"):
        detail = _evidence(event, loc) if event.kind in ("pip", "alert") else str(facts.get("evidence") or "")
        if detail:
            text += f" — {detail}"
    return text


def _counts(events: Sequence[Event], channel: ChannelConfig, loc: Locale) -> str:
    lang = channel.language
    tally: Counter[str] = Counter()
    for event in events:
        facts = event.facts
        if event.kind == "pip":
            tally[loc.t(str(facts.get("status")))] += 1
        elif event.kind == "alert":
            tally[_t(str(facts.get("state")), lang)] += 1
        else:
            tally[loc.t(str(facts.get("check")))] += 1
    return ", ".join(f"{label} × {n}" for label, n in sorted(tally.items()))


def compose(events: Sequence[Event], channel: ChannelConfig, *, site_url: str | None = None) -> Message:
    """One message of ``events`` (none of them digests) for ``channel``."""
    loc = locale_for(channel.language)
    lang = channel.language
    sections = []
    for kind in ("approval", "pip", "alert", "finding"):
        items = [e for e in events if e.kind == kind]
        if not items:
            continue
        if kind != "approval" and not channel.allows("ids"):
            lines: list[str] = [_counts(items, channel, loc)]
        else:
            lines = [_line(e, channel, loc) for e in items[:MAX_LINES]]
            if len(items) > MAX_LINES:
                lines.append(_t("more", lang, n=len(items) - MAX_LINES))
        sections.append((_t(kind, lang), tuple(lines)))
    link = _t("read_more", lang, url=site_url) if site_url else None
    return Message(_t("title", lang), tuple(sections), link)


def digest_message(event: Event, channel: ChannelConfig, *, site_url: str | None = None) -> Message:
    """A manager's weekly digest for ``channel``; without names allowed, the manager is not named either."""
    lang = channel.language
    items = [Event.from_json(item) for item in event.facts.get("items", [])]
    title = (
        _t("digest_title", lang, week=event.period, manager=event.facts.get("manager"))
        if channel.allows("names")
        else _t("digest_none", lang, week=event.period)
    )
    body = compose(items, channel, site_url=site_url)
    to = (str(event.facts["manager_email"]),) if event.facts.get("manager_email") else ()
    return Message(title, body.sections, body.link, to)
