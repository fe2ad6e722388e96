"""A local HubSpot CRM v3 API on 127.0.0.1, reproducing docs/connectors/hubspot.md.

- Auth: ``Authorization: Bearer`` with a private-app token (never expires) or an OAuth access
  token from ``POST /oauth/v1/token`` (``grant_type=refresh_token``), which answers
  ``{token_type, refresh_token, access_token, expires_in}``. An expired OAuth token is HTTP 401
  ``{"status":"error","message":"The OAuth token used to make this call expired … ago.",
  "correlationId":…,"category":"EXPIRED_AUTHENTICATION"}``; a wrong one is 401
  ``INVALID_AUTHENTICATION``.
- ``GET /crm/v3/objects/{deals|contacts|calls|meetings|tasks}?limit=&after=&properties=&archived=
  &associations=``: ``{results:[{id,properties:{…strings…},createdAt,updatedAt,archived}],
  paging:{next:{after,link}}}``, ``paging`` absent on the last page, ``limit`` at most 100
  (above: 400 ``VALIDATION_ERROR``), records in id order, ``after`` an opaque base64 token.
  ``archived=true`` lists only archived records (with ``archivedAt``).
- ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` on any property (``GTE``, ``GT``,
  ``LTE``, ``LT``, ``EQ``; dates as epoch-ms strings), ``sorts``, ``properties``, ``limit`` at most
  200, ``after`` an offset; answers carry ``total``; never returns archived records; a query
  cannot page past **10,000** results (400).
- ``GET /crm/v3/owners?limit=&after=&archived=``: ``{results:[{id,email,firstName,lastName,userId,
  createdAt,updatedAt,archived,teams[]}]}``; deals name the owner ``id``, not ``userId``.
- Rate limits: a rolling 10-second window per token (``burst_limit``) and a daily allocation;
  every answer carries ``X-HubSpot-RateLimit-Max/-Remaining/-Interval-Milliseconds`` and, for
  private-app tokens only, ``-Daily``/``-Daily-Remaining``. Over a limit the answer is 429
  ``{"status":"error","message":"You have reached your ten_secondly_rolling limit.",
  "errorType":"RATE_LIMIT","correlationId":…,"policyName":"TEN_SECONDLY_ROLLING","requestId":…}``
  (``DAILY``: "You have reached your daily limit."; search over ``search_per_second``: ``SECONDLY``).
- Data: every property value is a string (``"5000"``, ``"true"``); several deals share one
  ``hs_lastmodifieddate`` (a bulk edit); some ``closedate`` values carry a non-UTC offset
  (``+08:00``, ``-05:00``; the real API writes ``Z``, a robustness case); some records are archived.

Scriptable faults (``server.faults``, see ``kpi_engine.testing``): every k-th request 429,
5xx bursts, token expiry after N requests, slow answers. From the command line::

    python -m tests.support.mock_servers.hubspot --port 8081 --deals 1000
"""

from __future__ import annotations

import argparse
import base64
import bisect
import json
import random
import re
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from kpi_engine.testing import (
    MockCRMServer,
    MockRequest,
    MockResponse,
    route,
    run_mock_server,
)

__all__ = ["BASE_TIME", "OBJECT_TYPES", "HubSpotMock", "main"]

BASE_TIME = datetime(2026, 11, 1, tzinfo=UTC)
"""The mock's "now" for seeded data; changes made during a test come after it."""

