"""HubSpot CRM v3: owners, deals, contacts (as leads) and calls, meetings and tasks (as activities); commerce
payments and their refunds, deals cancelled after they were won, deal splits and campaign spend.

What the connector does about HubSpot's protocol (docs/connectors/hubspot.md):

- Full reads list ``/crm/v3/objects/{type}`` with ``after`` paging (at most 100 per page);
  incremental reads use search on the modified time (``GTE``, at most 200 per page). Search stops
  at 10,000 results per query, so a long incremental read starts a new query from the last
  modified time it saw (records sharing that time are read again, never skipped).
- Search does not return archived records: every read also lists ``archived=true`` and turns
  archived records into tombstones. Search results carry no associations: deal → company and
  engagement → deal links are fetched with the v4 associations batch read.
- Every property is a string: amounts (``"5000"``), flags (``"true"``), times in ISO 8601 with
  any offset. Won/lost comes from ``hs_is_closed_won``/``hs_is_closed`` (stage ids are
  pipeline-specific); the mapping's ``stage_map`` is the fallback.
- 429 answers are read by ``policyName``: ``TEN_SECONDLY_ROLLING`` waits (``Retry-After``, else the
  interval) and retries, ``SECONDLY`` (search) waits a second, ``DAILY`` stops the sync (it resumes
  on the next run). Calls are paced under the burst budget the account announces in its
  ``X-HubSpot-RateLimit-*`` headers, search under its own per-second limit.
- Facts after the deal: payments list ``commerce_payments`` (failed and processing ones are no
  cash); refunds are the payments' ``hs_refunds_amount``; cancellations batch-read each page's
  ``dealstage`` history and compare it with the pipelines' won and lost stages; deal splits are
  batch-read per deal as whole sets (``DealCovered``); campaign spend is read whole every sync
  (``complete_read``). A 403 from the splits or campaigns API makes the stream unavailable.
- Private-app tokens or OAuth apps: an expired OAuth token (401 ``EXPIRED_AUTHENTICATION``) is
  refreshed once and the call repeated; refreshed tokens are kept in the token store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from pydantic import Field, SecretStr, model_validator

from kpi_engine import (
    AuthenticationError,
    BearerToken,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Entity,
    HttpClient,
    OAuth2Refresh,
    RateLimited,
    Record,
    Stream,
    StreamState,
    TokenBucket,
    cursor_pages,
    default_classify,
    parse_cursor,
    parse_retry_after,
    secret_field,
)
from kpi_engine.connect import DealCovered, StreamUnavailable

__all__ = ["HubSpotConnector", "HubSpotSettings"]

OBJECT_STREAMS: dict[str, tuple[str, Entity, str, str | None]] = {
    # stream: (object type, entity, modified-time property, associations to read)
    "deals": ("deals", "deals", "hs_lastmodifieddate", "companies"),
    "contacts": ("contacts", "leads", "lastmodifieddate", None),
    "calls": ("calls", "activities", "hs_lastmodifieddate", "deals"),
    "meetings": ("meetings", "activities", "hs_lastmodifieddate", "deals"),
    "tasks": ("tasks", "activities", "hs_lastmodifieddate", "deals"),
    "payments": ("commerce_payments", "payments", "hs_lastmodifieddate", "deals,companies"),
    "refunds": ("commerce_payments", "refunds", "hs_lastmodifieddate", "deals,companies"),
    "cancellations": ("deals", "refunds", "hs_lastmodifieddate", "companies"),
    "splits": ("deals", "deal_splits", "hs_lastmodifieddate", None),
}
PRIMARY_KEYS = {"refunds": "refund_id", "cancellations": "cancellation_id", "splits": "split_id"}
"""Streams whose records are not the listed objects themselves, and the key the connector gives them."""
DESCRIPTIONS = {
    "payments": "Commerce payments (received: not failed or processing), credited to their deal and company",
    "refunds": "Amounts refunded on commerce payments (hs_refunds_amount)",
    "cancellations": "Deals that were in a won stage and are now lost (from dealstage history): cancellations",
    "splits": "Deal splits (Sales Hub Enterprise): each deal's owners and shares",
    "campaign_spend": "Marketing campaigns' spend items (Marketing Hub Professional)",
}
NOT_RECEIVED = {"failed", "processing"}
"""Payment statuses that are no cash received (such a payment is stored as deleted until it succeeds)."""
SPLIT_BATCH = 100
"""Deals per deal-splits batch read (the API's own limit is not published; 100 is the CRM's usual batch)."""
BASE_PROPERTIES = {
    "deals": [
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "createdate",
        "hs_lastmodifieddate",
        "hubspot_owner_id",
        "deal_currency_code",
        "hs_is_closed",
        "hs_is_closed_won",
    ],
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "createdate",
        "lastmodifieddate",
        "hubspot_owner_id",
        "hs_analytics_source",
        "hs_lead_status",
        "lifecyclestage",
        "hs_lifecyclestage_marketingqualifiedlead_date",
        "hs_lifecyclestage_salesqualifiedlead_date",
    ],
    "calls": ["hs_timestamp", "hs_lastmodifieddate", "hubspot_owner_id", "hs_call_title", "hs_call_duration"],
    "meetings": [
        "hs_timestamp",
        "hs_lastmodifieddate",
        "hubspot_owner_id",
        "hs_meeting_title",
        "hs_meeting_start_time",
        "hs_meeting_end_time",
    ],
    "tasks": ["hs_timestamp", "hs_lastmodifieddate", "hubspot_owner_id", "hs_task_subject", "hs_task_status"],
    "commerce_payments": [
        "hs_initial_amount",
        "hs_currency_code",
        "hs_initiated_date",
        "hs_latest_status",
        "hs_refunds_amount",
        "hs_createdate",
        "hs_lastmodifieddate",
    ],
}
DERIVED = {
    "id",
    "name",
    "deal_status",
    "company_id",
    "deal_id",
    "engagement_kind",
    "duration_seconds",
    "subject",
    "team",
    "archived",
    "archivedAt",
    "createdAt",
    "updatedAt",
    "channel",
    "refund_id",
    "cancellation_id",
    "cancelled_at",
    "cancellation_reason",
    "split_id",
    "payment_status",
    "hs_deal_split_percentage",
}
SEARCH_RESULT_CAP = 10_000
MAX_PROPERTIES_LENGTH = 6_000
"""Longest ``properties`` list sent in one URL: longer ones are split over several calls (HTTP 414 otherwise)."""
KINDS = {"calls": "call", "meetings": "meeting", "tasks": "task"}


class HubSpotSettings(ConnectorSettings):
    """A private-app token, or an OAuth app (client id, secret and refresh token)."""

    base_url: str = Field("https://api.hubapi.com", description="API root (a mock server's URL when testing)")
    token: SecretStr | None = secret_field("Private-app access token", default=None)
    client_id: str | None = Field(None, description="OAuth app client id (instead of a private-app token)")
    client_secret: SecretStr | None = secret_field("OAuth app client secret", default=None)
    refresh_token: SecretStr | None = secret_field("OAuth refresh token of the installed app", default=None)
    page_size: int = Field(100, ge=1, le=100, description="Records per list page (HubSpot allows at most 100)")
    search_page_size: int = Field(200, ge=1, le=200, description="Records per search page (HubSpot allows at most 200)")
    burst_limit: int = Field(
        100,
        ge=1,
        description=(
            "Calls per 10 seconds until the account announces its own (100 Free/Starter, 190 Professional/Enterprise)"
        ),
    )
    search_per_second: int = Field(4, ge=1, description="Search calls per second (HubSpot allows 4 to 5)")

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> HubSpotSettings:
        oauth = [self.client_id, self.client_secret, self.refresh_token]
        if self.token is None and not all(oauth):
            missing = (
                "token"
                if not any(oauth)
                else ", ".join(n for n, v in zip(("client_id", "client_secret", "refresh_token"), oauth) if not v)
            )
            raise ValueError(
                f"set a private-app token (KPI_HUBSPOT_TOKEN) or all of the OAuth settings (missing: {missing})"
            )
        return self


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def classify(response: requests.Response) -> ConnectorError | None:
    """HubSpot's signals: 429 by ``policyName``, 401 by ``category``; the rest by status."""
    status = response.status_code
    if status == 429:
        body = _json_or_empty(response)
        policy = str(body.get("policyName") or "TEN_SECONDLY_ROLLING").upper()
        if policy == "DAILY":
            return RateLimited(
                "HubSpot's daily API limit of this account is used up.",
                scope="daily",
                status=429,
                hint="the next sync resumes where this one stopped once the limit resets (midnight, account time zone)",
            )
        if policy == "SECONDLY":
            return RateLimited(
                "HubSpot's search rate limit (SECONDLY) was reached.", retry_after=1.0, scope="secondly", status=429
            )
        wait = parse_retry_after(response.headers.get("Retry-After"))
        if wait is None:
            interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
            wait = int(interval) / 1000 if interval and interval.isdigit() else 10.0
        return RateLimited(f"HubSpot's rate limit ({policy}) was reached.", retry_after=wait, scope="burst", status=429)
    if status == 401:
        body = _json_or_empty(response)
        message = str(body.get("message") or "the token was refused").rstrip(".")
        return AuthenticationError(
            f"HubSpot refused the credentials: {message}.",
            status=401,
            expired=True,
            hint="check KPI_HUBSPOT_TOKEN, or the OAuth app's refresh token",
        )
    return default_classify(response)


