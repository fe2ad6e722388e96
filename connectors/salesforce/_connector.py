"""The Salesforce REST connector: SOQL over ``query``/``queryAll`` with ``nextRecordsUrl``, getDeleted."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import requests
from pydantic import Field, SecretStr, field_validator

from kpi_engine import (
    AuthenticationError,
    Checkpoint,
    Connector,
    ConnectorConfigurationError,
    ConnectorError,
    ConnectorSettings,
    Entity,
    HttpClient,
    OAuth2Refresh,
    RateLimited,
    Record,
    Stream,
    StreamState,
    TransientError,
    parse_cursor,
    secret_field,
)
from kpi_engine.connect import DealCovered, StreamUnavailable

__all__ = ["SalesforceConnector", "SalesforceSettings"]

RECYCLE_BIN = timedelta(days=15)
"""How far back the getDeleted resource answers."""


class SalesforceSettings(ConnectorSettings):
    """Where the org is and the connected app's OAuth credentials (refresh-token flow)."""

    instance_url: str = Field(description="The org's URL, e.g. https://acme.my.salesforce.com")
    client_id: str = Field(description="Consumer key of the connected app")
    client_secret: SecretStr = secret_field("Consumer secret of the connected app")
    refresh_token: SecretStr = secret_field("Refresh token of the integration user")
    login_url: str | None = Field(
        None, description="Token endpoint host (default: the instance URL; https://login.salesforce.com works too)"
    )
    api_version: str = Field("v60.0", description="REST API version, e.g. v60.0")
    batch_size: int = Field(
        2000, ge=200, le=2000, description="Records per page asked with Sforce-Query-Options (200 to 2000)"
    )
    api_reserve: int = Field(
        0, ge=0, description="Calls of the org's daily API allocation to leave to other integrations"
    )
    payment_object: str = Field(
        "blng__Payment__c",
        description="Object of received payments: Salesforce Billing's blng__Payment__c, or your own custom object",
    )
    refund_object: str = Field(
        "blng__Refund__c", description="Object of refunds: Salesforce Billing's blng__Refund__c, or your own"
    )
    split_type: str = Field(
        "Revenue",
        description="DeveloperName of the opportunity split type to read (Revenue splits total 100 %; Overlay)",
    )

    @field_validator("instance_url", "login_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not re.match(r"^https?://[^/\s]+$", value):
            raise ValueError("must be a URL such as https://acme.my.salesforce.com, without a path")
        return value

    @field_validator("payment_object", "refund_object")
    @classmethod
    def _object_name(cls, value: str) -> str:
        value = value.strip()
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ValueError("must be an object's API name, such as blng__Payment__c or Payment__c")
        return value

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        value = value.strip()
        value = value if value.startswith("v") else f"v{value}"
        if not re.fullmatch(r"v\d{2,3}\.\d", value):
            raise ValueError("must look like v60.0")
        return value


@dataclass(frozen=True)
class _Object:
    """A Salesforce object read as one stream; ``derived`` are fields the connector computes."""

    stream: str
    sobject: str
    entity: Entity
    fields: tuple[str, ...]
    deletes: bool
    derived: tuple[str, ...] = ()
    description: str = ""
    optional: bool = False  # a feature or package the org may not have: StreamUnavailable when absent
    hard_deletes: bool = True  # ask getDeleted as well (objects whose every deleted row is a fact)


_STAMPS = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp")
OBJECTS = {
    o.stream: o
    for o in (
        _Object(
            "users",
            "User",
            "people",
            (*_STAMPS, "Name", "Email", "IsActive", "Title", "Department", "ManagerId"),
            deletes=False,
            description="Users (owners of records); users are deactivated, never deleted",
        ),
        _Object(
            "opportunities",
            "Opportunity",
            "deals",
            (
                *_STAMPS,
                "IsDeleted",
                "Name",
                "Amount",
                "StageName",
                "CloseDate",
                "OwnerId",
                "IsClosed",
                "IsWon",
                "Type",
                "LeadSource",
            ),
            deletes=True,
            derived=("kpi_status", "kpi_closed_date"),
            description="Opportunities; won/lost from IsWon/IsClosed, deletes from queryAll and getDeleted",
        ),
        _Object(
            "tasks",
            "Task",
            "activities",
            (
                *_STAMPS,
                "IsDeleted",
                "Subject",
                "ActivityDate",
                "CompletedDateTime",
                "OwnerId",
                "WhatId",
                "TaskSubtype",
                "CallDurationInSeconds",
            ),
            deletes=True,
            derived=("kpi_kind", "kpi_occurred_at", "kpi_deal_id"),
            description="Tasks: calls, emails, to-dos",
        ),
        _Object(
            "events",
            "Event",
            "activities",
            (
                *_STAMPS,
                "IsDeleted",
                "Subject",
                "StartDateTime",
                "DurationInMinutes",
                "OwnerId",
                "WhatId",
                "Type",
                "Location",
            ),
            deletes=True,
            derived=("kpi_kind", "kpi_deal_id", "kpi_duration_seconds", "kpi_has_evidence"),
            description="Calendar events: meetings and visits",
        ),
        _Object(
            "leads",
            "Lead",
            "leads",
            (
                *_STAMPS,
                "IsDeleted",
                "Name",
                "Company",
                "Status",
                "LeadSource",
                "OwnerId",
                "IsConverted",
                "ConvertedOpportunityId",
            ),
            deletes=True,
            derived=("kpi_owner_user_id",),
            description="Leads; queue-owned leads have no owner",
        ),
    )
}
FACT_OBJECTS = {
    o.stream: o
    for o in (
        _Object(
            "splits",
            "OpportunitySplit",
            "deal_splits",
            (*_STAMPS, "IsDeleted", "OpportunityId", "SplitOwnerId", "SplitPercentage", "SplitAmount", "SplitTypeId"),
            deletes=True,
            derived=("kpi_share", "kpi_split_role"),
            description="Opportunity splits of one split type (Revenue by default); only in orgs with splits enabled",
            optional=True,
            hard_deletes=False,  # getDeleted names only the split's Id, which the store does not keep
        ),
        _Object(
            "payments",
            "blng__Payment__c",
            "payments",
            (*_STAMPS, "IsDeleted", "blng__Account__c", "blng__Amount__c", "blng__PaymentDate__c", "blng__Status__c"),
            deletes=True,
            description="Payments received (Salesforce Billing, or the custom object named in payment_object)",
            optional=True,
        ),
        _Object(
            "refunds",
            "blng__Refund__c",
            "refunds",
            (*_STAMPS, "IsDeleted", "blng__Account__c", "blng__Amount__c", "blng__RefundDate__c", "blng__Status__c"),
            deletes=True,
            description="Refunds (Salesforce Billing, or the custom object named in refund_object)",
            optional=True,
        ),
        _Object(
            "cancellations",
            "OpportunityHistory",
            "refunds",
            ("Id", "CreatedDate", "SystemModstamp", "IsDeleted", "OpportunityId", "StageName", "Amount"),
            deletes=True,
            derived=("kpi_reason",),
            description="Won opportunities moved to a lost stage (from OpportunityHistory): cancellations",
            hard_deletes=False,
        ),
        _Object(
            "campaigns",
            "Campaign",
            "marketing_spend",
            (*_STAMPS, "IsDeleted", "Name", "Type", "Status", "StartDate", "EndDate", "ActualCost", "OwnerId"),
            deletes=True,
            derived=("kpi_spend_day",),
            description="Campaigns' actual cost, on their start date, as marketing spend",
        ),
    )
}
_VOID = {"canceled", "cancelled"}
"""Statuses of a Billing payment or refund that did not happen (read as deleted)."""
_OPTIONAL = {"CurrencyIsoCode"}
"""Fields read when the org has them (``CurrencyIsoCode`` exists in multi-currency orgs only)."""


class _LocatorExpired(ConnectorError):
    """A ``nextRecordsUrl`` is no longer valid (locators expire after 15 minutes of inactivity)."""


def soql_datetime(moment: datetime) -> str:
    """A SOQL date-time literal, truncated to the second (earlier, so nothing is missed)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _errors(response: requests.Response) -> tuple[str, str]:
    """``(errorCode, message)`` of an error answer (always a JSON array of ``{errorCode, message}``)."""
    try:
        body = response.json()
    except ValueError:
        return "", (response.text or "")[:200].strip()
    first = body[0] if isinstance(body, list) and body else body if isinstance(body, dict) else {}
    return str(first.get("errorCode") or first.get("error") or ""), str(
        first.get("message") or first.get("error_description") or ""
    )


def classify(response: requests.Response) -> ConnectorError | None:
    """Salesforce's answers as connector errors: 401 expired session, 403 REQUEST_LIMIT_EXCEEDED, 5xx."""
    status = response.status_code
    if status < 300:
        return None
    code, message = _errors(response)
    usage = response.headers.get("Sforce-Limit-Info", "")
    if status == 401:
        return AuthenticationError(
            f"Salesforce refused the session ({code or 'HTTP 401'}: {message}).",
            status=status,
            expired=True,
            hint="check the connected app and the refresh token",
        )
    if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
        if "TotalRequests" in message:
            return RateLimited(
                f"the org's daily API allocation is used up ({usage or message}).",
                scope="daily",
                status=status,
                hint=(
                    "the sync stops and resumes from its last page on "
                    "the next run, when the 24-hour allocation frees up"
                ),
            )
        return RateLimited(
            f"Salesforce refused a call: {message} ({usage}).", scope="concurrency", retry_after=5.0, status=status
        )
    if status == 403:
        return AuthenticationError(
            f"Salesforce does not let the integration user do this ({code}: {message}).",
            status=status,
            hint=(
                "give the integration user the 'API Enabled' and 'View "
                "All Data' permissions or read access to the object"
            ),
        )
    if status == 408 or status >= 500:
        return TransientError(f"Salesforce failed (HTTP {status}{f', {code}' if code else ''}).", status=status)
    if code == "INVALID_QUERY_LOCATOR":
        return _LocatorExpired("the query's nextRecordsUrl expired.", status=status)
    if code in ("INVALID_FIELD", "MALFORMED_QUERY", "INVALID_TYPE"):
        return ConnectorError(
            f"Salesforce refused the query ({code}): {message}",
            status=status,
            hint="check the field names of the salesforce mapping file against the object's fields",
        )
    return ConnectorError(
        f"Salesforce refused the call (HTTP {status}{f', {code}' if code else ''}): {message}", status=status
    )


class SalesforceConnector(Connector):
    """Opportunities, users, tasks, events and leads of a Salesforce org through the REST API."""

    name = "salesforce"
    description = "Salesforce REST API: opportunities, users, tasks, events, leads"
    settings_model = SalesforceSettings
    mapping_file = Path(__file__).with_name("mapping.yaml")

    settings: SalesforceSettings

    def __init__(self, settings: SalesforceSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        s: SalesforceSettings = settings
        self.auth = OAuth2Refresh(
            f"{s.login_url or s.instance_url}/services/oauth2/token",
            client_id=s.client_id,
            client_secret=s.client_secret,
            refresh_token=s.refresh_token,
            store=self.context.token_store,
            token_key=f"salesforce:{s.client_id}",
        )
        self.http: HttpClient = self.http_client(s.instance_url, auth=self.auth, classify=classify)
        self.base = f"/services/data/{s.api_version}"
        self._described: dict[str, set[str]] = {}
        self._server_now: datetime | None = None
        self.api_usage: tuple[int, int] | None = None
        self.objects = {**OBJECTS, **FACT_OBJECTS}
        self.objects["payments"] = replace(self.objects["payments"], sobject=s.payment_object)
        self.objects["refunds"] = replace(self.objects["refunds"], sobject=s.refund_object)
        self._split_type: tuple[str, str] | None = None  # (Id, label) of the split type read
        self._stages: tuple[list[str], list[str]] | None = None  # won and lost stage names

    # --- the SDK's three verbs ----------------------------------------------------------

    def streams(self) -> list[Stream]:
        return [
            Stream(
                name=o.stream,
                entity=o.entity,
                primary_key="Id",
                cursor_field="SystemModstamp",
                cursor_format="iso8601",
                reports_deletes=o.deletes,
                description=o.description,
            )
            for o in self.objects.values()
        ]

    def check(self) -> str:
        body = self._get(f"{self.base}/limits/")
        daily = body.get("DailyApiRequests") or {}
        return (
            f"{self.settings.instance_url}: signed in, {daily.get('Remaining', '?')} "
            f"of {daily.get('Max', '?')} daily API calls left"
        )

    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | DealCovered | Checkpoint]:
        obj = self.objects[stream.name]
        if obj.optional:
            self._require(obj)
        position = state.position or {}
        if position.get("phase", "query") == "query":
            yield from self._query(obj, state, position)
        if obj.deletes and obj.hard_deletes:
            yield Checkpoint(stream.name, {"phase": "deleted"})
            yield from self._deleted(obj, state)
        yield Checkpoint(stream.name, None)

    # --- reading ------------------------------------------------------------------------

    def _query(
        self, obj: _Object, state: StreamState, position: Mapping[str, Any]
    ) -> Iterator[Record | DealCovered | Checkpoint]:
        fields = self._fields(obj, state.fields)
        after = (parse_cursor(position["after"]), str(position["id"])) if position.get("after") else None
        while True:
            soql = self._soql(obj, fields, state.since, after)
            resource = "queryAll" if obj.deletes else "query"
            body = self._get(
                f"{self.base}/{resource}/",
                params={"q": soql},
                headers={"Sforce-Query-Options": f"batchSize={self.settings.batch_size}"},
            )
            try:
                while True:
                    records = body.get("records") or []
                    yield from self._records(obj, records, fields)
                    if body.get("done", True) or not body.get("nextRecordsUrl"):
                        return
                    if records:
                        last = records[-1]
                        after = (parse_cursor(last["SystemModstamp"]), str(last["Id"]))
                        yield Checkpoint(
                            obj.stream, {"phase": "query", "after": last["SystemModstamp"], "id": last["Id"]}
                        )
                    body = self._get(body["nextRecordsUrl"])
            except _LocatorExpired:
                self.log.info("%s: the query locator expired; querying again from %s", obj.stream, after)
                continue

    def _soql(
        self, obj: _Object, fields: list[str], since: datetime | None, after: tuple[datetime | None, str] | None
    ) -> str:
        where = self._scope(obj)
        if since is not None:
            where.append(f"SystemModstamp >= {soql_datetime(since)}")
        if after is not None and after[0] is not None:
            stamp = soql_datetime(after[0])
            where.append(f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > '{after[1]}'))")
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return f"SELECT {', '.join(fields)} FROM {obj.sobject}{clause} ORDER BY SystemModstamp ASC, Id ASC"

    def _scope(self, obj: _Object) -> list[str]:
        """Conditions that define the stream within its object: one split type, lost stages."""
        if obj.sobject == "OpportunitySplit":
            return [f"SplitTypeId = '{self._split_type_of()[0]}'"]
        if obj.sobject == "OpportunityHistory":
            return [f"StageName IN ({_quoted(self._stage_names()[1])})"]
        return []

    def _require(self, obj: _Object) -> None:
        """Stop the stream, not the sync, when the org lacks the object (a feature or package not enabled)."""
        try:
            self._describe(obj.sobject)
        except ConnectorError as exc:
            if exc.status != 404:
                raise
            for setting in ("payment_object", "refund_object"):
                if obj.stream == setting.removesuffix("_object") + "s" and setting in self.settings.model_fields_set:
                    raise ConnectorConfigurationError(
                        f"the org has no {obj.sobject} object (KPI_SALESFORCE_{setting.upper()}).",
                        hint="name the object's API name as in Setup, e.g. Payment__c",
                    ) from None
            what = {
                "OpportunitySplit": "Opportunity Splits are not enabled",
                "blng__Payment__c": "Salesforce Billing is not installed; name your payment object in payment_object",
                "blng__Refund__c": "Salesforce Billing is not installed; name your refund object in refund_object",
            }.get(obj.sobject, "set the object's name in the connector's settings")
            raise StreamUnavailable(f"the org has no {obj.sobject} object ({what}).", status=404) from None

    def _split_type_of(self) -> tuple[str, str]:
        """The Id and label of the split type named in ``split_type`` (Revenue by default)."""
        if self._split_type is None:
            name = self.settings.split_type
            rows = self._all("SELECT Id, DeveloperName, MasterLabel, IsActive FROM OpportunitySplitType")
            found = next((r for r in rows if str(r.get("DeveloperName")) == name), None)
            if found is None:
                known = ", ".join(sorted(str(r.get("DeveloperName")) for r in rows)) or "none"
                raise ConnectorConfigurationError(
                    f"the org has no opportunity split type {name!r} (KPI_SALESFORCE_SPLIT_TYPE).",
                    hint=f"its split types are: {known}",
                )
            self._split_type = (str(found["Id"]), str(found.get("MasterLabel") or name))
        return self._split_type

    def _stage_names(self) -> tuple[list[str], list[str]]:
        """The org's won and lost stages, from ``OpportunityStage`` (labels are editable; flags are not)."""
        if self._stages is None:
            rows = self._all("SELECT ApiName, MasterLabel, IsClosed, IsWon FROM OpportunityStage")
            won = sorted(str(r["ApiName"]) for r in rows if r.get("IsWon"))
            lost = sorted(str(r["ApiName"]) for r in rows if r.get("IsClosed") and not r.get("IsWon"))
            self._stages = (won, lost)
        return self._stages

    def _all(self, soql: str, *, deleted: bool = False) -> list[dict[str, Any]]:
        """Every row of a small query, all pages."""
        body = self._get(f"{self.base}/{'queryAll' if deleted else 'query'}/", params={"q": soql})
        rows = list(body.get("records") or [])
        while not body.get("done", True) and body.get("nextRecordsUrl"):
            body = self._get(body["nextRecordsUrl"])
            rows.extend(body.get("records") or [])
        return rows

    def _records(self, obj: _Object, page: list[dict[str, Any]], fields: list[str]) -> Iterator[Record | DealCovered]:
        if obj.sobject == "OpportunitySplit":
            yield from self._split_sets(obj, page, fields)
            return
        if obj.sobject != "OpportunityHistory":
            for raw in page:
                yield self._record(obj, raw)
            return
        # a lost-stage row is a cancellation when the opportunity was in a won stage before it
        won_at: dict[str, list[datetime]] = {}
        opportunities = sorted({str(r["OpportunityId"]) for r in page})
        won = self._stage_names()[0]
        for start in range(0, len(opportunities), 200):
            chunk = opportunities[start : start + 200]
            soql = (
                f"SELECT OpportunityId, CreatedDate FROM OpportunityHistory WHERE OpportunityId IN ({_quoted(chunk)}) "
                f"AND StageName IN ({_quoted(won)})"
            )
            for row in self._all(soql, deleted=True):
                moment = parse_cursor(row["CreatedDate"])
                if moment is not None:
                    won_at.setdefault(str(row["OpportunityId"]), []).append(moment)
        for raw in page:
            lost_at = parse_cursor(raw.get("CreatedDate"))
            earlier = won_at.get(str(raw["OpportunityId"]), [])
            if lost_at is not None and any(moment < lost_at for moment in earlier):
                yield self._record(obj, raw)

    def _split_sets(
        self, obj: _Object, page: list[dict[str, Any]], fields: list[str]
    ) -> Iterator[Record | DealCovered]:
        """The whole current set of splits of each opportunity a changed (or deleted) split belongs to, so
        that a split whose owner changed, or that was removed, leaves no stale row behind."""
        opportunities = sorted({str(r["OpportunityId"]) for r in page if r.get("OpportunityId")})
        split_type = self._split_type_of()[0]
        for start in range(0, len(opportunities), 200):
            chunk = opportunities[start : start + 200]
            soql = (
                f"SELECT {', '.join(fields)} FROM OpportunitySplit WHERE SplitTypeId = '{split_type}' "
                f"AND OpportunityId IN ({_quoted(chunk)}) ORDER BY OpportunityId ASC, Id ASC"
            )
            for raw in self._all(soql):
                yield self._record(obj, raw)
            for opportunity in chunk:
                yield DealCovered(obj.stream, opportunity)

    def _fields(self, obj: _Object, wanted: frozenset[str]) -> list[str]:
        """The base fields, the mapping's fields and the optional ones the org has; unknown ones refused."""
        existing = self._describe(obj.sobject)
        by_lower = {name.lower(): name for name in existing}
        chosen = [f for f in obj.fields if f in existing]
        extra = sorted((set(wanted) - set(obj.fields) - set(obj.derived) - _OPTIONAL) | (_OPTIONAL & existing))
        for name in extra:
            canonical = by_lower.get(name.lower())
            if canonical is None:
                raise ConnectorConfigurationError(
                    f"the salesforce mapping reads {name!r}, which the org's {obj.sobject} object does not have.",
                    hint=(
                        "fix the field name in the mapping file (custom fields "
                        f"end in __c); {obj.sobject} has {len(existing)} fields"
                    ),
                )
            if canonical not in chosen:
                chosen.append(canonical)
        return chosen

    def _describe(self, sobject: str) -> set[str]:
        if sobject not in self._described:
            body = self._get(f"{self.base}/sobjects/{sobject}/describe/")
            self._described[sobject] = {f["name"] for f in body.get("fields") or []}
        return self._described[sobject]

    def _record(self, obj: _Object, raw: dict[str, Any]) -> Record:
        data = {k: v for k, v in raw.items() if k != "attributes"}
        deleted = bool(data.get("IsDeleted"))
        if obj.sobject == "Opportunity":
            data["kpi_status"] = "won" if data.get("IsWon") else "lost" if data.get("IsClosed") else "open"
            data["kpi_closed_date"] = data.get("CloseDate") if data.get("IsClosed") else None
            if data.get("Amount") is None:
                data["Amount"] = Decimal(0)  # Amount is optional in Salesforce; a deal without one counts as zero
        elif obj.sobject == "Task":
            subtype = str(data.get("TaskSubtype") or "Task").lower()
            data["kpi_kind"] = {"call": "call", "email": "email", "listemail": "email"}.get(subtype, "task")
            data["kpi_occurred_at"] = (
                data.get("CompletedDateTime") or data.get("ActivityDate") or data.get("CreatedDate")
            )
            data["kpi_deal_id"] = _opportunity_id(data.get("WhatId"))
        elif obj.sobject == "Event":
            kind = str(data.get("Type") or "").lower()
            data["kpi_kind"] = kind if kind in ("call", "visit", "email") else "meeting"
            data["kpi_deal_id"] = _opportunity_id(data.get("WhatId"))
            minutes = data.get("DurationInMinutes")
            data["kpi_duration_seconds"] = int(minutes) * 60 if minutes is not None else None
            data["kpi_has_evidence"] = bool(data.get("Location"))
        elif obj.sobject == "Lead":
            owner = str(data.get("OwnerId") or "")
            data["kpi_owner_user_id"] = owner if owner.startswith("005") else None  # 00G… is a queue
        elif obj.sobject == "OpportunitySplit":
            percentage = data.get("SplitPercentage")
            data["kpi_share"] = Decimal(str(percentage)) / 100 if percentage is not None else None
            data["kpi_split_role"] = self._split_type_of()[1]
        elif obj.sobject == "OpportunityHistory":
            data["kpi_reason"] = f"won, then moved to {data.get('StageName')}"
        elif obj.sobject == "Campaign":
            data["kpi_spend_day"] = data.get("StartDate") or str(data.get("CreatedDate") or "")[:10] or None
        elif obj.stream in ("payments", "refunds"):
            deleted = deleted or str(data.get("blng__Status__c") or "").lower() in _VOID
        return Record(obj.stream, data, deleted=deleted)

    def _deleted(self, obj: _Object, state: StreamState) -> Iterator[Record | Checkpoint]:
        """Records deleted in the window getDeleted covers (hard deletes never reach queryAll)."""
        now = self._server_now or datetime.now(UTC)
        earliest = now - RECYCLE_BIN + timedelta(minutes=5)
        start = state.since or earliest
        if start < earliest:
            self.log.warning(
                "%s: deletes before %s are no longer reported by Salesforce; run a full sync to catch them",
                obj.stream,
                earliest.isoformat(),
            )
            start = earliest
        if now - start < timedelta(minutes=1):
            return
        body = self._get(
            f"{self.base}/sobjects/{obj.sobject}/deleted/",
            params={"start": start.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "end": now.strftime("%Y-%m-%dT%H:%M:%S+00:00")},
        )
        for item in body.get("deletedRecords") or []:
            yield Record(
                obj.stream,
                {"Id": item["id"], "IsDeleted": True, "SystemModstamp": item.get("deletedDate")},
                deleted=True,
            )

    # --- HTTP ---------------------------------------------------------------------------

    def _get(
        self, path: str, *, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Any:
        """GET and decode JSON with exact decimals; tracks the org's API usage and clock."""
        self._check_reserve()
        response = self.http.request("GET", path, params=params, headers=headers)
        self._observe(response)
        try:
            return json.loads(response.content, parse_float=Decimal)
        except ValueError:
            raise TransientError(f"Salesforce sent an answer that is not JSON ({path.split('?')[0]}).") from None

    def _observe(self, response: requests.Response) -> None:
        match = re.search(r"api-usage=(\d+)/(\d+)", response.headers.get("Sforce-Limit-Info", ""))
        if match:
            self.api_usage = (int(match.group(1)), int(match.group(2)))
        date = response.headers.get("Date")
        if date:
            try:
                self._server_now = parsedate_to_datetime(date).astimezone(UTC)
            except (TypeError, ValueError):
                pass

    def _check_reserve(self) -> None:
        reserve = self.settings.api_reserve
        if reserve and self.api_usage is not None:
            used, limit = self.api_usage
            if limit - used <= reserve:
                raise RateLimited(
                    f"the sync stopped to leave {reserve} of the org's "
                    f"{limit} daily API calls to others (used {used}).",
                    scope="daily",
                    hint="it resumes from its last page on the next run",
                )


def _quoted(values: list[str]) -> str:
    """SOQL string literals, comma separated (quotes and backslashes escaped)."""
    escaped = (v.replace("\\", "\\\\").replace("'", "\\'") for v in values)
    return ", ".join(f"'{v}'" for v in escaped) or "''"


def _opportunity_id(what_id: Any) -> str | None:
    """``WhatId`` when it names an opportunity (key prefix 006), not an account or a case."""
    text = str(what_id or "")
    return text if text.startswith("006") else None
