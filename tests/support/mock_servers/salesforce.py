"""A local Salesforce REST API (OAuth token endpoint, SOQL query/queryAll, getDeleted) on 127.0.0.1.

It reproduces what the real service does (docs/connectors/salesforce.md), so that a connector that works
here has met the real protocol:

- ``POST /services/oauth2/token`` (``refresh_token``, ``client_credentials`` or ``password``
  grant) answers ``{access_token, instance_url, id, token_type, issued_at, signature}``; a bad
  grant is HTTP 400 ``{"error":"invalid_grant","error_description":"expired access/refresh token"}``.
- ``GET /services/data/vXX.X/query?q=SOQL`` and ``/queryAll`` answer
  ``{totalSize, done, nextRecordsUrl, records[]}``; each record carries ``attributes{type,url}``.
  The result is a snapshot taken by the first call; further pages come from ``nextRecordsUrl``
  (``/services/data/vXX.X/query/01g…-2000``), called with no parameters. The page size is set
  by the ``Sforce-Query-Options: batchSize=N`` header: default 2000, at least 200, at most 2000.
  ``query`` leaves out soft-deleted rows, ``queryAll`` returns them with ``IsDeleted: true``.
  SOQL is parsed for real: ``SELECT … FROM … WHERE … AND/OR (…) ORDER BY … LIMIT``; an unknown
  field is 400 ``INVALID_FIELD``, a date-time compared with a quoted string is 400
  ``INVALID_FIELD`` as on the real service, a syntax error 400 ``MALFORMED_QUERY``.
- ``GET /services/data/vXX.X/sobjects/{Object}/deleted/?start=&end=`` answers
  ``{deletedRecords:[{id,deletedDate}],earliestDateAvailable,latestDateCovered}``, for at most
  the last 15 days (``INVALID_REPLICATION_DATE`` before) and ``id_limit`` ids
  (``EXCEEDED_ID_LIMIT``), hard-deleted records included.
- ``GET …/sobjects/{Object}/describe``, ``GET …/limits`` and ``GET /services/data/``.
- Every API answer carries ``Sforce-Limit-Info: api-usage=N/LIMIT``. Over the daily allocation
  the answer is **HTTP 403** ``[{"message":"TotalRequests Limit exceeded.","errorCode":
  "REQUEST_LIMIT_EXCEEDED"}]`` with no ``Retry-After``; an expired session is 401
  ``[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]``. Error
  bodies are always JSON arrays.
- Time stamps are written ``2024-04-01T10:00:00.000+0000``; ``CloseDate``/``ActivityDate`` are
  dates; ``Amount`` is a JSON number (decimals included); ``CurrencyIsoCode`` exists only when
  the org is multi-currency (``--single-currency`` removes it).

Seeded deterministically (``seed``): users, opportunities, tasks, events and leads, with their
stage history (``OpportunityHistory``: some won opportunities later moved to Closed Lost), revenue
and overlay splits (``OpportunitySplit``, ``OpportunitySplitType``; ``splits=False`` is an org
without Opportunity Splits, whose queries answer ``INVALID_TYPE`` and describe 404), Salesforce
Billing payments and refunds (``blng__Payment__c``, ``blng__Refund__c``, some ``Canceled``;
``billing=False`` removes the package), campaigns with their actual cost, and the stages
(``OpportunityStage``). Many records share a ``SystemModstamp`` (a mass update touches ``bulk_update`` opportunities
at the same instant), soft-deleted records in the recycle bin and one hard-deleted record per
object. The server's clock starts at ``now`` and runs with the wall clock.

Scriptable faults (``Faults``): every k-th API request answers 403 ``REQUEST_LIMIT_EXCEEDED``
(ConcurrentRequests), bursts of 503, sessions that expire after N requests, slow answers.

Run on its own::

    python -m tests.support.mock_servers.salesforce --port 8082 --opportunities 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN", "Faults", "SalesforceMock", "main"]

CLIENT_ID = "3MVG9mock.connected.app"
CLIENT_SECRET = "mock-consumer-secret-0d1e"
REFRESH_TOKEN = "5Aep861mock.refresh.token"
USERNAME = "integration@example.com"
PASSWORD = "mock-password"
DEFAULT_NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
MAX_BATCH, MIN_BATCH = 2000, 200
RECYCLE_BIN_DAYS = 15

# --- objects and their fields ---------------------------------------------------------

_PREFIX = {
    "User": "005",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "Lead": "00Q",
    "Account": "001",
    "OpportunitySplit": "04t",
    "OpportunitySplitType": "149",
    "OpportunityStage": "01J",
    "OpportunityHistory": "008",
    "Campaign": "701",
    "blng__Payment__c": "a0P",
    "blng__Refund__c": "a0R",
}
_COMMON = {"Id": "id", "CreatedDate": "datetime", "LastModifiedDate": "datetime", "SystemModstamp": "datetime"}
FIELDS: dict[str, dict[str, str]] = {
    "User": {
        **_COMMON,
        "Username": "string",
        "Name": "string",
        "FirstName": "string",
        "LastName": "string",
        "Email": "string",
        "IsActive": "boolean",
        "Title": "string",
        "Department": "string",
        "ManagerId": "reference",
        "UserType": "string",
        "TimeZoneSidKey": "string",
    },
    "Opportunity": {
        **_COMMON,
        "IsDeleted": "boolean",
        "Name": "string",
        "AccountId": "reference",
        "Amount": "currency",
        "StageName": "picklist",
        "Probability": "percent",
        "CloseDate": "date",
        "Type": "picklist",
        "LeadSource": "picklist",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "OwnerId": "reference",
        "CurrencyIsoCode": "picklist",
        "ForecastCategoryName": "picklist",
    },
    "Task": {
        **_COMMON,
        "IsDeleted": "boolean",
        "Subject": "string",
        "ActivityDate": "date",
        "Status": "picklist",
        "Priority": "picklist",
        "OwnerId": "reference",
        "WhatId": "reference",
        "WhoId": "reference",
        "TaskSubtype": "picklist",
        "CallDurationInSeconds": "int",
        "CallType": "picklist",
        "IsClosed": "boolean",
        "CompletedDateTime": "datetime",
    },
    "Event": {
        **_COMMON,
        "IsDeleted": "boolean",
        "Subject": "string",
        "ActivityDateTime": "datetime",
        "StartDateTime": "datetime",
        "EndDateTime": "datetime",
        "DurationInMinutes": "int",
        "OwnerId": "reference",
        "WhatId": "reference",
        "WhoId": "reference",
        "Type": "picklist",
        "EventSubtype": "picklist",
        "Location": "string",
    },
    "Lead": {
        **_COMMON,
        "IsDeleted": "boolean",
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Company": "string",
        "Status": "picklist",
        "LeadSource": "picklist",
        "OwnerId": "reference",
        "IsConverted": "boolean",
        "ConvertedDate": "date",
        "ConvertedOpportunityId": "reference",
        "Email": "string",
    },
}
FIELDS.update(
    {
        "OpportunitySplit": {
            **_COMMON,
            "IsDeleted": "boolean",
            "OpportunityId": "reference",
            "SplitOwnerId": "reference",
            "SplitPercentage": "percent",
            "SplitAmount": "currency",
            "SplitTypeId": "reference",
            "SplitNote": "string",
            "CurrencyIsoCode": "picklist",
        },
        "OpportunitySplitType": {
            **_COMMON,
            "IsDeleted": "boolean",
            "DeveloperName": "string",
            "MasterLabel": "string",
            "IsActive": "boolean",
            "IsTotalValidated": "boolean",
        },
        "OpportunityStage": {
            **_COMMON,
            "ApiName": "string",
            "MasterLabel": "string",
            "IsActive": "boolean",
            "IsClosed": "boolean",
            "IsWon": "boolean",
            "DefaultProbability": "percent",
        },
        "OpportunityHistory": {
            "Id": "id",
            "CreatedDate": "datetime",
            "SystemModstamp": "datetime",
            "IsDeleted": "boolean",
            "OpportunityId": "reference",
            "StageName": "picklist",
            "Amount": "currency",
            "PrevAmount": "currency",
            "CloseDate": "date",
            "Probability": "percent",
            "ForecastCategory": "picklist",
            "CurrencyIsoCode": "picklist",
        },
        "Campaign": {
            **_COMMON,
            "IsDeleted": "boolean",
            "Name": "string",
            "Type": "picklist",
            "Status": "picklist",
            "StartDate": "date",
            "EndDate": "date",
            "ActualCost": "currency",
            "BudgetedCost": "currency",
            "OwnerId": "reference",
            "IsActive": "boolean",
            "CurrencyIsoCode": "picklist",
        },
        "blng__Payment__c": {
            **_COMMON,
            "IsDeleted": "boolean",
            "Name": "string",
            "blng__Account__c": "reference",
            "blng__Invoice__c": "reference",
            "blng__Amount__c": "currency",
            "blng__PaymentDate__c": "date",
            "blng__Status__c": "picklist",
            "blng__PaymentType__c": "picklist",
            "CurrencyIsoCode": "picklist",
        },
        "blng__Refund__c": {
            **_COMMON,
            "IsDeleted": "boolean",
            "Name": "string",
            "blng__Account__c": "reference",
            "blng__Amount__c": "currency",
            "blng__RefundDate__c": "date",
            "blng__Status__c": "picklist",
            "blng__RefundType__c": "picklist",
            "blng__RefundDescription__c": "string",
            "CurrencyIsoCode": "picklist",
        },
    }
)
SPLIT_OBJECTS = ("OpportunitySplit", "OpportunitySplitType")
"""Present only in orgs with Opportunity Splits enabled (``splits=False`` removes them)."""
BILLING_OBJECTS = ("blng__Payment__c", "blng__Refund__c")
"""Present only in orgs with the Salesforce Billing package (``billing=False`` removes them)."""

STAGES = [  # (label, probability, closed, won) – the default sales process
    ("Prospecting", 10, False, False),
    ("Qualification", 10, False, False),
    ("Needs Analysis", 20, False, False),
    ("Value Proposition", 50, False, False),
    ("Id. Decision Makers", 60, False, False),
    ("Perception Analysis", 70, False, False),
    ("Proposal/Price Quote", 75, False, False),
    ("Negotiation/Review", 90, False, False),
    ("Closed Won", 100, True, True),
    ("Closed Lost", 0, True, False),
]
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order = number order


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character record id: 3-character key prefix, pod, counter, case-safe checksum."""
    digits = ""
    for _ in range(9):
        number, rest = divmod(number, 62)
        digits = _ALPHABET[rest] + digits
    base = f"{prefix}5g0{digits}"
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(base[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return base + suffix


def format_datetime(moment: datetime) -> str:
    """Salesforce's wire format: milliseconds and an offset without a colon."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


# --- faults ---------------------------------------------------------------------------


@dataclass
class Faults:
    """Scripted misbehaviour; 0 switches a fault off. Counts are of API requests (not token calls)."""

    rate_limit_every: int = 0
    """Every k-th API request answers 403 REQUEST_LIMIT_EXCEEDED (concurrent requests)."""
    error_burst_every: int = 0
    """Every k-th API request starts a burst of ``error_burst_length`` HTTP 503 answers."""
    error_burst_length: int = 2
    session_ttl: int = 0
    """An access token expires after this many API requests (then 401 INVALID_SESSION_ID)."""
    delay: float = 0.0  # float ok: seconds of sleep before each answer, not money
    daily_limit: int = 100_000
    """The org's 24-hour API allocation; past it every request is 403 TotalRequests."""


@dataclass
class _Token:
    value: str
    uses_left: int | None


@dataclass
class _Locator:
    rows: list[dict[str, Any]]
    batch: int
    version: str
    touched: float = field(default_factory=time.monotonic)


class SalesforceError(Exception):
    """An API error answered as ``[{message, errorCode}]`` with an HTTP status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# --- SOQL -----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})|(?P<number>-?\d+(?:\.\d+)?)|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<op>>=|<=|!=|<>|=|<|>)|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "order",
    "by",
    "asc",
    "desc",
    "limit",
    "in",
    "nulls",
    "first",
    "last",
    "null",
    "true",
    "false",
    "like",
}


@dataclass
class _Query:
    fields: list[str]
    sobject: str
    where: Any
    order: list[tuple[str, bool, bool]]  # field, ascending, nulls first
    limit: int | None


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text):
            if not text[pos:].strip():
                break
            match = _TOKEN.match(text, pos)
            if not match or match.end() == pos:
                raise SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: '{text[pos:].split()[0]}'")
            kind = match.lastgroup or ""
            value = match.group(kind)
            if kind == "word" and value.lower() in _KEYWORDS:
                kind, value = "kw", value.lower()
            self.tokens.append((kind, value))
            pos = match.end()
        self.i = 0

    def peek(self, *values: str) -> bool:
        return self.i < len(self.tokens) and self.tokens[self.i][1] in values

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        if self.i >= len(self.tokens):
            raise SalesforceError(400, "MALFORMED_QUERY", "unexpected end of query")
        k, v = self.tokens[self.i]
        if (kind and k != kind) or (value and v != value):
            raise SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: '{v}'")
        self.i += 1
        return v

    def query(self) -> _Query:
        self.take("kw", "select")
        fields = [self.take("word")]
        while self.peek(","):
            self.take()
            fields.append(self.take("word"))
        self.take("kw", "from")
        sobject = self.take("word")
        where = None
        if self.peek("where"):
            self.take()
            where = self.disjunction()
        order: list[tuple[str, bool, bool]] = []
        if self.peek("order"):
            self.take()
            self.take("kw", "by")
            while True:
                name = self.take("word")
                ascending = True
                if self.peek("asc", "desc"):
                    ascending = self.take() == "asc"
                nulls_first = ascending
                if self.peek("nulls"):
                    self.take()
                    nulls_first = self.take("kw") == "first"
                order.append((name, ascending, nulls_first))
                if not self.peek(","):
                    break
                self.take()
        limit = None
        if self.peek("limit"):
            self.take()
            limit = int(self.take("number"))
        if self.i != len(self.tokens):
            raise SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: '{self.tokens[self.i][1]}'")
        return _Query(fields, sobject, where, order, limit)

    def disjunction(self) -> Any:
        terms = [self.conjunction()]
        while self.peek("or"):
            self.take()
            terms.append(self.conjunction())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def conjunction(self) -> Any:
        terms = [self.factor()]
        while self.peek("and"):
            self.take()
            terms.append(self.factor())
        return ("and", terms) if len(terms) > 1 else terms[0]

    def factor(self) -> Any:
        if self.peek("not"):
            self.take()
            return ("not", self.factor())
        if self.peek("("):
            self.take()
            inner = self.disjunction()
            self.take("punct", ")")
            return inner
        name = self.take("word")
        if self.peek("in"):
            self.take()
            self.take("punct", "(")
            values = [self.literal()]
            while self.peek(","):
                self.take()
                values.append(self.literal())
            self.take("punct", ")")
            return ("in", name, values)
        op = self.take("op")
        return ("cmp", name, "!=" if op == "<>" else op, self.literal())

    def literal(self) -> tuple[str, Any]:
        kind, value = self.tokens[self.i] if self.i < len(self.tokens) else ("", "")
        self.i += 1
        if kind == "datetime":
            return "datetime", datetime.fromisoformat(value)
        if kind == "date":
            return "date", date.fromisoformat(value)
        if kind == "number":
            return "number", Decimal(value)
        if kind == "string":
            return "string", re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind == "kw" and value in ("true", "false"):
            return "boolean", value == "true"
        if kind == "kw" and value == "null":
            return "null", None
        raise SalesforceError(400, "MALFORMED_QUERY", f"unexpected token: '{value}'")


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, 0) if value is None else (1, value)


# --- the org --------------------------------------------------------------------------


class SalesforceMock:
    """The org's data, its clock, tokens and faults; ``start()`` serves it on 127.0.0.1."""

    def __init__(
        self,
        *,
        opportunities: int = 1000,
        users: int | None = None,
        tasks: int | None = None,
        events: int | None = None,
        leads: int | None = None,
        seed: int = 7,
        now: datetime = DEFAULT_NOW,
        multi_currency: bool = True,
        bulk_update: int | None = None,
        faults: Faults | None = None,
        id_limit: int = 600_000,
        splits: bool = True,
        billing: bool = True,
    ) -> None:
        self.faults = faults or Faults()
        self.objects = {
            name: fields
            for name, fields in FIELDS.items()
            if (splits or name not in SPLIT_OBJECTS) and (billing or name not in BILLING_OBJECTS)
        }
        self.multi_currency = multi_currency
        self.id_limit = id_limit
        self._now0, self._mono0 = now, time.monotonic()
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._counters: dict[str, int] = {}
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self.deleted_log: dict[str, list[tuple[str, datetime]]] = {name: [] for name in FIELDS}
        self.split_types: dict[str, str] = {}  # DeveloperName -> Id
        self._tokens: dict[str, _Token] = {}
        self._locators: dict[str, _Locator] = {}
        self.api_requests = 0
        self.tokens_issued = 0
        self.requests_log: list[str] = []
        self._burst_left = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._seed(opportunities, users, tasks, events, leads, bulk_update)

    # -- clock and ids --

    def now(self) -> datetime:
        """The server's clock: ``now`` at start-up plus the wall-clock time elapsed since."""
        elapsed = timedelta(seconds=time.monotonic() - self._mono0)
        return (self._now0 + elapsed).replace(microsecond=(self._now0 + elapsed).microsecond // 1000 * 1000)

    def _new_id(self, sobject: str) -> str:
        self._counters[sobject] = self._counters.get(sobject, 0) + 1
        return salesforce_id(_PREFIX[sobject], 1_000_000 + self._counters[sobject])

    # -- seeding --

    def _moment(self, days_back_max: int, days_back_min: int = 1) -> datetime:
        seconds = self._rng.randint(days_back_min * 86400, days_back_max * 86400)
        return (self._now0 - timedelta(seconds=seconds)).replace(microsecond=0)

    def _stamp(self, record: dict[str, Any], created: datetime, modified: datetime | None = None) -> None:
        modified = max(modified or created, created)
        record.update(CreatedDate=created, LastModifiedDate=modified, SystemModstamp=modified)

    def _seed(
        self,
        n_opps: int,
        n_users: int | None,
        n_tasks: int | None,
        n_events: int | None,
        n_leads: int | None,
        bulk_update: int | None,
    ) -> None:
        rng = self._rng
        first = [
            "Ava",
            "Ben",
            "Chloe",
            "Dmitri",
            "Elena",
            "Farid",
            "Grace",
            "Hiro",
            "Ines",
            "Jonas",
            "Keira",
            "Liam",
            "Mei",
            "Noah",
            "Olga",
            "Priya",
            "Quentin",
            "Rosa",
            "Sven",
            "Tara",
            "Umar",
            "Vera",
        ]
        last = [
            "Adams",
            "Becker",
            "Chen",
            "Dubois",
            "Evans",
            "Fischer",
            "Garcia",
            "Hughes",
            "Ito",
            "Jansen",
            "Kowalski",
            "Lopez",
            "Moreau",
            "Nakamura",
            "Okafor",
            "Patel",
            "Rossi",
            "Schmidt",
            "Tanaka",
        ]
        n_users = n_users if n_users is not None else max(8, n_opps // 40)
        users = []
        manager_id = None
        for i in range(n_users):
            uid = self._new_id("User")
            fn, ln = first[i % len(first)], last[(i * 7) % len(last)]
            user = {
                "Id": uid,
                "Username": f"{fn.lower()}.{ln.lower()}{i}@example.com",
                "FirstName": fn,
                "LastName": ln,
                "Name": f"{fn} {ln}",
                "Email": f"{fn.lower()}.{ln.lower()}{i}@example.com",
                "IsActive": i % 17 != 16,
                "Title": "Sales Manager" if i == 0 else "Account Executive",
                "Department": "Sales",
                "ManagerId": manager_id if i else None,
                "UserType": "Standard",
                "TimeZoneSidKey": rng.choice(["America/Los_Angeles", "Europe/Paris", "Asia/Tokyo"]),
            }
            if i == 0:
                manager_id = uid
            self._stamp(user, self._moment(900, 400), self._moment(380, 30))
            users.append(user)
            self.records["User"][uid] = user
        owners = [u["Id"] for u in users]
        accounts = [self._new_id("Account") for _ in range(max(5, n_opps // 5))]
        companies = [
            "Acme",
            "Globex",
            "Initech",
            "Umbrella",
            "Stark",
            "Wayne",
            "Tyrell",
            "Cyberdyne",
            "Hooli",
            "Vandelay",
            "Soylent",
            "Wonka",
            "Gringotts",
            "Monarch",
            "Oscorp",
        ]
        opps = []
        for i in range(n_opps):
            oid = self._new_id("Opportunity")
            label, probability, closed, won = STAGES[
                rng.choices(range(len(STAGES)), weights=[6, 5, 5, 5, 4, 4, 4, 4, 9, 6])[0]
            ]
            created = self._moment(360, 2)
            close_day = (created + timedelta(days=rng.randint(5, 120))).date()
            amount: Decimal | None = Decimal(rng.randint(10, 5000) * 100) + Decimal(rng.choice([0, 0, 0, 50, 99])) / 100
            if i % 41 == 40:
                amount = None  # Amount is optional in Salesforce
            opp = {
                "Id": oid,
                "IsDeleted": False,
                "Name": (
                    f"{companies[i % len(companies)]} – {rng.choice(['Renewal', 'Expansion', 'New Logo', 'Pilot'])} {i}"
                ),
                "AccountId": accounts[i % len(accounts)],
                "Amount": amount,
                "StageName": label,
                "Probability": Decimal(probability),
                "CloseDate": close_day,
                "Type": rng.choice(["New Business", "Existing Business"]),
                "LeadSource": rng.choice(["Web", "Phone Inquiry", "Partner Referral", "Trade Show", None]),
                "IsClosed": closed,
                "IsWon": won,
                "OwnerId": rng.choice(owners),
                "CurrencyIsoCode": "EUR" if i % 9 == 4 else "USD",
                "ForecastCategoryName": "Closed" if won else ("Omitted" if closed else "Pipeline"),
            }
            room = int((self._now0 - timedelta(hours=1) - created).total_seconds())
            self._stamp(opp, created, created + timedelta(seconds=rng.randint(0, max(0, min(room, 60 * 86400)))))
            if i % 5 == 1 and opps:  # saved in the same second as the previous one
                self._stamp(opp, min(created, opps[-1]["SystemModstamp"]), opps[-1]["SystemModstamp"])
            opps.append(opp)
            self.records["Opportunity"][oid] = opp
        bulk = bulk_update if bulk_update is not None else min(len(opps) // 4, 300)
        if bulk:  # a data-loader run: one instant for all of them
            instant = (self._now0 - timedelta(days=20)).replace(microsecond=0)
            for opp in rng.sample(opps, bulk):
                if opp["CreatedDate"] <= instant:
                    opp["LastModifiedDate"] = opp["SystemModstamp"] = instant
        subjects = ["Call", "Follow-up email", "Send quote", "Discovery call", "Check contract", "Demo prep"]
        for _ in range(n_tasks if n_tasks is not None else n_opps):
            tid = self._new_id("Task")
            subtype = rng.choice(["Call", "Call", "Email", "Task"])
            opp = rng.choice(opps) if opps else None
            when = self._moment(300, 1)
            task = {
                "Id": tid,
                "IsDeleted": False,
                "Subject": rng.choice(subjects),
                "ActivityDate": when.date(),
                "Status": rng.choice(["Completed", "Completed", "Not Started", "In Progress"]),
                "Priority": rng.choice(["Normal", "High"]),
                "OwnerId": opp["OwnerId"] if opp else rng.choice(owners),
                "WhatId": opp["Id"] if opp else None,
                "WhoId": None,
                "TaskSubtype": subtype,
                "CallDurationInSeconds": rng.randint(30, 1800) if subtype == "Call" else None,
                "CallType": "Outbound" if subtype == "Call" else None,
                "IsClosed": True,
                "CompletedDateTime": when,
            }
            self._stamp(task, when, when + timedelta(minutes=rng.randint(0, 600)))
            self.records["Task"][tid] = task
        for _ in range(n_events if n_events is not None else n_opps // 2):
            eid = self._new_id("Event")
            opp = rng.choice(opps) if opps else None
            start = self._moment(300, 1).replace(minute=0, second=0)
            minutes = rng.choice([30, 45, 60, 90])
            event = {
                "Id": eid,
                "IsDeleted": False,
                "Subject": rng.choice(["Meeting", "On-site visit", "Quarterly review"]),
                "ActivityDateTime": start,
                "StartDateTime": start,
                "EndDateTime": start + timedelta(minutes=minutes),
                "DurationInMinutes": minutes,
                "OwnerId": opp["OwnerId"] if opp else rng.choice(owners),
                "WhatId": opp["Id"] if opp else None,
                "WhoId": None,
                "Type": rng.choice(["Meeting", "Visit", "Call"]),
                "EventSubtype": "Event",
                "Location": rng.choice(["Customer site", "Zoom", None]),
            }
            self._stamp(event, start - timedelta(days=3), start + timedelta(hours=2))
            self.records["Event"][eid] = event
        queue_id = salesforce_id("00G", 1_000_001)  # a lead queue: OwnerId that is not a user
        for i in range(n_leads if n_leads is not None else n_opps // 2):
            lid = self._new_id("Lead")
            fn, ln = rng.choice(first), rng.choice(last)
            created = self._moment(360, 1)
            converted = opps and i % 6 == 0
            lead = {
                "Id": lid,
                "IsDeleted": False,
                "FirstName": fn,
                "LastName": ln,
                "Name": f"{fn} {ln}",
                "Company": f"{rng.choice(companies)} {rng.choice(['GmbH', 'Inc.', 'Ltd', 'SAS'])}",
                "Status": "Closed - Converted"
                if converted
                else rng.choice(["Open - Not Contacted", "Working - Contacted", "Closed - Not Converted"]),
                "LeadSource": rng.choice(["Web", "Phone Inquiry", "Partner Referral", "Trade Show", "Advertisement"]),
                "OwnerId": queue_id if i % 13 == 5 else rng.choice(owners),
                "IsConverted": bool(converted),
                "ConvertedDate": (created + timedelta(days=9)).date() if converted else None,
                "ConvertedOpportunityId": rng.choice(opps)["Id"] if converted else None,
                "Email": f"{fn.lower()}.{ln.lower()}@{rng.choice(companies).lower()}.example",
            }
            self._stamp(
                lead, created, min(created + timedelta(days=rng.randint(0, 20)), self._now0 - timedelta(hours=2))
            )
            self.records["Lead"][lid] = lead
        # the recycle bin: soft deletes of the last days, and one hard delete per object
        for sobject in ("Opportunity", "Task", "Event", "Lead"):
            rows = list(self.records[sobject].values())
            for k, row in enumerate(rows):
                if k % 50 == 17:
                    when = (self._now0 - timedelta(days=1 + k % 10, seconds=k)).replace(microsecond=0)
                    row.update(IsDeleted=True, LastModifiedDate=when, SystemModstamp=when)
                    self.deleted_log[sobject].append((row["Id"], when))
            if len(rows) > 40:
                gone = rows[23]
                if not gone["IsDeleted"]:
                    when = (self._now0 - timedelta(days=2)).replace(microsecond=0)
                    del self.records[sobject][gone["Id"]]
                    self.deleted_log[sobject].append((gone["Id"], when))
        self._seed_facts(owners, companies)

    def _seed_facts(self, owners: list[str], companies: list[str]) -> None:
        """Splits, stage history (with cancellations), Billing payments and refunds, campaigns."""
        rng = self._rng
        now = self._now0
        for i, (label, probability, closed, won) in enumerate(STAGES):
            sid = self._new_id("OpportunityStage")
            stage = {"Id": sid, "ApiName": label, "MasterLabel": label, "IsActive": True, "IsClosed": closed}
            stage.update(IsWon=won, DefaultProbability=Decimal(probability))
            self._stamp(stage, now - timedelta(days=1000 + i))
            self.records["OpportunityStage"][sid] = stage
        for name, label, validated in (("Revenue", "Revenue", True), ("Overlay", "Overlay", False)):
            tid = self._new_id("OpportunitySplitType")
            split_type = {"Id": tid, "IsDeleted": False, "DeveloperName": name, "MasterLabel": label}
            split_type.update(IsActive=True, IsTotalValidated=validated)
            self._stamp(split_type, now - timedelta(days=900))
            self.records["OpportunitySplitType"][tid] = split_type
            self.split_types[name] = tid
        opps = list(self.records["Opportunity"].values())
        for i, opp in enumerate(opps):
            self._seed_history(opp, cancelled=bool(opp["IsClosed"] and not opp["IsWon"] and i % 4 == 1))
            if i % 3 == 0:
                self._seed_splits(opp, owners, overlay=i % 6 == 0)
            if opp["IsWon"] and opp["Amount"]:
                self._seed_payments(opp, i)
        for i in range(max(4, len(opps) // 40)):
            cid = self._new_id("Campaign")
            start = (now - timedelta(days=rng.randint(5, 300))).date()
            campaign = {
                "Id": cid,
                "IsDeleted": False,
                "Name": f"{companies[i % len(companies)]} {rng.choice(['Webinar', 'Launch', 'Roadshow'])} {i}",
                "Type": rng.choice(["Webinar", "Email", "Advertisement", "Conference", None]),
                "Status": "Completed",
                "StartDate": start,
                "EndDate": start + timedelta(days=rng.randint(1, 30)),
                "ActualCost": None if i % 7 == 3 else Decimal(rng.randint(5, 400) * 100) + Decimal("0.25"),
                "BudgetedCost": Decimal(50_000),
                "OwnerId": rng.choice(owners),
                "IsActive": True,
                "CurrencyIsoCode": "USD",
            }
            self._stamp(campaign, datetime.combine(start, datetime.min.time(), UTC) - timedelta(days=10))
            self.records["Campaign"][cid] = campaign
        for sobject in ("OpportunitySplit", "blng__Payment__c", "blng__Refund__c", "Campaign"):
            rows = list(self.records[sobject].values())
            for k, row in enumerate(rows):
                if k % 25 == 11 and not row.get("IsDeleted"):
                    when = (now - timedelta(days=1 + k % 9, seconds=k)).replace(microsecond=0)
                    row.update(IsDeleted=True, LastModifiedDate=when, SystemModstamp=when)
                    self.deleted_log[sobject].append((row["Id"], when))
            if len(rows) > 30 and not rows[13].get("IsDeleted"):
                del self.records[sobject][rows[13]["Id"]]
                self.deleted_log[sobject].append((rows[13]["Id"], (now - timedelta(days=3)).replace(microsecond=0)))
        for opp in opps:  # an opportunity's splits and history follow it into the recycle bin or out of the org
            self._cascade(opp["Id"], opp.get("IsDeleted", False), opp["Id"] not in self.records["Opportunity"])

    def _seed_history(self, opp: dict[str, Any], *, cancelled: bool) -> None:
        """Stage history: the first stage at creation, then the current one; a cancelled deal was won first."""
        created, modified = opp["CreatedDate"], opp["SystemModstamp"]
        steps: list[tuple[str, datetime]] = [(STAGES[0][0], created)]
        if cancelled:
            steps.append(("Closed Won", created + (modified - created) / 2))
        if opp["StageName"] != STAGES[0][0]:
            steps.append((opp["StageName"], modified))
        for stage, moment in steps:
            self._history(opp, stage, moment)

    def _history(self, opp: dict[str, Any], stage: str, moment: datetime) -> None:
        hid = self._new_id("OpportunityHistory")
        row = {
            "Id": hid,
            "CreatedDate": moment,
            "SystemModstamp": moment,
            "IsDeleted": False,
            "OpportunityId": opp["Id"],
            "StageName": stage,
            "Amount": opp["Amount"],
            "PrevAmount": opp["Amount"],
            "CloseDate": opp["CloseDate"],
            "Probability": next(Decimal(s[1]) for s in STAGES if s[0] == stage),
            "ForecastCategory": "Closed"
            if stage == "Closed Won"
            else "Omitted"
            if stage == "Closed Lost"
            else "Pipeline",
            "CurrencyIsoCode": opp["CurrencyIsoCode"],
        }
        self.records["OpportunityHistory"][hid] = row

    def _seed_splits(self, opp: dict[str, Any], owners: list[str], *, overlay: bool) -> None:
        rng = self._rng
        others = [o for o in owners if o != opp["OwnerId"]]
        shares = [(opp["OwnerId"], Decimal(100))]
        if others and rng.random() < 0.5:
            share = Decimal(rng.choice([50, 60, 70, 75]))
            shares = [(opp["OwnerId"], share), (rng.choice(others), Decimal(100) - share)]
        parts = [(owner, share, "Revenue") for owner, share in shares]
        if overlay and others:
            parts.append((rng.choice(others), Decimal(100), "Overlay"))
        for owner, share, kind in parts:
            sid = self._new_id("OpportunitySplit")
            split = {
                "Id": sid,
                "IsDeleted": False,
                "OpportunityId": opp["Id"],
                "SplitOwnerId": owner,
                "SplitPercentage": share,
                "SplitAmount": (opp["Amount"] or Decimal(0)) * share / 100,
                "SplitTypeId": self.split_types[kind],
                "SplitNote": None,
                "CurrencyIsoCode": opp["CurrencyIsoCode"],
            }
            self._stamp(split, opp["CreatedDate"], opp["SystemModstamp"])
            self.records["OpportunitySplit"][sid] = split

    def _seed_payments(self, opp: dict[str, Any], i: int) -> None:
        """Billing payments of a won deal's account (one or two instalments), some refunded or cancelled."""
        rng = self._rng
        amount: Decimal = opp["Amount"]
        parts = (
            [amount]
            if i % 2
            else [(amount / 2).quantize(Decimal("0.01")), amount - (amount / 2).quantize(Decimal("0.01"))]
        )
        for k, part in enumerate(parts):
            pid = self._new_id("blng__Payment__c")
            day = opp["CloseDate"] + timedelta(days=10 + 30 * k)
            payment = {
                "Id": pid,
                "IsDeleted": False,
                "Name": f"P-{pid[-6:]}",
                "blng__Account__c": opp["AccountId"],
                "blng__Invoice__c": None,
                "blng__Amount__c": part,
                "blng__PaymentDate__c": day,
                "blng__Status__c": "Canceled" if i % 11 == 5 else "Posted",
                "blng__PaymentType__c": rng.choice(["Credit Card", "ACH", "Check"]),
                "CurrencyIsoCode": opp["CurrencyIsoCode"],
            }
            moment = min(
                datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9), self._now0 - timedelta(hours=1)
            )
            self._stamp(payment, moment)
            self.records["blng__Payment__c"][pid] = payment
            if i % 7 == 2 and payment["blng__Status__c"] == "Posted":
                rid = self._new_id("blng__Refund__c")
                refund = {
                    "Id": rid,
                    "IsDeleted": False,
                    "Name": f"R-{rid[-6:]}",
                    "blng__Account__c": opp["AccountId"],
                    "blng__Amount__c": (part / 4).quantize(Decimal("0.01")),
                    "blng__RefundDate__c": day + timedelta(days=20),
                    "blng__Status__c": "Posted",
                    "blng__RefundType__c": "Refund",
                    "blng__RefundDescription__c": "Returned licences",
                    "CurrencyIsoCode": opp["CurrencyIsoCode"],
                }
                self._stamp(refund, min(moment + timedelta(days=20), self._now0 - timedelta(minutes=30)))
                self.records["blng__Refund__c"][rid] = refund

    def _cascade(self, opp_id: str, deleted: bool, purged: bool) -> None:
        """An opportunity's splits and stage history are deleted (or purged) with it."""
        when = self.now() if self._server is not None else self._now0
        for sobject in ("OpportunitySplit", "OpportunityHistory"):
            for row in [r for r in self.records[sobject].values() if r["OpportunityId"] == opp_id]:
                if purged:
                    del self.records[sobject][row["Id"]]
                    self.deleted_log[sobject].append((row["Id"], when))
                elif deleted and not row["IsDeleted"]:
                    stamp = row["SystemModstamp"] if self._server is None else when
                    row.update(IsDeleted=True, SystemModstamp=stamp)
                    if "LastModifiedDate" in row:
                        row["LastModifiedDate"] = stamp

    # -- changes made while the server runs (what users do in the CRM) --

    def update(self, sobject: str, record_id: str, **values: Any) -> None:
        """Edit a record: the given fields, then ``LastModifiedDate``/``SystemModstamp`` = now."""
        with self._lock:
            row = self.records[sobject][record_id]
            row.update(values)
            if sobject == "Opportunity" and "StageName" in values:
                stage = next(s for s in STAGES if s[0] == values["StageName"])
                row.update(Probability=Decimal(stage[1]), IsClosed=stage[2], IsWon=stage[3])
            row["LastModifiedDate"] = row["SystemModstamp"] = self.now()
            if sobject == "Opportunity" and ("StageName" in values or "Amount" in values):
                self._history(row, row["StageName"], row["SystemModstamp"])

    def delete(self, sobject: str, record_id: str) -> None:
        """Move a record to the recycle bin (``IsDeleted``; seen by queryAll and getDeleted)."""
        with self._lock:
            row = self.records[sobject][record_id]
            when = self.now()
            row.update(IsDeleted=True, LastModifiedDate=when, SystemModstamp=when)
            self.deleted_log[sobject].append((record_id, when))
            if sobject == "Opportunity":
                self._cascade(record_id, True, False)

    def purge(self, sobject: str, record_id: str) -> None:
        """Hard-delete a record: only the getDeleted resource still knows it."""
        with self._lock:
            row = self.records[sobject].pop(record_id)
            if not row.get("IsDeleted"):
                self.deleted_log[sobject].append((record_id, self.now()))
            if sobject == "Opportunity":
                self._cascade(record_id, False, True)

    def advance(self, seconds: int) -> None:
        """Move the server's clock forward (time passes between two syncs)."""
        with self._lock:
            self._now0 += timedelta(seconds=seconds)

    def ids(self, sobject: str, *, deleted: bool = False) -> list[str]:
        """Ids of the live (or, with ``deleted``, soft-deleted) records of an object, in id order."""
        with self._lock:
            return sorted(i for i, r in self.records[sobject].items() if bool(r.get("IsDeleted")) == deleted)

    def expire_sessions(self) -> None:
        """Invalidate every access token at once (an admin revoked the sessions)."""
        with self._lock:
            self._tokens.clear()

    # -- serving --

    @property
    def url(self) -> str:
        """The instance URL (``http://127.0.0.1:PORT``)."""
        if self._server is None:
            raise RuntimeError("the mock server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (``port`` 0 picks a free one) in a background thread; returns the URL."""
        mock = self

        class Handler(_Handler):
            org = mock

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="salesforce-mock", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def running(self, port: int = 0) -> Iterator[SalesforceMock]:
        self.start(port)
        try:
            yield self
        finally:
            self.stop()

    # -- the API --

    def issue_token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = form.get("grant_type", "")
        if grant not in ("refresh_token", "client_credentials", "password"):
            return 400, {"error": "unsupported_grant_type", "error_description": "grant type not supported"}
        if form.get("client_id") != CLIENT_ID:
            return 400, {"error": "invalid_client_id", "error_description": "client identifier invalid"}
        if form.get("client_secret") != CLIENT_SECRET:
            return 400, {"error": "invalid_client", "error_description": "invalid client credentials"}
        if grant == "refresh_token" and form.get("refresh_token") != REFRESH_TOKEN:
            return 400, {"error": "invalid_grant", "error_description": "expired access/refresh token"}
        if grant == "password" and (form.get("username"), form.get("password")) != (USERNAME, PASSWORD):
            return 400, {"error": "invalid_grant", "error_description": "authentication failure"}
        with self._lock:
            self.tokens_issued += 1
            value = "00Dmock!" + hashlib.sha256(f"{self.tokens_issued}:{time.monotonic()}".encode()).hexdigest()[:60]
            self._tokens[value] = _Token(value, self.faults.session_ttl or None)
        issued = str(int(self.now().timestamp() * 1000))
        return 200, {
            "access_token": value,
            "instance_url": self.url,
            "token_type": "Bearer",
            "issued_at": issued,
            "id": f"{self.url}/id/00D5g000004mockAAA/0055g000001mockAAA",
            "scope": "api refresh_token",
            "signature": hashlib.sha256(issued.encode()).hexdigest()[:44],
        }

    def authorize(self, header: str | None) -> None:
        token = (header or "").removeprefix("Bearer ").strip()
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
            if entry.uses_left is not None:
                if entry.uses_left <= 0:
                    del self._tokens[token]
                    raise SalesforceError(401, "INVALID_SESSION_ID", "Session expired or invalid")
                entry.uses_left -= 1

    def check_outage(self, n: int) -> None:
        """Scripted bursts of HTTP 503, counted per API request."""
        with self._lock:
            f = self.faults
            if self._burst_left:
                self._burst_left -= 1
                raise SalesforceError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, try again later")
            if f.error_burst_every and n % f.error_burst_every == 0:
                self._burst_left = max(0, f.error_burst_length - 1)
                raise SalesforceError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable, try again later")

    def check_limits(self, n: int) -> None:
        """The daily allocation and scripted 403 REQUEST_LIMIT_EXCEEDED, counted per API request."""
        with self._lock:
            f = self.faults
            if n > f.daily_limit:
                raise SalesforceError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            if f.rate_limit_every and n % f.rate_limit_every == 0:
                raise SalesforceError(
                    403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
                )

    def query(self, soql: str, *, include_deleted: bool, batch: int, version: str) -> dict[str, Any]:
        q = _Parser(soql).query()
        sobject = next((name for name in self.objects if name.lower() == q.sobject.lower()), None)
        if sobject is None:
            raise SalesforceError(400, "INVALID_TYPE", f"sObject type '{q.sobject}' is not supported.")
        fields = self._fields(sobject)
        selected = [self._field(fields, sobject, name) for name in q.fields]
        if q.where is not None:
            self._check_types(q.where, fields, sobject)
        with self._lock:
            rows = [dict(r) for r in self.records[sobject].values() if include_deleted or not r.get("IsDeleted")]
        rows = [r for r in rows if q.where is None or self._matches(q.where, r, fields, sobject)]
        for name, ascending, nulls_first in reversed(q.order):
            canonical = self._field(fields, sobject, name)
            present = [r for r in rows if r.get(canonical) is not None]
            missing = [r for r in rows if r.get(canonical) is None]
            present.sort(key=lambda r: r[canonical], reverse=not ascending)
            rows = missing + present if nulls_first else present + missing
        if q.limit is not None:
            rows = rows[: q.limit]
        out = [self._serialise(sobject, r, selected, version) for r in rows]
        return self._page(out, 0, batch, version)

    def _page(
        self, rows: list[dict[str, Any]], start: int, batch: int, version: str, locator: str | None = None
    ) -> dict[str, Any]:
        end = min(start + batch, len(rows))
        body: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows), "records": rows[start:end]}
        if end < len(rows):
            with self._lock:
                if locator is None:
                    locator = (
                        "01g" + hashlib.sha1(f"{time.monotonic()}:{len(self._locators)}".encode()).hexdigest()[:15]
                    )
                    self._locators[locator] = _Locator(rows, batch, version)
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{end}"
        return body

    def query_more(self, locator: str, position: int, version: str) -> dict[str, Any]:
        with self._lock:
            entry = self._locators.get(locator)
            if entry is None or time.monotonic() - entry.touched > 15 * 60:
                raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            entry.touched = time.monotonic()
        return self._page(entry.rows, position, entry.batch, version, locator)

    def deleted(self, sobject: str, start_text: str | None, end_text: str | None) -> dict[str, Any]:
        if sobject not in self.objects or "IsDeleted" not in self.objects[sobject]:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        try:
            start = datetime.fromisoformat(unquote(start_text or ""))
            end = datetime.fromisoformat(unquote(end_text or ""))
            if start.tzinfo is None or end.tzinfo is None:
                raise ValueError
        except ValueError:
            raise SalesforceError(
                400, "INVALID_REPLICATION_DATE", "start and end must be date-times with an offset"
            ) from None
        now = self.now()
        earliest = (now - timedelta(days=RECYCLE_BIN_DAYS)).replace(second=0, microsecond=0)
        if start < earliest:
            raise SalesforceError(400, "INVALID_REPLICATION_DATE", "startDate before org replication enabled date")
        if end <= start:
            raise SalesforceError(400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate")
        covered = min(end, now).replace(second=0, microsecond=0)
        with self._lock:
            hits = [(i, d) for i, d in self.deleted_log[sobject] if start <= d < covered]
        if len(hits) > self.id_limit:
            raise SalesforceError(400, "EXCEEDED_ID_LIMIT", "record limit reached. narrow the time window")
        return {
            "deletedRecords": [
                {"id": i, "deletedDate": format_datetime(d)} for i, d in sorted(hits, key=lambda h: h[1])
            ],
            "earliestDateAvailable": format_datetime(earliest),
            "latestDateCovered": format_datetime(covered),
        }

    def describe(self, sobject: str) -> dict[str, Any]:
        if sobject not in self.objects:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        fields = self._fields(sobject)
        return {
            "name": sobject,
            "label": sobject,
            "queryable": True,
            "replicateable": True,
            "keyPrefix": _PREFIX[sobject],
            "fields": [{"name": n, "type": t, "nillable": n != "Id"} for n, t in fields.items()],
        }

    def limits(self) -> dict[str, Any]:
        limit = self.faults.daily_limit
        return {"DailyApiRequests": {"Max": limit, "Remaining": max(0, limit - self.api_requests)}}

    # -- helpers --

    def _fields(self, sobject: str) -> dict[str, str]:
        fields = dict(self.objects[sobject])
        if not self.multi_currency:
            fields.pop("CurrencyIsoCode", None)
        return fields

    @staticmethod
    def _field(fields: dict[str, str], sobject: str, name: str) -> str:
        canonical = next((f for f in fields if f.lower() == name.lower()), None)
        if canonical is None:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{sobject}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate names.",
            )
        return canonical

    def _check_types(self, node: Any, fields: dict[str, str], sobject: str) -> None:
        if node[0] in ("and", "or"):
            for term in node[1]:
                self._check_types(term, fields, sobject)
            return
        if node[0] == "not":
            self._check_types(node[1], fields, sobject)
            return
        name = self._field(fields, sobject, node[1])
        kind = fields[name]
        literals = node[2] if node[0] == "in" else [node[3]]
        for lit_kind, _ in literals:
            if lit_kind == "null":
                continue
            expected = {
                "datetime": "datetime",
                "date": "date",
                "boolean": "boolean",
                "currency": "number",
                "percent": "number",
                "int": "number",
            }.get(kind, "string")
            if lit_kind != expected:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{name}' must be of "
                    f"type {'dateTime' if kind == 'datetime' else kind} and should not be enclosed in quotes"
                    if lit_kind == "string"
                    else f"value of filter criterion for field '{name}' must be of type {kind}",
                )

    def _matches(self, node: Any, row: dict[str, Any], fields: dict[str, str], sobject: str) -> bool:
        op = node[0]
        if op == "and":
            return all(self._matches(t, row, fields, sobject) for t in node[1])
        if op == "or":
            return any(self._matches(t, row, fields, sobject) for t in node[1])
        if op == "not":
            return not self._matches(node[1], row, fields, sobject)
        value = row.get(self._field(fields, sobject, node[1]))
        if op == "in":
            return value in [v for _, v in node[2]]
        _, _, comparison, (_, literal) = node
        if comparison == "=":
            return value == literal
        if comparison == "!=":
            return value != literal
        if value is None or literal is None:
            return False
        return {"<": value < literal, "<=": value <= literal, ">": value > literal, ">=": value >= literal}[comparison]

    def _serialise(self, sobject: str, row: dict[str, Any], selected: list[str], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{row['Id']}"}
        }
        for name in selected:
            value = row.get(name)
            out[name] = (
                format_datetime(value)
                if isinstance(value, datetime)
                else (value.isoformat() if isinstance(value, date) else value)
            )
        return out


# --- HTTP -----------------------------------------------------------------------------


def format_datetime_http(moment: datetime) -> str:
    """An HTTP ``Date`` header value (RFC 7231) for the org's clock."""
    from email.utils import format_datetime as rfc

    return rfc(moment.astimezone(UTC), usegmt=True)


def dumps(value: Any) -> str:
    """JSON with ``Decimal`` written as a JSON number, exactly as given (no binary float on the way)."""
    if isinstance(value, Decimal):  # Salesforce writes 23800.0 and 1234.5
        text = format(value.normalize(), "f")
        return text if "." in text else text + ".0"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_VERSION = r"v\d{2,3}\.\d"


class _Handler(BaseHTTPRequestHandler):
    org: SalesforceMock
    protocol_version = "HTTP/1.1"
    server_version = "SFDC"

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def date_time_string(
        self, timestamp: float | None = None
    ) -> str:  # float ok: the Date header follows the org's clock
        return format_datetime_http(self.org.now())

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        path = urlsplit(self.path).path
        if path.rstrip("/") != "/services/oauth2/token":
            self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
            return
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        status, body = self.org.issue_token(form)
        self._send(status, body)

    def do_GET(self) -> None:
        org = self.org
        parts = urlsplit(self.path)
        path, params = parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}
        with org._lock:
            org.api_requests += 1
            org.requests_log.append(f"GET {self.path}")
            usage = org.api_requests
        headers = {"Sforce-Limit-Info": f"api-usage={min(usage, org.faults.daily_limit)}/{org.faults.daily_limit}"}
        if org.faults.delay:
            time.sleep(org.faults.delay)
        try:
            org.check_outage(usage)
            org.authorize(self.headers.get("Authorization"))
            org.check_limits(usage)
            self._send(200, self._route(path, params), headers)
        except SalesforceError as exc:
            self._send(exc.status, [{"message": exc.message, "errorCode": exc.code}], headers)

    def _route(self, path: str, params: dict[str, str]) -> Any:
        org = self.org
        if path.rstrip("/") == "/services/data":
            return [
                {"label": "Summer '24", "url": "/services/data/v61.0", "version": "61.0"},
                {"label": "Spring '24", "url": "/services/data/v60.0", "version": "60.0"},
            ]
        match = re.fullmatch(rf"/services/data/({_VERSION})/(query|queryAll)/?", path)
        if match:
            if "q" not in params:
                raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
            option = re.search(r"batchSize\s*=\s*(\d+)", self.headers.get("Sforce-Query-Options") or "")
            batch = max(MIN_BATCH, min(MAX_BATCH, int(option.group(1)))) if option else MAX_BATCH
            return org.query(
                params["q"], include_deleted=match.group(2) == "queryAll", batch=batch, version=match.group(1)
            )
        match = re.fullmatch(rf"/services/data/({_VERSION})/(?:query|queryAll)/(01g\w+)-(\d+)", path)
        if match:
            return org.query_more(match.group(2), int(match.group(3)), match.group(1))
        match = re.fullmatch(rf"/services/data/({_VERSION})/sobjects/(\w+)/deleted/?", path)
        if match:
            return org.deleted(match.group(2), params.get("start"), params.get("end"))
        match = re.fullmatch(rf"/services/data/({_VERSION})/sobjects/(\w+)/describe/?", path)
        if match:
            return org.describe(match.group(2))
        if re.fullmatch(rf"/services/data/({_VERSION})/limits/?", path):
            return org.limits()
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")


# --- command line ---------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.mock_servers.salesforce", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--opportunities", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--single-currency", action="store_true", help="an org without CurrencyIsoCode")
    parser.add_argument(
        "--rate-limit-every", type=int, default=0, metavar="K", help="every K-th request: 403 REQUEST_LIMIT_EXCEEDED"
    )
    parser.add_argument(
        "--error-burst-every", type=int, default=0, metavar="K", help="every K-th request starts a burst of 503"
    )
    parser.add_argument("--error-burst-length", type=int, default=2, metavar="N")
    parser.add_argument("--session-ttl", type=int, default=0, metavar="N", help="access tokens expire after N requests")
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS")  # float ok: seconds
    parser.add_argument("--daily-limit", type=int, default=100_000, metavar="N")
    parser.add_argument("--no-splits", action="store_true", help="an org without Opportunity Splits")
    parser.add_argument("--no-billing", action="store_true", help="an org without the Salesforce Billing package")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    faults = Faults(
        args.rate_limit_every,
        args.error_burst_every,
        args.error_burst_length,
        args.session_ttl,
        args.delay,
        args.daily_limit,
    )
    mock = SalesforceMock(
        opportunities=args.opportunities,
        seed=args.seed,
        faults=faults,
        multi_currency=not args.single_currency,
        splits=not args.no_splits,
        billing=not args.no_billing,
    )
    try:
        url = mock.start(args.port)
    except OSError as exc:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); choose another --port") from None
    assert mock._server is not None
    mock._server.verbose = args.verbose  # type: ignore[attr-defined]
    print(f"Salesforce mock at {url} ({args.opportunities} opportunities)")
    print(f"  KPI_SALESFORCE_INSTANCE_URL={url}")
    print(f"  KPI_SALESFORCE_CLIENT_ID={CLIENT_ID}")
    print(f"  KPI_SALESFORCE_CLIENT_SECRET={CLIENT_SECRET}")
    print(f"  KPI_SALESFORCE_REFRESH_TOKEN={REFRESH_TOKEN}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        mock.stop()


if __name__ == "__main__":
    main()