class HubSpotConnector(Connector):
    """HubSpot CRM v3 (private app or OAuth)."""

    name = "hubspot"
    description = (
        "HubSpot CRM v3: owners, deals, contacts as leads, calls/meetings/tasks as activities, commerce payments "
        "and their refunds, cancelled deals, deal splits, campaign spend"
    )
    settings_model = HubSpotSettings
    mapping_file = Path(__file__).with_name("mapping.yaml")
    documentation = "https://developers.hubspot.com/docs/api/crm/understanding-the-crm"

    settings: HubSpotSettings
    _api: HttpClient | None = None
    _search_pacer: TokenBucket | None = None

    def streams(self) -> list[Stream]:
        streams = [
            Stream(name="owners", entity="people", description="Users who own records (deals name the owner id)")
        ]
        for name, (_, entity, modified, _) in OBJECT_STREAMS.items():
            streams.append(
                Stream(
                    name=name,
                    entity=entity,
                    primary_key=PRIMARY_KEYS.get(name, "id"),
                    cursor_field=modified,
                    reports_deletes=True,
                    description=DESCRIPTIONS.get(name, ""),
                )
            )
        streams.append(
            Stream(
                name="campaign_spend",
                entity="marketing_spend",
                complete_read=True,
                description=DESCRIPTIONS["campaign_spend"],
            )
        )
        return streams

    # --- HTTP --------------------------------------------------------------------------

    @property
    def api(self) -> HttpClient:
        if self._api is None:
            s = self.settings
            if s.token is not None:
                auth: Any = BearerToken(s.token)
            else:
                assert s.client_id and s.client_secret and s.refresh_token
                auth = OAuth2Refresh(
                    f"{s.base_url.rstrip('/')}/oauth/v1/token",
                    client_id=s.client_id,
                    client_secret=s.client_secret,
                    refresh_token=s.refresh_token,
                    store=self.context.token_store,
                    token_key=f"hubspot:{s.client_id}",
                )
            self._api = self.http_client(
                s.base_url, auth=auth, classify=classify, observe=self._observe, rate_limit=(s.burst_limit, 10.0)
            )
            if self.context.pacing:
                self._search_pacer = TokenBucket(s.search_per_second, 1.0, clock=self.context.clock)
        return self._api

    def _observe(self, response: requests.Response) -> None:
        """Pace under the budget the account announces (90 % of it, to leave room for other apps)."""
        limit = response.headers.get("X-HubSpot-RateLimit-Max")
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if (
            self._api is not None
            and self._api.pacer is not None
            and limit
            and interval
            and limit.isdigit()
            and interval.isdigit()
        ):
            self._api.pacer.update(max(1, int(limit) * 9 // 10), int(interval) / 1000)

    def check(self) -> str:
        body = self.api.get_json("/crm/v3/owners", params={"limit": 1})
        how = "private-app token" if self.settings.token is not None else "OAuth app"
        return f"the {how} can read owners ({len(body.get('results', []))} returned)"

    # --- reading ------------------------------------------------------------------------

    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | DealCovered | Checkpoint]:
        if stream.name == "owners":
            yield from self._read_owners(state)
        elif stream.name == "campaign_spend":
            yield from self._read_spend(state)
        else:
            yield from self._read_objects(stream, state)

    def _read_owners(self, state: StreamState) -> Iterator[Record | Checkpoint]:
        position = state.position or {}
        phases = ["live", "archived"]
        for phase in phases[phases.index(position.get("phase", "live")) :]:
            start = position.get("after") if position.get("phase") == phase else None
            params = {"limit": 100, "archived": "true" if phase == "archived" else "false"}

            def fetch(after: Any, params: dict[str, Any] = params) -> Any:
                return self.api.get_json("/crm/v3/owners", params={**params, **({"after": after} if after else {})})

            for page in cursor_pages(fetch, records="results", next_cursor="paging.next.after", start=start):
                for owner in page.records:
                    teams = owner.get("teams") or []
                    primary = next((t for t in teams if t.get("primary")), teams[0] if teams else None)
                    data = {
                        **owner,
                        "id": str(owner["id"]),
                        "name": " ".join(p for p in (owner.get("firstName"), owner.get("lastName")) if p)
                        or owner.get("email")
                        or str(owner["id"]),
                        "team": primary.get("name") if primary else None,
                    }
                    yield Record("owners", data, deleted=bool(owner.get("archived")))
                yield Checkpoint("owners", self._next(phase, page.next, phases))

    @staticmethod
    def _next(phase: str, after: Any, phases: list[str], **extra: Any) -> dict[str, Any] | None:
        if after:
            return {"phase": phase, "after": after, **extra}
        following = phases.index(phase) + 1
        return {"phase": phases[following]} if following < len(phases) else None

    def _properties(self, kind: str, state: StreamState) -> list[str]:
        return sorted(set(BASE_PROPERTIES[kind]) | {f for f in state.fields if f not in DERIVED})

    def _read_objects(self, stream: Stream, state: StreamState) -> Iterator[Record | DealCovered | Checkpoint]:
        kind, _, modified, association = OBJECT_STREAMS[stream.name]
        if stream.name == "splits":  # the mapping names split fields, not deal properties
            state = StreamState(stream.name, since=state.since, position=state.position)
        properties = self._properties(kind, state)
        if stream.name == "cancellations":
            self._deal_stages()
        phases = ["live", "archived"] if state.full else ["search", "archived"]
        position = state.position or {}
        current = position.get("phase", phases[0])
        if current not in phases:
            current = phases[0]
        for phase in phases[phases.index(current) :]:
            resume = position if position.get("phase") == phase else {}
            if phase == "search":
                assert state.since is not None
                yield from self._search(stream, kind, modified, association, properties, state.since, resume, phases)
            else:
                since = None if state.full else state.since
                yield from self._list(stream, kind, association, properties, phase, since, resume, phases)

    def _list(
        self,
        stream: Stream,
        kind: str,
        association: str | None,
        properties: list[str],
        phase: str,
        since: datetime | None,
        resume: dict[str, Any],
        phases: list[str],
    ) -> Iterator[Record | DealCovered | Checkpoint]:
        params: dict[str, Any] = {
            "limit": self.settings.page_size,
            "properties": ",".join(properties),
            "archived": "true" if phase == "archived" else "false",
        }
        if association:
            params["associations"] = association

        chunks = _property_chunks(properties)
        params["properties"] = ",".join(chunks[0])

        def fetch(after: str | None) -> Any:
            page = {"after": after} if after else {}
            body = self.api.get_json(f"/crm/v3/objects/{kind}", params={**params, **page})
            for chunk in chunks[1:]:  # the same page again for the other properties: listings are in id order
                more = self.api.get_json(
                    f"/crm/v3/objects/{kind}",
                    params={**params, **page, "properties": ",".join(chunk), "associations": None},
                )
                extra = {str(item["id"]): item.get("properties") or {} for item in more.get("results", [])}
                for item in body.get("results", []):
                    item.setdefault("properties", {}).update(extra.get(str(item["id"]), {}))
            return body

        for page in cursor_pages(fetch, records="results", next_cursor="paging.next.after", start=resume.get("after")):
            items = []
            for item in page.records:
                if phase == "archived" and since is not None:
                    archived_at = parse_cursor(item.get("archivedAt") or item.get("updatedAt"))
                    if archived_at is not None and archived_at < since:
                        continue  # a tombstone recorded by an earlier sync
                items.append(item)
            yield from self._page(stream.name, kind, items, phase == "archived")
            yield Checkpoint(stream.name, self._next(phase, page.next, phases))

    def _search(
        self,
        stream: Stream,
        kind: str,
        modified: str,
        association: str | None,
        properties: list[str],
        since: datetime,
        resume: dict[str, Any],
        phases: list[str],
    ) -> Iterator[Record | DealCovered | Checkpoint]:
        floor = int(resume.get("floor_ms") or int(since.timestamp() * 1000))
        offset = int(resume.get("after") or 0)
        limit = self.settings.search_page_size
        while True:
            if self._search_pacer is not None:
                self._search_pacer.acquire()
            body = self.api.post_json(
                f"/crm/v3/objects/{kind}/search",
                {
                    "filterGroups": [{"filters": [{"propertyName": modified, "operator": "GTE", "value": str(floor)}]}],
                    "sorts": [{"propertyName": modified, "direction": "ASCENDING"}],
                    "properties": properties,
                    "limit": limit,
                    "after": str(offset),
                },
            )
            items = body.get("results") or []
            for to in association.split(",") if association and items else []:
                links = self._associations(kind, to, [str(i["id"]) for i in items])
                for item in items:
                    found = [{"id": t} for t in links.get(str(item["id"]), [])]
                    item.setdefault("associations", {})[to] = {"results": found}
            yield from self._page(stream.name, kind, items, False)
            following = (body.get("paging") or {}).get("next", {}).get("after")
            if not following:
                yield Checkpoint(stream.name, {"phase": phases[phases.index("search") + 1]})
                return
            offset = int(following)
            if offset + limit > SEARCH_RESULT_CAP:
                # Search pages through 10,000 results at most: start a new query from the last modified time seen.
                last = parse_cursor((items[-1].get("properties") or {}).get(modified)) if items else None
                new_floor = int(last.timestamp() * 1000) if last else floor
                if new_floor <= floor:
                    raise ConnectorError(
                        f"more than {SEARCH_RESULT_CAP:,} HubSpot {kind} share "
                        f"the modified time {last}; search cannot page past them.",
                        hint="run a full sync: kpi sync hubspot --full",
                    )
                floor, offset = new_floor, 0
            yield Checkpoint(stream.name, {"phase": "search", "floor_ms": floor, "after": offset})

    def _page(
        self, stream: str, kind: str, items: list[dict[str, Any]], archived: bool
    ) -> Iterator[Record | DealCovered]:
        """The records of one page of listed objects: the objects themselves, or what a stream derives."""
        if stream == "splits":
            modified = {str(i["id"]): (i.get("properties") or {}).get("hs_lastmodifieddate") for i in items}
            yield from self._splits(modified, archived)
            return
        if stream == "cancellations":
            yield from self._cancellations(items, archived)
            return
        for item in items:
            record = self._record(stream, kind, item, archived)
            if stream == "refunds":
                amount = str(record.data.get("hs_refunds_amount") or "").strip()
                if amount in ("", "0", "0.0", "0.00"):
                    continue  # not refunded: no refund record
                record.data["refund_id"] = f"payment-{record.data['id']}"
                record.deleted = archived or bool(item.get("archived"))
            yield record

    def _splits(self, modified: dict[str, Any], archived: bool) -> Iterator[Record | DealCovered]:
        """Each deal's whole set of splits (the batch read answers every split of a deal).

        A split carries its deal's modified time as the stream's cursor: that is what the next
        incremental read searches deals by."""
        deal_ids = list(modified)
        for start in range(0, len(deal_ids), SPLIT_BATCH):
            chunk = deal_ids[start : start + SPLIT_BATCH]
            if not archived:  # an archived deal has no splits left: its stored ones are removed
                try:
                    body = self.api.post_json(
                        "/crm/v3/objects/deals/splits/batch/read", {"inputs": [{"id": i} for i in chunk]}
                    )
                except AuthenticationError as exc:
                    if exc.status == 403:
                        raise StreamUnavailable(
                            "HubSpot refused the deal splits API (deal splits need Sales Hub Enterprise, deal "
                            "splits turned on, and the crm.dealsplits.read_write scope).",
                            status=403,
                        ) from None
                    raise
                for result in body.get("results") or []:
                    for split in result.get("splits") or []:
                        props = split.get("properties") or {}
                        yield Record(
                            "splits",
                            {
                                **props,
                                "split_id": str(split["id"]),
                                "deal_id": str(result["id"]),
                                "updatedAt": split.get("updatedAt"),
                                "hs_lastmodifieddate": modified.get(str(result["id"])) or split.get("updatedAt"),
                            },
                            deleted=bool(split.get("archived")),
                        )
            for deal in chunk:
                yield DealCovered("splits", deal)

    def _deal_stages(self) -> tuple[set[str], set[str], dict[str, str]]:
        """Won and lost stage ids of every deal pipeline, and stage labels (``GET /crm/v3/pipelines/deals``)."""
        if getattr(self, "_stages", None) is None:
            body = self.api.get_json("/crm/v3/pipelines/deals")
            won: set[str] = set()
            lost: set[str] = set()
            labels: dict[str, str] = {}
            for pipeline in body.get("results") or []:
                for stage in pipeline.get("stages") or []:
                    meta = stage.get("metadata") or {}
                    labels[str(stage["id"])] = str(stage.get("label") or stage["id"])
                    if str(meta.get("isClosed")).lower() == "true":
                        probability = str(meta.get("probability") or "")
                        (won if probability in ("1", "1.0") else lost).add(str(stage["id"]))
            self._stages = (won, lost, labels)
        return self._stages

    def _cancellations(self, items: list[dict[str, Any]], archived: bool) -> Iterator[Record]:
        """Deals whose dealstage history enters a lost stage after a won one: cancellations.

        A deal lost now is a cancellation from the moment it left the won stage for a lost one; a deal
        that was cancelled and is won or open again yields a tombstone, so its cancellation goes away.
        """
        if not items:
            return
        won, lost, labels = self._deal_stages()
        body = self.api.post_json(
            "/crm/v3/objects/deals/batch/read" + ("?archived=true" if archived else ""),
            {
                "inputs": [{"id": str(i["id"])} for i in items],
                "properties": ["dealstage"],
                "propertiesWithHistory": ["dealstage"],
            },
        )
        history = {
            str(r["id"]): sorted(
                (
                    (parse_cursor(v.get("timestamp")), str(v.get("value")))
                    for v in (r.get("propertiesWithHistory") or {}).get("dealstage") or []
                ),
                key=lambda entry: entry[0] or datetime.min.replace(tzinfo=UTC),
            )
            for r in body.get("results") or []
        }
        for item in items:
            record = self._record("cancellations", "deals", item, archived)
            versions = history.get(str(item["id"]), [])
            cancelled_at, stage = None, None
            for (_, before), (moment, after) in zip(versions, versions[1:], strict=False):
                if before in won and after in lost:
                    cancelled_at, stage = moment, after
            if cancelled_at is None:
                continue  # never won, then lost: nothing to record
            current = versions[-1][1] if versions else None
            record.data["cancellation_id"] = f"deal-{item['id']}"
            record.data["cancelled_at"] = cancelled_at.isoformat() if cancelled_at else None
            record.data["cancellation_reason"] = f"won, then moved to {labels.get(stage or '', stage)}"
            record.deleted = record.deleted or current not in lost
            yield record

    def _read_spend(self, state: StreamState) -> Iterator[Record | Checkpoint]:
        """Every campaign's spend items, read whole on every sync (the API reports no deletions)."""
        position = state.position or {}
        params = {"limit": 100, "properties": "hs_name,hs_start_date,hs_end_date,hs_campaign_status,hs_owner"}

        def fetch(after: Any) -> Any:
            try:
                return self.api.get_json(
                    "/marketing/v3/campaigns", params={**params, **({"after": after} if after else {})}
                )
            except AuthenticationError as exc:
                if exc.status == 403:
                    raise StreamUnavailable(
                        "HubSpot refused the marketing campaigns API (campaign budgets need Marketing Hub "
                        "Professional and the marketing.campaigns.read scope).",
                        status=403,
                    ) from None
                raise

        for page in cursor_pages(
            fetch, records="results", next_cursor="paging.next.after", start=position.get("after")
        ):
            for campaign in page.records:
                guid = str(campaign["id"])
                props = campaign.get("properties") or {}
                totals = self.api.get_json(f"/marketing/v3/campaigns/{guid}/budget/totals")
                for item in totals.get("spendItems") or []:
                    created = _epoch_ms_iso(item.get("createdAt"))
                    yield Record(
                        "campaign_spend",
                        {
                            "id": str(item["id"]),
                            "name": item.get("name"),
                            "amount": _number_text(item.get("amount")),
                            "currency_code": totals.get("currencyCode"),
                            "campaign_id": guid,
                            "campaign_name": props.get("hs_name"),
                            "spend_day": (props.get("hs_start_date") or created or "")[:10] or None,
                            "createdAt": created,
                            "updatedAt": _epoch_ms_iso(item.get("updatedAt")),
                        },
                    )
            yield Checkpoint("campaign_spend", {"after": page.next} if page.next else None)

    def _associations(self, kind: str, to: str, ids: list[str]) -> dict[str, list[str]]:
        """Linked record ids per id, from the v4 batch read (search results carry no associations)."""
        body = self.api.post_json(f"/crm/v4/associations/{kind}/{to}/batch/read", {"inputs": [{"id": i} for i in ids]})
        return {str(r["from"]["id"]): [str(t["toObjectId"]) for t in r.get("to", [])] for r in body.get("results", [])}

    @staticmethod
    def _record(stream: str, kind: str, item: dict[str, Any], archived: bool) -> Record:
        props = item.get("properties") or {}
        data: dict[str, Any] = {
            **props,
            "id": str(item["id"]),
            "createdAt": item.get("createdAt"),
            "updatedAt": item.get("updatedAt"),
            "archivedAt": item.get("archivedAt"),
        }
        links = {
            name: [str(r["id"]) for r in (value or {}).get("results", [])]
            for name, value in (item.get("associations") or {}).items()
        }
        if kind == "deals":
            won, closed = props.get("hs_is_closed_won"), props.get("hs_is_closed")
            data["deal_status"] = (
                "won" if won == "true" else "lost" if closed == "true" else "open" if closed == "false" else None
            )
            if "companies" in links:
                data["company_id"] = links["companies"][0] if links["companies"] else None
        elif kind == "commerce_payments":
            data["payment_status"] = props.get("hs_latest_status")
            data["deal_id"] = links["deals"][0] if links.get("deals") else None
            data["company_id"] = links["companies"][0] if links.get("companies") else None
            if stream == "payments" and str(props.get("hs_latest_status") or "").lower() in NOT_RECEIVED:
                return Record(stream, data, deleted=True)
        elif kind == "contacts":
            data["name"] = " ".join(p for p in (props.get("firstname"), props.get("lastname")) if p) or None
            source = props.get("hs_analytics_source")
            data["channel"] = source.lower() if source else None
        else:
            data["engagement_kind"] = KINDS[kind]
            if "deals" in links:
                data["deal_id"] = links["deals"][0] if links["deals"] else None
            data["subject"] = (
                props.get("hs_call_title") or props.get("hs_meeting_title") or props.get("hs_task_subject")
            )
            data["duration_seconds"] = _duration(kind, props)
        return Record(stream, data, deleted=archived or bool(item.get("archived")))


def _epoch_ms_iso(value: Any) -> str | None:
    """A time in epoch milliseconds (as the campaigns API sends them) as ISO 8601 UTC text."""
    if value in (None, ""):
        return None
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC).isoformat()


def _number_text(value: Any) -> Any:
    """A JSON number as the exact text HubSpot sent (the HTTP client decodes numbers as Decimal)."""
    return value if value is None or isinstance(value, str) else str(value)


def _property_chunks(properties: list[str]) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    length = 0
    for name in properties:
        if chunks[-1] and length + len(name) + 1 > MAX_PROPERTIES_LENGTH:
            chunks.append([])
            length = 0
        chunks[-1].append(name)
        length += len(name) + 1
    return chunks


def _duration(kind: str, props: dict[str, Any]) -> int | None:
    if kind == "calls" and (props.get("hs_call_duration") or "").isdigit():
        return int(props["hs_call_duration"]) // 1000
    if kind == "meetings":
        start, end = parse_cursor(props.get("hs_meeting_start_time")), parse_cursor(props.get("hs_meeting_end_time"))
        if start and end and end >= start:
            return int((end - start).total_seconds())
    return None
