"""The Fxiaoke 纷享销客 open API connector: corpAccessToken, CRM data query, HTTP-200 error codes."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import requests
from pydantic import Field, SecretStr, field_validator

from kpi_engine import (
    AuthenticationError,
    Checkpoint,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Entity,
    HttpClient,
    RateLimited,
    Record,
    Stream,
    StreamState,
    TransientError,
    default_classify,
    register_secret,
    secret_field,
)

__all__ = ["FxiaokeConnector", "FxiaokeSettings", "classify"]

TOKEN_PATH = "/cgi/corpAccessToken/get/V2"
QUERY_PATH = "/cgi/crm/v2/data/query"
DESCRIBE_PATH = "/cgi/crm/v2/object/describe"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class FxiaokeSettings(ConnectorSettings):
    """The open-platform app and the user whose data permissions the calls use."""

    app_id: str = Field(description="appId of the open-platform app (FSAID_…)")
    app_secret: SecretStr = secret_field("appSecret of the app")
    permanent_code: SecretStr = secret_field("permanentCode the tenant granted the app")
    open_user_id: str = Field(description="currentOpenUserId: the user (FSUID_…) whose data permissions the sync uses")
    base_url: str = Field("https://open.fxiaoke.com", description="API root")
    page_size: int = Field(100, ge=1, le=100, description="Records per call (the API allows at most 100)")
    calls_per_20s: int = Field(
        100, ge=1, le=100, description="Budget per endpoint per 20 seconds (the published limit is 100)"
    )

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be a URL such as https://open.fxiaoke.com")
        return value


@dataclass(frozen=True)
class _Object:
    stream: str
    api_name: str
    entity: Entity
    fields: tuple[str, ...]
    deletes: bool
    labels: tuple[str, ...] = ()
    """Option fields whose labels (from describe) are added as ``kpi_<field>_label``."""
    description: str = ""


_STAMPS = ("_id", "create_time", "last_modified_time", "life_status", "is_deleted")
OBJECTS = {
    o.stream: o
    for o in (
        _Object(
            "people",
            "PersonnelObj",
            "people",
            (*_STAMPS, "user_id", "name", "email", "status", "main_department", "leader"),
            deletes=False,
            description="人员: the tenant's employees (owners of records)",
        ),
        _Object(
            "opportunities",
            "NewOpportunityObj",
            "deals",
            (*_STAMPS, "name", "amount", "close_date", "sales_stage", "owner", "account_id", "mc_currency"),
            deletes=True,
            labels=("sales_stage",),
            description="商机 (NewOpportunityObj); invalidated ones are tombstones",
        ),
        _Object(
            "activities",
            "ActiveRecordObj",
            "activities",
            (*_STAMPS, "active_record_content", "active_record_type", "owner", "related_object_data", "location"),
            deletes=True,
            labels=("active_record_type",),
            description="销售记录/跟进记录 (ActiveRecordObj)",
        ),
        _Object(
            "leads",
            "LeadsObj",
            "leads",
            (*_STAMPS, "name", "company", "source", "owner", "biz_status", "transform_time", "new_opportunity_id"),
            deletes=True,
            labels=("source",),
            description="线索 (LeadsObj); leads in a 线索池 have no owner",
        ),
        _Object(
            "payments",
            "PaymentObj",
            "payments",
            (*_STAMPS, "name", "account_id", "order_id", "amount", "payment_time", "owner"),
            deletes=True,
            description="回款 (PaymentObj), credited to the 商机 of its 销售订单; only normal ones are cash",
        ),
        _Object(
            "refunds",
            "RefundObj",
            "refunds",
            (*_STAMPS, "name", "account_id", "order_id", "refunded_amount", "refunded_time", "owner"),
            deletes=True,
            description="退款 (RefundObj), against the 商机 of its 销售订单",
        ),
        _Object(
            "campaign_spend",
            "MarketingEventObj",
            "marketing_spend",
            (*_STAMPS, "name", "event_type", "begin_time", "end_time", "actual_cost", "owner"),
            deletes=True,
            labels=("event_type",),
            description="市场活动 (MarketingEventObj): its actual cost on its start day",
        ),
    )
}
TIME_FIELDS = {
    "create_time",
    "last_modified_time",
    "close_date",
    "transform_time",
    "payment_time",
    "refunded_time",
    "begin_time",
    "end_time",
}
"""Fields sent as epoch milliseconds; the connector hands them on as ISO 8601 UTC."""
_DERIVED_PREFIX = "kpi_"
SHANGHAI = ZoneInfo("Asia/Shanghai")
RECEIVED = {"normal", "in_change"}
"""life_status of a 回款 or 退款 that took effect (正常, 变更中); 未生效 and 审核中 ones are not yet money."""
BY_ORDER = {"PaymentObj", "RefundObj"}
"""Objects that name a 销售订单 (``order_id``): the connector adds the order's 商机 as ``kpi_deal_id``."""


