"""Digital and service facts of the sample company: web traffic, content, support tickets and trainings."""

from __future__ import annotations

from datetime import date, timedelta

from ._calendar import shanghai
from ._company import Company
from ._funnel import campaign_for, channel_owner
from ._names import CHANNEL_WEIGHTS, CHANNELS

__all__ = ["build_content", "build_service", "build_web_traffic"]

_CONTENT_KINDS = (
    ("article", "content", None),
    ("whitepaper", "content", None),
    ("video", "social", 12_000),
    ("post", "social", 30_000),
)
_TICKET_KINDS = ("issue", "complaint", "question")


def build_web_traffic(company: Company) -> None:
    """Daily web sessions from a year before the window on (for growth against last year), a few returning visitors."""
    rng = company.rng("digital")
    day = company.window_start - timedelta(days=365)
    visitors = 0
    recent: list[str] = []
    while day < company.window_end:
        in_window = day >= company.window_start
        count = (rng.randint(18, 30) if day.weekday() < 5 else rng.randint(6, 12)) + (4 if in_window else 0)
        for _ in range(count):
            if recent and rng.random() < 0.3:
                visitor = rng.choice(recent)
            else:
                visitors += 1
                visitor = f"V{visitors:06d}"
                recent.append(visitor)
                if len(recent) > 400:
                    recent.pop(0)
            channel = rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0]
            campaign = campaign_for(company, rng, channel, day) if in_window else None
            at = shanghai(day, rng.randint(7, 23), rng.randint(0, 59), rng.randint(0, 59))
            company.add_row(
                "web_visits",
                {
                    "visitor_id": visitor,
                    "occurred_at": at,
                    "channel": channel,
                    "campaign": campaign.name if campaign else None,
                    "owner_id": campaign.owner if campaign else channel_owner(company, channel).id,
                    "landing_page": f"/{channel}/{rng.choice(('pricing', 'demo', 'blog', 'home'))}",
                    "form_submitted": rng.random() < 0.05,
                    "is_suspect": rng.random() < 0.01,
                },
                sourced=True,
                modified_at=company.clamp(at + timedelta(minutes=5)),
            )
        day += timedelta(days=1)


def build_content(company: Company) -> None:
    """Articles, whitepapers, videos and social posts per marketing specialist, with four weekly stats rows each."""
    rng = company.rng("digital")
    for month in company.months:
        for person in company.of_role("marketing_specialist"):
            for number in range(rng.randint(3, 6)):
                kind, channel, audience = rng.choice(_CONTENT_KINDS)
                published: date = rng.choice(month.workdays)
                content_id = f"{person.id}-{month.label}-{number}"
                campaign = campaign_for(company, rng, channel, published)
                for week in range(4):
                    day = published + timedelta(days=7 * week)
                    if day >= company.window_end:
                        break
                    impressions = rng.randint(200, 5_000) // (week + 1)
                    company.add_row(
                        "content_stats",
                        {
                            "content_id": content_id,
                            "title": f"{kind.capitalize()} {content_id}",
                            "kind": kind,
                            "channel": channel,
                            "campaign": campaign.name if campaign else None,
                            "owner_id": person.id,
                            "day": day,
                            "impressions": impressions,
                            "clicks": impressions * rng.randint(1, 6) // 100,
                            "downloads": rng.randint(0, 40) if kind == "whitepaper" else 0,
                            "likes": rng.randint(0, 300) if audience else 0,
                            "comments": rng.randint(0, 40) if audience else 0,
                            "shares": rng.randint(0, 60) if audience else 0,
                            "followers": audience + 50 * week if audience else None,
                        },
                        sourced=True,
                        modified_at=shanghai(day, 22),
                    )


def build_service(company: Company) -> None:
    """Support tickets and customer trainings handled by customer success, on customers of their book."""
    rng = company.rng("service")
    monday = company.window_start - timedelta(days=company.window_start.weekday())
    while monday < company.window_end:
        days = [
            d for d in (monday + timedelta(days=i) for i in range(5)) if company.window_start <= d < company.window_end
        ]
        for person in company.of_role("customer_success"):
            active = [d for d in days if person.active_on(d)]
            book = [c.id for c in company.customers.values() if c.success_owner == person.id and c.created <= monday]
            if not active or not book:
                continue
            for _ in range(rng.randint(2, 5)):
                opened = shanghai(rng.choice(active), rng.randint(8, 20), rng.randint(0, 59))
                responded = opened + timedelta(minutes=rng.randint(5, 240))
                resolved = responded + timedelta(hours=rng.randint(1, 96))
                company.add_row(
                    "support_tickets",
                    {
                        "customer_id": rng.choice(book),
                        "owner_id": person.id,
                        "kind": rng.choices(_TICKET_KINDS, weights=(70, 15, 15))[0],
                        "priority": rng.choice(("low", "normal", "high")),
                        "opened_at": opened,
                        "first_response_at": company.clamp(responded),
                        "resolved_at": resolved if resolved <= company.last_instant else None,
                    },
                    sourced=True,
                    modified_at=company.clamp(resolved),
                )
            for _ in range(rng.randint(0, 2)):
                at = shanghai(rng.choice(active), rng.randint(9, 17), 0)
                company.add_row(
                    "trainings",
                    {
                        "customer_id": rng.choice(book),
                        "owner_id": person.id,
                        "occurred_at": at,
                        "attendees": rng.randint(2, 25),
                        "topic": rng.choice(("onboarding", "reporting", "admin console", "new release")),
                    },
                    sourced=True,
                    modified_at=at,
                )
        monday += timedelta(days=7)
