"""Marketing and sales activity of the sample company: campaigns, spend, leads and rep activities."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from ._calendar import local_day, shanghai
from ._company import Campaign, Company, Person, cents
from ._names import CHANNEL_WEIGHTS, CHANNELS

__all__ = ["build_activities", "build_campaigns", "build_leads", "build_spend", "campaign_for"]

_QUARTER_CAMPAIGNS = (
    ("search", "Baidu Search Brand {q}", 4_000),
    ("social", "WeChat Moments Ads {q}", 3_000),
    ("content", "Industry Whitepaper {q}", 1_200),
    ("event", "Customer Summit {q}", 2_500),
)
_ALWAYS_ON = (
    ("social", "Douyin Short Video", 1_500),
    ("referral", "Customer Referral Program", 400),
)
_CHANNEL_OWNER = {"search": 0, "social": 1, "content": 2, "event": 2, "referral": 3, "direct": 3}


def channel_owner(company: Company, channel: str) -> Person:
    """The marketing specialist who runs a channel."""
    specialists = company.of_role("marketing_specialist")
    return specialists[_CHANNEL_OWNER[channel] % len(specialists)]


def build_campaigns(company: Company) -> None:
    """Quarterly campaigns on search, social, content and events, plus two always-on programmes."""
    ws, we = company.window_start, company.window_end
    quarters = sorted({(m.year, (m.month - 1) // 3) for m in company.months})
    for year, q in quarters:
        start = date(year, 3 * q + 1, 1)
        end = date(year + (q == 3), (3 * q + 3) % 12 + 1, 1)
        for channel, name, budget in _QUARTER_CAMPAIGNS:
            company.campaigns.append(
                Campaign(
                    name.format(q=f"{year}Q{q + 1}"),
                    channel,
                    max(start, ws),
                    min(end, we),
                    channel_owner(company, channel).id,
                    budget,
                )
            )
    for channel, name, budget in _ALWAYS_ON:
        company.campaigns.append(Campaign(name, channel, ws, we, channel_owner(company, channel).id, budget))


def campaign_for(company: Company, rng: random.Random, channel: str, day: date) -> Campaign | None:
    """A campaign running on the channel that day (direct traffic has none)."""
    running = [c for c in company.campaigns if c.channel == channel and c.start <= day < c.end]
    return rng.choice(running) if running else None


def build_spend(company: Company) -> None:
    """Daily spend per campaign in CNY, owned by the campaign's marketing specialist."""
    rng = company.rng("spend")
    for campaign in company.campaigns:
        day = campaign.start
        while day < campaign.end:
            amount = cents(int(campaign.daily_budget * 100 * rng.uniform(0.6, 1.4)))
            company.add_row(
                "marketing_spend",
                {
                    "day": day,
                    "channel": campaign.channel,
                    "campaign": campaign.name,
                    "owner_id": campaign.owner,
                    "amount": amount,
                    "currency": "CNY",
                },
                sourced=True,
                modified_at=shanghai(day, 23, 0),
            )
            day += timedelta(days=1)


def build_leads(company: Company) -> None:
    """Leads that turned into deals, then the daily stream of inbound leads (every one with a channel)."""
    rng = company.rng("leads")
    for row in list(company.rows["deals"]):
        if row["deal_type"] == "new" and row["lead_source"] in CHANNELS:
            _converted_lead(company, rng, row)
    reps = company.of_role("sales_rep")
    day = company.window_start
    while day < company.window_end:
        count = rng.randint(10, 20) if day.weekday() < 5 else rng.randint(3, 8)
        active = [p for p in reps if p.active_on(day)]
        for _ in range(count):
            _inbound_lead(company, rng, day, rng.choice(active))
        day += timedelta(days=1)


def _converted_lead(company: Company, rng: random.Random, deal: dict[str, Any]) -> None:
    created_at = deal["created_at"] - timedelta(days=rng.randint(7, 40), hours=rng.randint(0, 23))
    if local_day(created_at) < company.window_start:
        return
    channel = deal["lead_source"]
    campaign = campaign_for(company, rng, channel, local_day(created_at))
    assigned_at = created_at + timedelta(minutes=rng.randint(10, 360))
    first_contact = assigned_at + timedelta(hours=rng.randint(1, 30))
    mql_at = first_contact + timedelta(days=rng.randint(0, 2), hours=rng.randint(1, 12))
    sql_at = mql_at + timedelta(days=rng.randint(1, 3))
    if sql_at >= deal["created_at"]:
        sql_at = deal["created_at"] - timedelta(hours=1)
        mql_at = min(mql_at, sql_at - timedelta(hours=1))
    company.add_lead(
        owner=deal["owner_id"],
        marketing_owner=campaign.owner if campaign else channel_owner(company, channel).id,
        channel=channel,
        campaign=campaign.name if campaign else None,
        customer_id=deal["customer_id"],
        created_at=created_at,
        assigned_at=assigned_at,
        first_contact_at=first_contact,
        mql_at=max(mql_at, created_at),
        sql_at=max(sql_at, created_at),
        converted_deal_id=deal["id"],
        status="converted",
        score=rng.randint(60, 100),
    )