OBJECT_TYPES = ("deals", "contacts", "calls", "meetings", "tasks", "commerce_payments")
_KINDS = "|".join(OBJECT_TYPES)
MODIFIED = {
    "commerce_payments": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "contacts": "lastmodifieddate",
    "calls": "hs_lastmodifieddate",
    "meetings": "hs_lastmodifieddate",
    "tasks": "hs_lastmodifieddate",
}
DEFAULT_PROPERTIES = {
    "deals": [
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ],
    "contacts": ["firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"],
    "calls": ["hs_timestamp", "hs_call_title", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "meetings": ["hs_timestamp", "hs_meeting_title", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "tasks": ["hs_timestamp", "hs_task_subject", "hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
    "commerce_payments": ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
}
PAYMENT_STATUSES = ["succeeded"] * 6 + ["partially_refunded", "refunded", "failed", "processing"]
STAGES = [  # the default sales pipeline: (stage id, probability, closed, won)
    ("appointmentscheduled", "0.2", False, False),
    ("qualifiedtobuy", "0.4", False, False),
    ("presentationscheduled", "0.6", False, False),
    ("decisionmakerboughtin", "0.8", False, False),
    ("contractsent", "0.9", False, False),
    ("closedwon", "1.0", True, True),
    ("closedlost", "0.0", True, False),
]
FIRST = [
    "Ava",
    "Ben",
    "Chen",
    "Dana",
    "Emil",
    "Fatima",
    "Gao",
    "Hana",
    "Ivan",
    "Jia",
    "Kofi",
    "Lena",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
]
LAST = ["Novak", "Smith", "Wang", "Okafor", "Garcia", "Müller", "Tanaka", "Rossi", "Kim", "Silva", "Haddad", "Larsen"]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Vandelay",
    "Stark",
    "Wayne",
    "Tyrell",
    "Soylent",
    "Cyberdyne",
    "Wonka",
]
SOURCES = ["ORGANIC_SEARCH", "PAID_SEARCH", "EMAIL_MARKETING", "SOCIAL_MEDIA", "REFERRALS", "DIRECT_TRAFFIC", "OFFLINE"]
PRIVATE_TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"
CLIENT_ID = "mock-client-id"
CLIENT_SECRET = "mock-client-secret-0f9e8d7c"
REFRESH_TOKEN = "mock-refresh-token-1a2b3c4d"


def iso_ms(moment: datetime) -> str:
    """HubSpot's time stamp format: ``2024-04-01T10:00:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _after_token(number: int) -> str:
    return base64.b64encode(f"{number}\n".encode()).decode()


def _read_after(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.b64decode(token.encode()).decode().strip())
    except ValueError:  # not base64 (binascii.Error), not UTF-8, or not a number: all ValueErrors
        return -1


class _Object:
    __slots__ = ("archived_at", "associations", "created", "id", "modified", "properties")

    def __init__(self, id: int, properties: dict[str, str], created: datetime, modified: datetime) -> None:
        self.id = id
        self.properties = properties
        self.created = created
        self.modified = modified
        self.archived_at: datetime | None = None
        self.associations: dict[str, list[int]] = {}


class HubSpotMock(MockCRMServer):
    """The HubSpot CRM v3 API with seeded owners, deals, contacts and engagements."""

    name = "hubspot"

    def __init__(
        self,
        *,
        deals: int = 200,
        owners: int | None = None,
        contacts: int | None = None,
        engagements: int | None = None,
        archived_share: float = 0.03,  # float ok: share of records seeded archived
        seed: int = 7,
        burst_limit: int | None = 190,
        daily_limit: int = 1_000_000,
        search_per_second: int | None = None,
        search_cap: int = 10_000,
        port: int = 0,
        deal_splits: bool = True,
        marketing: bool = True,
    ) -> None:
        super().__init__(port=port, static_tokens=[PRIVATE_TOKEN])
        self.private_token = PRIVATE_TOKEN
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.refresh_token = REFRESH_TOKEN
        self.burst_limit = burst_limit
        self.daily_limit = daily_limit
        self.search_per_second = search_per_second
        self.search_cap = search_cap
        self.refreshes = 0
        self.now = BASE_TIME
        self.objects: dict[str, dict[int, _Object]] = {t: {} for t in OBJECT_TYPES}
        self.owner_list: list[dict[str, Any]] = []
        self.deal_splits_enabled = deal_splits
        self.marketing_enabled = marketing
        self.splits: dict[int, list[dict[str, Any]]] = {}  # deal -> its splits
        self.stage_history: dict[int, list[tuple[str, datetime]]] = {}  # deal -> (stage, entered), oldest first
        self.campaigns: list[dict[str, Any]] = []
        self.spend: dict[str, list[dict[str, Any]]] = {}  # campaign guid -> spend items
        self._split_ids = 80_000_000_001
        self._windows: dict[str, deque[float]] = {}
        self._search_window: deque[float] = deque()
        self._daily_used = 0
        self._index: dict[tuple[str, bool], list[int]] = {}
        self._rendered: dict[tuple[Any, ...], dict[int, str]] = {}
        self._by_modified: dict[str, list[tuple[int, int]]] = {}
        self._data_lock = threading.RLock()
        self._seed(random.Random(seed), deals, owners, contacts, engagements, archived_share)

    # --- seeding -------------------------------------------------------------------

    def _seed(
        self,
        rng: random.Random,
        n_deals: int,
        n_owners: int | None,
        n_contacts: int | None,
        n_engagements: int | None,
        archived_share: float,
    ) -> None:  # float ok
        n_owners = n_owners if n_owners is not None else max(3, min(200, n_deals // 40 + 3))
        n_contacts = n_contacts if n_contacts is not None else max(1, n_deals // 2)
        n_engagements = n_engagements if n_engagements is not None else max(1, n_deals // 4)
        for i in range(n_owners):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            created = BASE_TIME - timedelta(days=900 - i)
            self.owner_list.append(
                {
                    "id": str(41629779 + i * 7919),
                    "email": f"{first.lower()}.{last.lower()}{i}@example.com",
                    "type": "PERSON",
                    "firstName": first,
                    "lastName": last,
                    "userId": 9100000 + i,
                    "userIdIncludingInactive": 9100000 + i,
                    "createdAt": iso_ms(created),
                    "updatedAt": iso_ms(created + timedelta(days=30)),
                    "archived": i == n_owners - 1 and n_owners > 3,  # one owner has left; their deals stay
                    "teams": [
                        {"id": str(100 + i % 3), "name": ["East", "West", "Key accounts"][i % 3], "primary": True}
                    ],
                }
            )
        owner_ids = [o["id"] for o in self.owner_list]
        n_companies = max(1, n_deals // 3)
        company_ids = [1000000 + i for i in range(n_companies)]
        shared = None
        for i in range(n_deals):
            created = BASE_TIME - timedelta(days=rng.randint(30, 700), seconds=rng.randint(0, 86399))
            if 0 < i % 20 < 5 and shared is not None:  # a bulk edit: five deals in a row share one modified time
                modified = shared
            else:
                modified = min(
                    BASE_TIME - timedelta(minutes=1),
                    created + timedelta(days=rng.randint(0, 29), milliseconds=rng.randint(0, 86_399_999)),
                )
                shared = modified if i % 20 == 0 else shared
            stage, probability, closed, won = STAGES[rng.randrange(len(STAGES))]
            close = created + timedelta(days=rng.randint(5, 120), hours=rng.randint(0, 23))
            if i % 10 == 3:  # a time stamp written with a non-UTC offset
                offset = timezone(timedelta(hours=8)) if i % 20 == 3 else timezone(timedelta(hours=-5))
                closedate = close.astimezone(offset).isoformat(timespec="milliseconds")
            else:
                closedate = iso_ms(close)
            cents = rng.randint(0, 99) if i % 4 == 0 else 0
            amount = f"{rng.randint(5, 900) * 100}" + (f".{cents:02d}" if cents else "")
            currency = "" if i % 11 == 5 else ("EUR" if i % 7 == 2 else "USD")
            props = {
                "dealname": f"{COMPANIES[i % len(COMPANIES)]} {['new', 'renewal', 'upsell'][i % 3]} {i + 1}",
                "amount": amount,
                "closedate": closedate,
                "pipeline": "default",
                "dealstage": stage,
                "createdate": iso_ms(created),
                "hs_lastmodifieddate": iso_ms(modified),
                "hubspot_owner_id": owner_ids[i % len(owner_ids)] if i % 17 != 8 else "",
                "deal_currency_code": currency,
                "hs_deal_stage_probability": probability,
                "hs_is_closed": "true" if closed else "false",
                "hs_is_closed_won": "true" if won else "false",
                "dealtype": ["newbusiness", "existingbusiness"][i % 2],
            }
            deal = self._add("deals", 5_000_000_001 + i, props, created, modified)
            deal.associations["companies"] = [company_ids[i % n_companies]]
            steps = [("appointmentscheduled", created)]
            if stage == "closedlost" and i % 3 == 1:  # won, then lost: a cancellation
                steps.append(("closedwon", created + (modified - created) / 2))
            if stage != "appointmentscheduled":
                steps.append((stage, modified))
            self.stage_history[deal.id] = steps
            if i % 3 == 0 and props["hubspot_owner_id"]:
                others = [o for o in owner_ids if o != props["hubspot_owner_id"]]
                shares = [(props["hubspot_owner_id"], "1.0")]
                if i % 2 == 0 and others:
                    shares = [(props["hubspot_owner_id"], "0.6"), (others[i % len(others)], "0.4")]
                self._set_splits(deal.id, shares, modified)
        deal_ids = sorted(self.objects["deals"])
        for i in range(n_contacts):
            created = BASE_TIME - timedelta(days=rng.randint(10, 500), seconds=rng.randint(0, 86399))
            modified = created + timedelta(days=rng.randint(0, 9), seconds=rng.randint(0, 86399))
            first, last = FIRST[(i * 3) % len(FIRST)], LAST[(i * 5) % len(LAST)]
            mql = created + timedelta(days=rng.randint(1, 20)) if i % 3 else None
            props = {
                "firstname": first,
                "lastname": last,
                "email": f"{first.lower()}.{last.lower()}.{i}@customer.example",
                "createdate": iso_ms(created),
                "lastmodifieddate": iso_ms(min(modified, BASE_TIME - timedelta(minutes=1))),
                "hubspot_owner_id": owner_ids[(i * 3) % len(owner_ids)],
                "hs_analytics_source": SOURCES[i % len(SOURCES)],
                "lifecyclestage": "marketingqualifiedlead" if mql else "lead",
                "hs_lead_status": ["NEW", "OPEN", "IN_PROGRESS", "CONNECTED"][i % 4],
                "hs_lifecyclestage_marketingqualifiedlead_date": iso_ms(mql) if mql else "",
            }
            self._add("contacts", 700_000_001 + i, props, created, min(modified, BASE_TIME - timedelta(minutes=1)))
        for kind, base_id in (("calls", 30_000_000_001), ("meetings", 40_000_000_001), ("tasks", 50_000_000_001)):
            for i in range(n_engagements):
                when = BASE_TIME - timedelta(days=rng.randint(1, 400), seconds=rng.randint(0, 86399))
                modified = min(BASE_TIME - timedelta(minutes=1), when + timedelta(hours=rng.randint(0, 72)))
                props = {
                    "hs_timestamp": iso_ms(when),
                    "hubspot_owner_id": owner_ids[(i * 5) % len(owner_ids)],
                    "hs_createdate": iso_ms(when),
                    "hs_lastmodifieddate": iso_ms(modified),
                }
                if kind == "calls":
                    props.update(
                        hs_call_title=f"Call {i + 1}",
                        hs_call_duration=str(rng.randint(30, 3600) * 1000),
                        hs_call_direction=["OUTBOUND", "INBOUND"][i % 2],
                        hs_call_status="COMPLETED",
                    )
                elif kind == "meetings":
                    end = when + timedelta(minutes=rng.choice([30, 45, 60, 90]))
                    props.update(
                        hs_meeting_title=f"Meeting {i + 1}",
                        hs_meeting_start_time=iso_ms(when),
                        hs_meeting_end_time=iso_ms(end),
                        hs_meeting_outcome="COMPLETED",
                    )
                else:
                    props.update(
                        hs_task_subject=f"Follow up {i + 1}",
                        hs_task_status=["COMPLETED", "NOT_STARTED"][i % 2],
                        hs_task_type="TODO",
                    )
                record = self._add(kind, base_id + i, props, when, modified)
                if deal_ids and i % 3 != 2:
                    record.associations["deals"] = [deal_ids[(i * 7) % len(deal_ids)]]
        self._seed_commerce(rng, company_ids)
        for kind in OBJECT_TYPES:
            ids = sorted(self.objects[kind])
            for number in rng.sample(ids, int(len(ids) * archived_share)) if archived_share else []:
                obj = self.objects[kind][number]
                obj.archived_at = obj.modified
        self._reindex()

    def _seed_commerce(self, rng: random.Random, company_ids: list[int]) -> None:
        """Payments of won deals (some refunded, failed or still processing) and campaigns with spend."""
        number = 60_000_000_001
        for deal in sorted(self.objects["deals"].values(), key=lambda d: d.id):
            if deal.properties.get("hs_is_closed_won") != "true":
                continue
            status = PAYMENT_STATUSES[number % len(PAYMENT_STATUSES)]
            amount = deal.properties["amount"]
            quarter = str((Decimal(amount) / 4).quantize(Decimal("0.01")))
            refunded = {"refunded": amount, "partially_refunded": quarter}.get(status, "0")
            initiated = deal.created + timedelta(days=rng.randint(1, 20))
            modified = min(BASE_TIME - timedelta(minutes=2), initiated + timedelta(days=rng.randint(0, 30)))
            props = {
                "hs_initial_amount": amount,
                "hs_currency_code": deal.properties["deal_currency_code"] or "USD",
                "hs_initiated_date": iso_ms(initiated),
                "hs_latest_status": status,
                "hs_refunds_amount": refunded,
                "hs_payment_method_type": ["card", "ach", "wire_transfer"][number % 3],
                "hs_processor_type": "hs_payments",
                "hs_createdate": iso_ms(initiated),
                "hs_lastmodifieddate": iso_ms(modified),
            }
            payment = self._add("commerce_payments", number, props, initiated, modified)
            payment.associations["deals"] = [deal.id]
            payment.associations["companies"] = deal.associations.get("companies", [])[:1]
            number += 1
        for i in range(max(3, len(self.objects["deals"]) // 60)):
            guid = str(uuid.UUID(int=rng.getrandbits(128)))
            start = (BASE_TIME - timedelta(days=rng.randint(10, 300))).date()
            created = BASE_TIME - timedelta(days=320 - i)
            self.campaigns.append(
                {
                    "id": guid,
                    "properties": {
                        "hs_name": f"{COMPANIES[i % len(COMPANIES)]} campaign {i + 1}",
                        "hs_start_date": start.isoformat(),
                        "hs_end_date": (start + timedelta(days=30)).isoformat(),
                        "hs_campaign_status": "active",
                        "hs_owner": str(9100000 + i % 3),
                    },
                    "createdAt": iso_ms(created),
                    "updatedAt": iso_ms(created + timedelta(days=5)),
                }
            )
            self.spend[guid] = [
                {
                    "id": str(uuid.UUID(int=rng.getrandbits(128))),
                    "name": ["Ads", "Venue", "Agency fee"][k % 3],
                    "amount": f"{rng.randint(2, 500) * 10}.{rng.choice(['00', '25', '99'])}",
                    "order": k,
                    "description": None,
                    "createdAt": epoch_ms(created + timedelta(days=k + 1)),
                    "updatedAt": epoch_ms(created + timedelta(days=k + 2)),
                }
                for k in range(1 + i % 3)
            ]

    def _set_splits(self, deal: int, shares: list[tuple[str, str]], moment: datetime) -> None:
        self.splits[deal] = []
        for owner, share in shares:
            self.splits[deal].append(
                {
                    "id": str(self._split_ids),
                    "properties": {"hs_deal_split_percentage": share, "hubspot_owner_id": owner},
                    "createdAt": iso_ms(moment),
                    "updatedAt": iso_ms(moment),
                    "archived": False,
                }
            )
            self._split_ids += 1

    def set_splits(self, deal: int | str, shares: list[tuple[str, str]]) -> None:
        """Replace a deal's splits, as the upsert endpoint does; the deal's modified time moves (unverified)."""
        with self._data_lock:
            moment = self.touch("deals", deal)
            self._set_splits(int(deal), shares, moment)

    def remove_spend(self, campaign: str, item: str) -> None:
        """Delete a spend item: it simply stops being listed."""
        with self._data_lock:
            self.spend[campaign] = [s for s in self.spend[campaign] if s["id"] != item]

    def _add(self, kind: str, number: int, props: dict[str, str], created: datetime, modified: datetime) -> _Object:
        props["hs_object_id"] = str(number)
        obj = _Object(number, props, created, modified)
        self.objects[kind][number] = obj
        return obj

    def _reindex(self) -> None:
        with self._data_lock:
            self._rendered = {}
            self._index = {}
            self._by_modified = {}
            for kind, table in self.objects.items():
                ordered = sorted(table)
                self._index[(kind, False)] = [n for n in ordered if table[n].archived_at is None]
                self._index[(kind, True)] = [n for n in ordered if table[n].archived_at is not None]
                self._by_modified[kind] = sorted((epoch_ms(table[n].modified), n) for n in self._index[(kind, False)])

    # --- changes a test makes -----------------------------------------------------------

    def _tick(self) -> datetime:
        self.now = self.now + timedelta(seconds=1)
        return self.now

    def touch(self, kind: str, number: int | str, **props: str) -> datetime:
        """Change a record's properties; its modified time moves to the mock's clock."""
        with self._data_lock:
            obj = self.objects[kind][int(number)]
            moment = self._tick()
            obj.properties.update({k: str(v) for k, v in props.items()})
            obj.modified = moment
            obj.properties[MODIFIED[kind]] = iso_ms(moment)
            if kind == "deals" and "dealstage" in props:
                stage = next(s for s in STAGES if s[0] == props["dealstage"])
                obj.properties.update(
                    hs_is_closed="true" if stage[2] else "false", hs_is_closed_won="true" if stage[3] else "false"
                )
                self.stage_history.setdefault(obj.id, []).append((str(props["dealstage"]), moment))
            self._reindex()
            return moment

    def archive(self, kind: str, number: int | str) -> None:
        """Archive (delete) a record: it leaves listings and search, and appears under ``archived=true``."""
        with self._data_lock:
            obj = self.objects[kind][int(number)]
            moment = self._tick()
            obj.archived_at = moment
            obj.modified = moment
            self._reindex()

    def live_ids(self, kind: str) -> set[str]:
        return {str(n) for n in self._index[(kind, False)]}

    def archived_ids(self, kind: str) -> set[str]:
        return {str(n) for n in self._index[(kind, True)]}

    def owner_ids(self) -> set[str]:
        return {o["id"] for o in self.owner_list}

    def usage_hint(self) -> str:
        return (
            f"  export KPI_HUBSPOT_BASE_URL={self.url}\n  export KPI_HUBSPOT_TOKEN={self.private_token}\n"
            f"  kpi sync hubspot"
        )

    # --- dialect ---------------------------------------------------------------------------

    @staticmethod
    def _error(status: int, message: str, category: str, **extra: Any) -> MockResponse:
        return MockResponse(
            status,
            {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra},
        )

    def public(self, request: MockRequest) -> bool:
        return request.path == "/oauth/v1/token"

    def rate_limit_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(
            429,
            {
                "status": "error",
                "message": "You have reached your ten_secondly_rolling limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "TEN_SECONDLY_ROLLING",
                "requestId": str(uuid.uuid4()),
                "category": "RATE_LIMITS",
            },
        )

    def daily_limit_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(
            429,
            {
                "status": "error",
                "message": "You have reached your daily limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "DAILY",
                "requestId": str(uuid.uuid4()),
                "category": "RATE_LIMITS",
            },
        )

    def secondly_limit_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(
            429,
            {
                "status": "error",
                "message": "You have reached your secondly limit.",
                "errorType": "RATE_LIMIT",
                "correlationId": str(uuid.uuid4()),
                "policyName": "SECONDLY",
                "requestId": str(uuid.uuid4()),
                "category": "RATE_LIMITS",
            },
        )

    def server_error_response(self, request: MockRequest) -> MockResponse:
        return MockResponse(
            502,
            "<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>",
            {"Content-Type": "text/html"},
        )

    def expired_token_response(self, request: MockRequest) -> MockResponse:
        return self._error(
            401, "The OAuth token used to make this call expired 2 second(s) ago.", "EXPIRED_AUTHENTICATION"
        )

    def authenticate(self, request: MockRequest) -> MockResponse | None:
        token = request.bearer
        verdict = self.tokens.check(token, request.number)
        if verdict == "expired":
            return self.expired_token_response(request)
        if verdict != "ok":
            return self._error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
                "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        with self._data_lock:
            self._daily_used += 1
            if self._daily_used > self.daily_limit:
                return self.daily_limit_response(request)
            if self.burst_limit is not None:
                window = self._windows.setdefault(token or "", deque())
                now = time.monotonic()
                while window and now - window[0] > 10:
                    window.popleft()
                if len(window) >= self.burst_limit:
                    return self.rate_limit_response(request)
                window.append(now)
            if self.search_per_second is not None and request.path.endswith("/search"):
                now = time.monotonic()
                while self._search_window and now - self._search_window[0] > 1:
                    self._search_window.popleft()
                if len(self._search_window) >= self.search_per_second:
                    return self.secondly_limit_response(request)
                self._search_window.append(now)
        return None

    def decorate(self, request: MockRequest, response: MockResponse) -> MockResponse:
        if request.path.startswith("/crm/"):
            token = request.bearer or ""
            window = self._windows.get(token, ())
            limit = self.burst_limit or 100_000
            response.headers.setdefault("X-HubSpot-RateLimit-Max", str(limit))
            response.headers.setdefault("X-HubSpot-RateLimit-Remaining", str(max(0, limit - len(window))))
            response.headers.setdefault("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
            if token == self.private_token:  # no daily headers on OAuth calls
                response.headers.setdefault("X-HubSpot-RateLimit-Daily", str(self.daily_limit))
                response.headers.setdefault(
                    "X-HubSpot-RateLimit-Daily-Remaining", str(max(0, self.daily_limit - self._daily_used))
                )
        return response

    # --- endpoints ----------------------------------------------------------------------------

    @route("POST", r"/oauth/v1/token")
    def token(self, request: MockRequest) -> MockResponse:
        form = request.form()
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
        ):
            return MockResponse(
                400,
                {
                    "status": "BAD_CLIENT_ID",
                    "message": "missing or invalid client credentials",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        if form.get("refresh_token") != self.refresh_token:
            return MockResponse(
                400,
                {
                    "status": "BAD_REFRESH_TOKEN",
                    "message": "missing or unknown refresh token",
                    "correlationId": str(uuid.uuid4()),
                },
            )
        self.refreshes += 1
        return MockResponse(
            200,
            {
                "token_type": "bearer",
                "refresh_token": self.refresh_token,
                "access_token": self.tokens.issue(),
                "expires_in": 1800,
            },
        )

    @staticmethod
    def _properties(request: MockRequest, kind: str) -> list[str]:
        raw = request.query.get("properties")
        if not raw:
            return DEFAULT_PROPERTIES[kind]
        return [p for value in raw for p in value.split(",") if p]

    def _render(self, kind: str, obj: _Object, properties: list[str], associations: list[str]) -> dict[str, Any]:
        props = {
            name: obj.properties.get(name)
            for name in properties
            if name in obj.properties or name in DEFAULT_PROPERTIES[kind]
        }
        props["hs_object_id"] = str(obj.id)
        if obj.archived_at is not None and MODIFIED[kind] in props:
            props[MODIFIED[kind]] = iso_ms(obj.modified)
        item: dict[str, Any] = {
            "id": str(obj.id),
            "properties": props,
            "createdAt": iso_ms(obj.created),
            "updatedAt": iso_ms(obj.modified),
            "archived": obj.archived_at is not None,
        }
        if obj.archived_at is not None:
            item["archivedAt"] = iso_ms(obj.archived_at)
        found = {a: obj.associations[a] for a in associations if obj.associations.get(a)}
        if found:
            item["associations"] = {
                a: {"results": [{"id": str(n), "type": f"{kind[:-1]}_to_{a[:-1]}"} for n in ids]}
                for a, ids in found.items()
            }
        return item

    @route("GET", rf"/crm/v3/objects/(?P<kind>{_KINDS})")
    def list_objects(self, request: MockRequest) -> MockResponse:
        kind = request.match.group("kind") if request.match else "deals"
        try:
            limit = int(request.arg("limit", "10") or "10")
        except ValueError:
            return self._error(400, "limit must be a number", "VALIDATION_ERROR")
        if not 1 <= limit <= 100:
            return self._error(400, f"limit must be between 1 and 100 (got {limit})", "VALIDATION_ERROR")
        start = _read_after(request.arg("after"))
        if start < 0:
            return self._error(400, "Invalid after token", "VALIDATION_ERROR")
        archived = (request.arg("archived", "false") or "false").lower() == "true"
        associations = [a for v in request.query.get("associations", []) for a in v.split(",") if a]
        properties = self._properties(request, kind)
        key = (kind, tuple(properties), tuple(associations))
        with self._data_lock:
            ids = self._index[(kind, archived)]
            at = bisect.bisect_left(ids, start)
            chunk = ids[at : at + limit]
            table = self.objects[kind]
            cache = self._rendered.setdefault(key, {})
            parts = []
            for n in chunk:  # records are rendered once per property list (a 100,000-deal mock stays fast)
                text = cache.get(n)
                if text is None:
                    text = cache[n] = json.dumps(
                        self._render(kind, table[n], properties, associations), separators=(",", ":")
                    )
                parts.append(text)
            following = ids[at + limit] if at + limit < len(ids) else None
        body = '{"results":[' + ",".join(parts) + "]"
        if following is not None:
            token = _after_token(following)
            body += ',"paging":' + json.dumps(
                {"next": {"after": token, "link": f"{self.url}{request.path}?after={token}"}}
            )
        return MockResponse(200, (body + "}").encode("utf-8"), {"Content-Type": "application/json;charset=utf-8"})

    @route("POST", rf"/crm/v3/objects/(?P<kind>{_KINDS})/search")
    def search(self, request: MockRequest) -> MockResponse:
        kind = request.match.group("kind") if request.match else "deals"
        query = request.json() or {}
        limit = int(query.get("limit", 10))
        if not 1 <= limit <= 200:
            return self._error(400, f"limit must be between 1 and 200 (got {limit})", "VALIDATION_ERROR")
        offset = int(query.get("after") or 0)
        if offset + limit > self.search_cap:
            return self._error(
                400,
                "There was a problem with the request: the search API can "
                f"page through at most {self.search_cap} results per query.",
                "VALIDATION_ERROR",
            )
        properties = query.get("properties") or DEFAULT_PROPERTIES[kind]
        with self._data_lock:
            table = self.objects[kind]
            rows = [table[n] for n in self._index[(kind, False)]]
            for group in query.get("filterGroups") or []:
                rows = [o for o in rows if all(self._matches(kind, o, f) for f in group.get("filters", []))]
            sorts = query.get("sorts") or []
            if sorts:
                first = sorts[0]
                name = first if isinstance(first, str) else first.get("propertyName")
                descending = isinstance(first, dict) and first.get("direction") == "DESCENDING"
                rows.sort(key=lambda o: (self._value(kind, o, name), o.id), reverse=descending)
            total = len(rows)
            page = rows[offset : offset + limit]
            results = [self._render(kind, o, list(properties), []) for o in page]
        body: dict[str, Any] = {"total": total, "results": results}
        if offset + limit < total:
            body["paging"] = {"next": {"after": str(offset + limit)}}
        return MockResponse(200, body)

    @staticmethod
    def _value(kind: str, obj: _Object, name: str) -> Any:
        if name in ("hs_lastmodifieddate", "lastmodifieddate"):
            return epoch_ms(obj.modified)
        if name in ("createdate", "hs_createdate"):
            return epoch_ms(obj.created)
        if name == "hs_object_id":
            return obj.id
        return obj.properties.get(name) or ""

    def _matches(self, kind: str, obj: _Object, flt: dict[str, Any]) -> bool:
        value = self._value(kind, obj, flt.get("propertyName", ""))
        wanted: Any = flt.get("value")
        if isinstance(value, int):
            wanted = int(wanted)
        op = flt.get("operator")
        return {
            "GTE": value >= wanted,
            "GT": value > wanted,
            "LTE": value <= wanted,
            "LT": value < wanted,
            "EQ": value == wanted,
            "NEQ": value != wanted,
        }.get(op, False)

    @route("POST", rf"/crm/v4/associations/(?P<kind>{_KINDS})/(?P<to>\w+)/batch/read")
    def associations(self, request: MockRequest) -> MockResponse:
        kind = request.match.group("kind") if request.match else "deals"
        to = request.match.group("to") if request.match else "companies"
        inputs = (request.json() or {}).get("inputs") or []
        if len(inputs) > 1000:
            return self._error(400, "at most 1000 inputs per batch", "VALIDATION_ERROR")
        results = []
        with self._data_lock:
            for entry in inputs:
                obj = self.objects[kind].get(int(entry.get("id", 0)))
                if obj is None or not obj.associations.get(to):
                    continue
                results.append(
                    {
                        "from": {"id": str(obj.id)},
                        "to": [
                            {
                                "toObjectId": n,
                                "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": 5, "label": None}],
                            }
                            for n in obj.associations[to]
                        ],
                    }
                )
        return MockResponse(
            200,
            {"status": "COMPLETE", "results": results, "startedAt": iso_ms(self.now), "completedAt": iso_ms(self.now)},
        )

    @route("POST", r"/crm/v3/objects/deals/splits/batch/read")
    def split_batch(self, request: MockRequest) -> MockResponse:
        if not self.deal_splits_enabled:
            return self._error(
                403,
                "This app hasn't been granted all required scopes to make this call.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {"requiredGranularScopes": ["crm.dealsplits.read_write"]},
                    }
                ],
            )
        inputs = (request.json() or {}).get("inputs") or []
        if len(inputs) > 100:
            return self._error(400, "at most 100 inputs per batch", "VALIDATION_ERROR")
        with self._data_lock:
            results = [
                {"id": str(entry["id"]), "splits": self.splits.get(int(entry["id"]), [])}
                for entry in inputs
                if int(entry["id"]) in self.objects["deals"]
            ]
        now = iso_ms(self.now)
        return MockResponse(200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now})

    @route("POST", r"/crm/v3/objects/deals/batch/read")
    def deal_batch(self, request: MockRequest) -> MockResponse:
        body = request.json() or {}
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return self._error(400, "at most 100 inputs per batch", "VALIDATION_ERROR")
        archived = (request.arg("archived", "false") or "false").lower() == "true"
        history_of = body.get("propertiesWithHistory") or []
        results = []
        with self._data_lock:
            for entry in inputs:
                obj = self.objects["deals"].get(int(entry["id"]))
                if obj is None or (obj.archived_at is not None) != archived:
                    continue
                item = self._render("deals", obj, list(body.get("properties") or []), [])
                if "dealstage" in history_of:  # newest first, as the API lists versions
                    item["propertiesWithHistory"] = {
                        "dealstage": [
                            {
                                "value": stage,
                                "timestamp": iso_ms(moment),
                                "sourceType": "CRM_UI",
                                "sourceId": "userId:9100000",
                            }
                            for stage, moment in reversed(self.stage_history.get(obj.id, []))
                        ]
                    }
                results.append(item)
        now = iso_ms(self.now)
        return MockResponse(200, {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now})

    @route("GET", r"/crm/v3/pipelines/deals/?")
    def pipelines(self, request: MockRequest) -> MockResponse:
        stages = [
            {
                "id": stage,
                "label": stage.replace("closed", "Closed ").title(),
                "displayOrder": k,
                "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
                "archived": False,
            }
            for k, (stage, probability, closed, _) in enumerate(STAGES)
        ]
        return MockResponse(
            200,
            {
                "results": [
                    {"id": "default", "label": "Sales Pipeline", "displayOrder": 0, "stages": stages, "archived": False}
                ]
            },
        )

    @route("GET", r"/marketing/v3/campaigns/?")
    def campaign_list(self, request: MockRequest) -> MockResponse:
        if not self.marketing_enabled:
            return self._error(
                403, "This app hasn't been granted all required scopes to make this call.", "MISSING_SCOPES"
            )
        limit = int(request.arg("limit", "50") or "50")
        if not 1 <= limit <= 100:
            return self._error(400, f"limit must be between 1 and 100 (got {limit})", "VALIDATION_ERROR")
        start = int(request.arg("after") or 0)
        body: dict[str, Any] = {"results": self.campaigns[start : start + limit]}
        if start + limit < len(self.campaigns):
            after = str(start + limit)
            body["paging"] = {"next": {"after": after, "link": f"{self.url}/marketing/v3/campaigns?after={after}"}}
        return MockResponse(200, body)

    @route("GET", r"/marketing/v3/campaigns/(?P<guid>[0-9a-f-]+)/budget/totals")
    def budget_totals(self, request: MockRequest) -> MockResponse:
        if not self.marketing_enabled:
            return self._error(
                403, "This app hasn't been granted all required scopes to make this call.", "MISSING_SCOPES"
            )
        guid = request.match.group("guid") if request.match else ""
        with self._data_lock:
            items = self.spend.get(guid)
        if items is None:
            return self._error(404, f"Campaign {guid} not found", "OBJECT_NOT_FOUND")
        spent = sum((Decimal(i["amount"]) for i in items), Decimal(0))
        text = json.dumps(
            {
                "budgetItems": [],
                "currencyCode": "USD",
                "spendItems": [{**i, "amount": "@" + i["amount"]} for i in items],
                "budgetTotal": "@0",
                "remainingBudget": "@" + str(-spent),
                "spendTotal": "@" + str(spent),
            }
        )
        # amounts are JSON numbers (written from their exact decimal text)
        return MockResponse(200, re.sub(r'"@(-?[0-9.]+)"', r"\1", text).encode(), {"Content-Type": "application/json"})

    @route("GET", r"/crm/v3/owners/?")
    def owners(self, request: MockRequest) -> MockResponse:
        limit = int(request.arg("limit", "100") or "100")
        if not 1 <= limit <= 500:
            return self._error(400, f"limit must be between 1 and 500 (got {limit})", "VALIDATION_ERROR")
        archived = (request.arg("archived", "false") or "false").lower() == "true"
        rows = [o for o in self.owner_list if o["archived"] == archived]
        start = int(request.arg("after") or 0)
        body: dict[str, Any] = {"results": rows[start : start + limit]}
        if start + limit < len(rows):
            body["paging"] = {
                "next": {"after": str(start + limit), "link": f"{self.url}/crm/v3/owners?after={start + limit}"}
            }
        return MockResponse(200, body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.mock_servers.hubspot",
        description="A local HubSpot CRM v3 API for trying syncs offline.",
    )
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument(
        "--deals", type=int, default=1000, help="deals to seed (owners, contacts and engagements follow)"
    )
    parser.add_argument("--contacts", type=int, default=None, help="contacts to seed (default: half the deals)")
    parser.add_argument(
        "--engagements",
        type=int,
        default=None,
        help="calls, meetings and tasks to seed, each (default: a quarter of the deals)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--burst-limit", type=int, default=190, help="calls per rolling 10 s per token (0: no limit)")
    parser.add_argument(
        "--rate-limit-every", type=int, default=0, help="answer every k-th call with a TEN_SECONDLY_ROLLING 429"
    )
    parser.add_argument(
        "--expire-token-after", type=int, default=0, help="OAuth access tokens expire after this many calls"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")

    def build(args: argparse.Namespace) -> HubSpotMock:
        server = HubSpotMock(
            deals=args.deals,
            contacts=args.contacts,
            engagements=args.engagements,
            seed=args.seed,
            burst_limit=args.burst_limit or None,
            port=args.port,
        )
        if args.rate_limit_every:
            server.faults.every(args.rate_limit_every, "rate_limit")
        if args.expire_token_after:
            server.tokens.expire_after(args.expire_token_after, every_token=True)
        return server

    run_mock_server(build, parser, argv)


if __name__ == "__main__":
    main()