def epoch_ms(moment: datetime) -> int:
    """Exact epoch milliseconds of an aware datetime (integer arithmetic, no binary float)."""
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def iso_from_ms(value: Any) -> str | None:
    """ISO 8601 UTC text of epoch milliseconds (``1735228800000`` → ``2024-12-26T16:00:00.000+00:00``)."""
    if value is None or value == "":
        return None
    ms = int(value)
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC).replace(microsecond=millis * 1000)
    return moment.isoformat(timespec="milliseconds")


def _body(response: requests.Response) -> Any:
    """The decoded JSON of an answer (decoded once, numbers with a point as ``Decimal``)."""
    cached = getattr(response, "_kpi_body", None)
    if cached is None:
        cached = json.loads(response.content, parse_float=Decimal)
        response._kpi_body = cached  # type: ignore[attr-defined]  # the decoded body cached on the answer itself
    return cached


def classify(response: requests.Response) -> ConnectorError | None:
    """Fxiaoke's errors arrive as HTTP 200 with an ``errorCode``; other statuses are read as usual."""
    if response.status_code != 200:
        return default_classify(response)
    try:
        body = _body(response)
    except ValueError:
        return TransientError("Fxiaoke sent an answer that is not JSON.", status=200)
    code = body.get("errorCode", 0) if isinstance(body, dict) else 0
    if code in (0, "0", None):
        return None
    code = int(code)
    message = str(body.get("errorMessage") or "")
    trace = body.get("traceId") or ""
    if code == 20016:
        return AuthenticationError(
            f"Fxiaoke refused the corpAccessToken (errorCode 20016: {message}).", expired=True, status=200
        )
    if code == 30004:
        return RateLimited(
            f"Fxiaoke's per-second call limit was hit (errorCode 30004: {message}).",
            retry_after=1.0,
            scope="secondly",
            status=200,
        )
    if code == 14001:
        return RateLimited(
            f"Fxiaoke's call limit was hit (errorCode 14001: {message}).",
            retry_after=20.0,
            scope="burst",
            status=200,
            hint="the published budget is 100 calls per 20 seconds per endpoint; lower calls_per_20s",
        )
    if code == 30002:
        return RateLimited(
            f"the tenant's daily Fxiaoke API quota is used up (errorCode 30002: {message}).",
            scope="daily",
            status=200,
            hint="the sync stops and resumes from its last page on the next run",
        )
    if code == 30003:
        return ConnectorError(
            f"the tenant has no Fxiaoke API quota (errorCode 30003: {message}).",
            status=200,
            hint="the tenant's administrator must buy the open API package",
        )
    if code == 10013:
        return ConnectorError(
            f"Fxiaoke refused the page asked for (errorCode 10013: {message}).",
            status=200,
            hint="page_size must be 1 to 100; report this if it persists",
        )
    return ConnectorError(
        f"Fxiaoke refused the call (errorCode {code}: {message}{f', traceId {trace}' if trace else ''}).",
        status=200,
        hint="check the app's permissions and the open_user_id setting",
    )


class _CorpToken:
    """The corpAccessToken: fetched once, kept until shortly before ``expiresIn``, refreshed one at a time.

    The token endpoint accepts 10 calls a minute and no concurrency, so the token is cached in
    the context's token store between runs.
    """

    MARGIN = 300  # seconds before the announced expiry when a new token is fetched

    def __init__(self, connector: FxiaokeConnector) -> None:
        self.connector = connector
        s = connector.settings
        self.key = f"fxiaoke:{s.app_id}"
        self.store = connector.context.token_store
        self.http = connector.http_client(s.base_url, classify=classify)
        self._lock = threading.Lock()
        saved = self.store.load(self.key) or {}
        self.value: str | None = saved.get("corpAccessToken")
        self.corp_id: str | None = saved.get("corpId")
        self.expires_at: int = int(saved.get("expires_at") or 0)
        self.refreshes = 0
        register_secret(self.value)

    def get(self) -> tuple[str, str]:
        with self._lock:
            if (
                self.value is None or self.corp_id is None or time.time() >= self.expires_at - self.MARGIN
            ):  # float ok: wall-clock seconds
                self._fetch()
            assert self.value is not None and self.corp_id is not None
            return self.value, self.corp_id

    def refresh(self, stale: str) -> None:
        with self._lock:
            if self.value == stale:
                self._fetch()

    def _fetch(self) -> None:
        s = self.connector.settings
        body = {
            "appId": s.app_id,
            "appSecret": s.app_secret.get_secret_value(),
            "permanentCode": s.permanent_code.get_secret_value(),
        }
        try:
            response = self.http.request("POST", TOKEN_PATH, params={"thirdTraceId": str(uuid.uuid4())}, json=body)
        except (RateLimited, TransientError):
            raise
        except ConnectorError as exc:
            raise AuthenticationError(
                f"Fxiaoke did not issue a corpAccessToken: {exc.message}",
                hint="check app_id, app_secret and permanent_code",
            ) from None
        answer = _body(response)
        token, corp = answer.get("corpAccessToken"), answer.get("corpId")
        if not token or not corp:
            raise AuthenticationError("Fxiaoke answered the token call without a corpAccessToken.")
        register_secret(token)
        self.value, self.corp_id = str(token), str(corp)
        self.expires_at = int(time.time()) + int(answer.get("expiresIn") or 7200)
        self.refreshes += 1
        self.store.save(
            self.key, {"corpAccessToken": self.value, "corpId": self.corp_id, "expires_at": self.expires_at}
        )
        self.connector.log.info("fetched a corpAccessToken (fetch %d)", self.refreshes)