def _inbound_lead(company: Company, rng: random.Random, day: date, rep: Person) -> None:
    channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
    campaign = campaign_for(company, rng, channel, day)
    hour = rng.choices(range(24), weights=[1] * 7 + [4] * 14 + [2] * 3)[0]
    created_at = shanghai(day, hour, rng.randint(0, 59), rng.randint(0, 59))
    assigned_at = created_at + timedelta(minutes=rng.randint(5, 600))
    contacted = rng.random() < 0.8
    first_contact = assigned_at + timedelta(hours=rng.randint(1, 72)) if contacted else None
    mql_at: datetime | None = None
    sql_at: datetime | None = None
    status = "working" if contacted else "new"
    if contacted and rng.random() < 0.3:
        assert first_contact is not None  # contacted
        mql_at = first_contact + timedelta(days=rng.randint(0, 5), hours=rng.randint(1, 12))
        status = "mql"
        if rng.random() < 0.35:
            sql_at = mql_at + timedelta(days=rng.randint(1, 10))
            status = "sql"
    elif contacted and rng.random() < 0.3:
        status = "disqualified"
    company.add_lead(
        owner=rep.id,
        marketing_owner=campaign.owner if campaign else channel_owner(company, channel).id,
        channel=channel,
        campaign=campaign.name if campaign else None,
        customer_id=None,
        created_at=created_at,
        assigned_at=company.clamp(assigned_at),
        first_contact_at=company.clamp(first_contact) if first_contact else None,
        mql_at=company.clamp(mql_at) if mql_at else None,
        sql_at=company.clamp(sql_at) if sql_at else None,
        converted_deal_id=None,
        status=status,
        score=rng.randint(0, 100),
    )


_WEEKLY = (("call", 4, 9), ("email", 3, 7), ("visit", 1, 4), ("meeting", 0, 2))
_DURATION = {"call": (60, 1200), "visit": (1800, 7200), "meeting": (1800, 5400)}


def build_activities(company: Company) -> None:
    """Calls, emails, visits and meetings per rep per week; customer-success follow-ups per week."""
    rng = company.rng("activities")
    open_deals = _deal_windows(company)
    monday = company.window_start - timedelta(days=company.window_start.weekday())
    while monday < company.window_end:
        week = [monday + timedelta(days=i) for i in range(5)]
        week = [d for d in week if company.window_start <= d < company.window_end]
        for rep in company.of_role("sales_rep"):
            days = [d for d in week if rep.active_on(d)]
            if days:
                _rep_week(company, rng, rep, days, open_deals.get(rep.id, []))
        for person in company.of_role("customer_success"):
            days = [d for d in week if person.active_on(d)]
            if days:
                _success_week(company, rng, person, days)
        monday += timedelta(days=7)


def _deal_windows(company: Company) -> dict[str, list[tuple[date, date, int, int]]]:
    """Per rep: (created day, closed day or year end, deal id, customer id) of every deal."""
    windows: dict[str, list[tuple[date, date, int, int]]] = {}
    for row in company.rows["deals"]:
        end = local_day(row["closed_at"]) if row["closed_at"] else company.window_end
        windows.setdefault(row["owner_id"], []).append(
            (local_day(row["created_at"]), end, row["id"], row["customer_id"])
        )
    return windows


def _rep_week(
    company: Company, rng: random.Random, rep: Person, days: list[date], deals: list[tuple[date, date, int, int]]
) -> None:
    for kind, low, high in _WEEKLY:
        for _ in range(rng.randint(low, high)):
            day = rng.choice(days)
            deal_id = customer_id = None
            if kind in ("visit", "meeting", "call") and rng.random() < 0.4:
                live = [d for d in deals if d[0] <= day <= d[1]]
                if live:
                    _, _, deal_id, customer_id = rng.choice(live)
            if customer_id is None:
                book = company.book_on(rep, day)
                if not book:
                    continue
                customer_id = rng.choice(book)
            evidence = rng.random() < (0.97 if kind in ("visit", "meeting") else 0.7 if kind == "call" else 1.0)
            _activity(company, rng, kind, rep.id, day, customer_id, deal_id, evidence)


def _success_week(company: Company, rng: random.Random, person: Person, days: list[date]) -> None:
    book = [c.id for c in company.customers.values() if c.success_owner == person.id and c.created <= days[0]]
    for kind, count in (("call", rng.randint(2, 4)), ("email", rng.randint(1, 3)), ("meeting", rng.randint(0, 2))):
        for _ in range(count):
            _activity(company, rng, kind, person.id, rng.choice(days), rng.choice(book), None, True)


def _activity(
    company: Company,
    rng: random.Random,
    kind: str,
    owner: str,
    day: date,
    customer_id: int | None,
    deal_id: int | None,
    evidence: bool,
) -> None:
    span = _DURATION.get(kind)
    occurred_at: datetime = shanghai(day, rng.randint(9, 18), rng.randint(0, 59))
    name = company.customers[customer_id].name if customer_id else ""
    company.add_activity(
        kind=kind,
        owner=owner,
        occurred_at=occurred_at,
        customer_id=customer_id,
        deal_id=deal_id,
        duration_seconds=rng.randint(*span) if span else None,
        has_evidence=evidence,
        subject=f"{kind.capitalize()}: {name}",
    )