class FxiaokeConnector(Connector):
    """商机, 人员, 销售记录 and 线索 of a Fxiaoke tenant through the open API."""

    name = "fxiaoke"
    description = (
        "Fxiaoke 纷享销客 open API: opportunities, people, activities, leads, 回款 payments, 退款 refunds, "
        "市场活动 costs"
    )
    unsupported = {
        "deal_splits": "Fxiaoke's open API documents no credit-split object (a 商机's 相关团队 has roles, not shares)",
    }
    settings_model = FxiaokeSettings
    mapping_file = Path(__file__).with_name("mapping.yaml")

    settings: FxiaokeSettings

    def __init__(self, settings: FxiaokeSettings, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.http: HttpClient = self.http_client(
            settings.base_url, classify=classify, rate_limit=(settings.calls_per_20s, 20.0)
        )
        self.token = _CorpToken(self)
        self._labels: dict[tuple[str, str], dict[str, str]] = {}

    # --- the SDK's three verbs ----------------------------------------------------------

    def streams(self) -> list[Stream]:
        return [
            Stream(
                name=o.stream,
                entity=o.entity,
                primary_key="_id",
                cursor_field="last_modified_time",
                cursor_format="iso8601",
                reports_deletes=o.deletes,
                description=o.description,
            )
            for o in OBJECTS.values()
        ]

    def check(self) -> str:
        data = self._query("PersonnelObj", {"limit": 1, "offset": 0})
        total = data.get("total", data.get("totalSize", "?"))
        return f"signed in to tenant {self.token.corp_id}; {total} people visible to {self.settings.open_user_id}"

    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | Checkpoint]:
        """Keyset pages on ``(last_modified_time, _id)`` with ``offset`` 0, so the 10,000-offset wall never applies.

        Modes: ``gte`` reads ``last_modified_time >= after`` and drops what was already read at
        ``after``; when a whole page shares ``after``, ``ties`` reads that instant by ``_id``;
        then ``gt`` moves past it.
        """
        obj = OBJECTS[stream.name]
        limit = self.settings.page_size
        position = state.position or {}
        after: int | None = position.get("after")
        last_id: str | None = position.get("id")
        mode: str = position.get("mode", "gte")
        if not position and state.since is not None:
            after = epoch_ms(state.since)
        projection = sorted(set(obj.fields) | {f for f in state.fields if not f.startswith(_DERIVED_PREFIX)})
        labels = {name: self._option_labels(obj.api_name, name) for name in obj.labels}
        while True:
            if mode == "ties":
                filters = [_filter("last_modified_time", "EQ", after), _filter("_id", "GT", last_id)]
                orders = [{"fieldName": "_id", "isAsc": True}]
            else:
                filters = (
                    [] if after is None else [_filter("last_modified_time", "GTE" if mode == "gte" else "GT", after)]
                )
                orders = [{"fieldName": "last_modified_time", "isAsc": True}, {"fieldName": "_id", "isAsc": True}]
            data = self._query(
                obj.api_name,
                {"limit": limit, "offset": 0, "filters": filters, "orders": orders, "fieldProjection": projection},
            )
            rows = data.get("dataList") or []
            full = len(rows) >= limit
            if mode == "gte" and last_id is not None and after is not None:
                fresh = [r for r in rows if (int(r["last_modified_time"]), str(r["_id"])) > (after, last_id)]
            else:
                fresh = rows
            deal_of = self._order_deals([r.get("order_id") for r in fresh]) if obj.api_name in BY_ORDER else {}
            for raw in fresh:
                record = self._record(obj, raw, labels)
                if obj.api_name in BY_ORDER:
                    record.data["kpi_deal_id"] = deal_of.get(str(raw.get("order_id") or ""))
                    record.deleted = record.deleted or raw.get("life_status") not in RECEIVED
                yield record
            if mode == "ties":
                if fresh:
                    last_id = str(fresh[-1]["_id"])
                if not full:
                    mode = "gt"  # that instant is done: move past it
            else:
                if fresh:
                    after, last_id, mode = int(fresh[-1]["last_modified_time"]), str(fresh[-1]["_id"]), "gte"
                elif full:  # a whole page of records already read at `after`: finish that instant by _id
                    mode = "ties"
                if not full:
                    break
            yield Checkpoint(stream.name, {"after": after, "id": last_id, "mode": mode})
        yield Checkpoint(stream.name, None)

    # --- helpers ------------------------------------------------------------------------

    def _record(self, obj: _Object, raw: dict[str, Any], labels: dict[str, dict[str, str]]) -> Record:
        data: dict[str, Any] = {}
        for key, value in raw.items():
            if key in TIME_FIELDS:
                data[key] = iso_from_ms(value)
            elif key == "related_object_data":
                deal = next(
                    (item.get("id") for item in value or [] if item.get("describe_api_name") == "NewOpportunityObj"),
                    None,
                )
                data["kpi_deal_id"] = deal
            elif isinstance(value, list):  # owner ["1000"], leader, main_department: the first element
                data[key] = str(value[0]) if value else None
            else:
                data[key] = value
        for name, options in labels.items():
            value = raw.get(name)
            data[f"kpi_{name}_label"] = options.get(str(value), value) if value is not None else None
        if obj.api_name == "MarketingEventObj":
            begin = raw.get("begin_time")
            data["kpi_day"] = (
                datetime.fromtimestamp(int(begin) // 1000, tz=UTC).astimezone(SHANGHAI).date().isoformat()
                if begin not in (None, "")
                else None
            )
        if obj.api_name == "ActiveRecordObj":
            data["kpi_has_evidence"] = bool(raw.get("location"))  # a check-in location was recorded
            content = str(raw.get("active_record_content") or "").strip()
            data["kpi_subject"] = content.splitlines()[0][:200] if content else None
        deleted = raw.get("life_status") == "invalid" or bool(raw.get("is_deleted"))
        return Record(obj.stream, data, deleted=deleted)

    def _order_deals(self, order_ids: list[Any]) -> dict[str, str]:
        """The 商机 (``new_opportunity_id``) of each 销售订单, read in batches of 100 by ``_id``."""
        wanted = sorted({str(i) for i in order_ids if i})
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            data = self._query(
                "SalesOrderObj",
                {
                    "limit": 100,
                    "offset": 0,
                    "filters": [{"field_name": "_id", "operator": "IN", "field_values": chunk}],
                    "fieldProjection": ["_id", "new_opportunity_id", "account_id"],
                },
            )
            for row in data.get("dataList") or []:
                if row.get("new_opportunity_id"):
                    found[str(row["_id"])] = str(row["new_opportunity_id"])
        return found

    def _option_labels(self, api_name: str, field: str) -> dict[str, str]:
        key = (api_name, field)
        if key not in self._labels:
            describe = (self._call(DESCRIBE_PATH, {"apiName": api_name}).get("describe") or {}).get("fields") or {}
            options = (describe.get(field) or {}).get("options") or []
            self._labels[key] = {str(o.get("value")): str(o.get("label")) for o in options}
        return self._labels[key]

    def _query(self, api_name: str, search: dict[str, Any]) -> dict[str, Any]:
        return self._call(
            QUERY_PATH,
            {"data": {"dataObjectApiName": api_name, "find_explicit_total_num": True, "search_query_info": search}},
        )

    def _call(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST with the token in the body; an expired token (20016) is refreshed once and the call repeated."""
        for attempt in (1, 2):
            token, corp = self.token.get()
            body = {
                "corpAccessToken": token,
                "corpId": corp,
                "currentOpenUserId": self.settings.open_user_id,
                **payload,
            }
            try:
                response = self.http.request("POST", path, params={"thirdTraceId": str(uuid.uuid4())}, json=body)
            except AuthenticationError as exc:
                if exc.expired and attempt == 1:
                    self.log.info("the corpAccessToken expired; fetching a new one")
                    self.token.refresh(token)
                    continue
                raise AuthenticationError(
                    f"{exc.message} A new token was refused too.",
                    hint="check that the app is still authorised by the tenant",
                ) from None
            return _body(response).get("data") or {}
        raise AssertionError("unreachable")


def _filter(field: str, operator: str, value: Any) -> dict[str, Any]:
    return {"field_name": field, "operator": operator, "field_values": [value]}
