"""A local Fxiaoke 纷享销客 open API (corpAccessToken, CRM data query, describe) on 127.0.0.1.

It reproduces what the real service does (docs/connectors/fxiaoke.md):

- Every call is a ``POST`` with ``?thirdTraceId=<uuid4>`` and a JSON body; **errors come back
  as HTTP 200** with a non-zero ``errorCode``.
- ``/cgi/corpAccessToken/get/V2 {appId, appSecret, permanentCode}`` answers
  ``{errorCode:0, corpAccessToken, corpId, expiresIn:7200}``; the token endpoint takes at most
  10 calls a minute. Every other call sends ``corpAccessToken``/``corpId``/``currentOpenUserId``
  in its body; an expired or unknown token answers ``{"errorCode":20016,"errorMessage":"the
  cropId,cropAccessToken or authorization is error"}``.
- ``/cgi/crm/v2/data/query {data:{dataObjectApiName, search_query_info:{limit, offset, filters,
  orders, fieldProjection}}}`` answers ``{errorCode:0, data:{total|totalSize, offset, limit,
  dataList}}`` (``total`` for NewOpportunityObj and PersonnelObj, ``totalSize`` for the others:
  the real API is inconsistent). ``limit`` is at most 100, ``offset`` must be a multiple of
  ``limit`` and may not pass 10,000 (errorCode 10013). Filters ``EQ N GT GTE LT LTE IN NIN``,
  several ``orders``.
- ``/cgi/crm/v2/object/describe {apiName}`` gives the tenant's options (stages, activity types).
- Limits: 100 calls per 20 s per endpoint (errorCode 14001 "调用超过限制", switched on by
  ``window_limit``), the per-second limit (30004), the purchased daily quota (30002).
- Money after the deal: ``SalesOrderObj`` (销售订单 of won 商机, naming it in
  ``new_opportunity_id``), ``PaymentObj`` (回款: ``amount`` a string, ``payment_time`` a date,
  ``order_id``; some ``under_review``), ``RefundObj`` (退款: ``refunded_amount``,
  ``refunded_time``) and ``MarketingEventObj`` (市场活动: ``actual_cost``, ``begin_time``,
  ``event_type``). Their field names are the mock's reading of the open platform and are
  marked unverified in docs/connectors/fxiaoke.md, except PaymentObj's ``amount`` and
  ``payment_time``.
- Records: ``NewOpportunityObj`` (商机; ``amount`` as a **string**, ``close_date`` as epoch
  milliseconds of midnight in Asia/Shanghai, ``owner`` as a **list** ``["1000"]``,
  ``sales_stage`` ``stage_1``…``stage_7``), ``PersonnelObj`` (人员), ``ActiveRecordObj``
  (销售记录/跟进记录) and ``LeadsObj`` (线索). Times are epoch milliseconds. Invalidated
  records (作废) keep answering with ``life_status:"invalid"`` and a new ``last_modified_time``;
  deleted ones disappear, as on the real service, which has no documented delete feed.

Which errorCode the real API gives for a bad ``limit`` or an ``offset`` that is not a multiple
of ``limit``, for wrong app credentials (here 20001) and for the token endpoint's own limit
(here 30004) is not documented; the mock's choices are marked unverified in the connector docs.

Seeded deterministically (``seed``); ``bulk_update`` opportunities share one
``last_modified_time`` (more than a page). Scriptable faults (``Faults``): every k-th call
answers 30004, bursts of HTTP 502 from the gateway, tokens that expire after N calls, slow answers.

Run on its own::

    python -m tests.support.mock_servers.fxiaoke --port 8083 --opportunities 1000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

__all__ = ["APP_ID", "APP_SECRET", "CORP_ID", "OPEN_USER_ID", "PERMANENT_CODE", "Faults", "FxiaokeMock", "main"]

APP_ID = "FSAID_mock1318"
APP_SECRET = "mock-app-secret-7c3a"
PERMANENT_CODE = "mock-permanent-code-5d2e"
CORP_ID = "FSCID_mock0001"
OPEN_USER_ID = "FSUID_MOCK0001"
DEFAULT_NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
MAX_LIMIT, MAX_OFFSET = 100, 10_000

STAGES = {  # value → label; which ones mean won or lost is the tenant's choice (describe)
    "stage_1": "验证客户",
    "stage_2": "需求确定",
    "stage_3": "方案/报价",
    "stage_4": "谈判审核",
    "stage_5": "赢单",
    "stage_6": "输单",
    "stage_7": "无效",
}
ACTIVITY_TYPES = {"phone": "电话", "visit": "拜访", "meeting": "会议", "email": "邮件", "follow_up": "跟进"}
LEAD_SOURCES = {"1": "官网", "2": "电话咨询", "3": "展会", "4": "渠道推荐", "5": "广告"}
EVENT_TYPES = {"meeting": "会议", "exhibition": "展会", "online": "线上推广", "ads": "广告"}
OBJECTS = (
    "PersonnelObj",
    "NewOpportunityObj",
    "ActiveRecordObj",
    "LeadsObj",
    "SalesOrderObj",
    "PaymentObj",
    "RefundObj",
    "MarketingEventObj",
)
_TOTAL_NAME = {
    "PersonnelObj": "total",
    "NewOpportunityObj": "total",
    "ActiveRecordObj": "totalSize",
    "LeadsObj": "totalSize",
    "SalesOrderObj": "totalSize",
    "PaymentObj": "totalSize",
    "RefundObj": "totalSize",
    "MarketingEventObj": "totalSize",
}


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class Faults:
    """Scripted misbehaviour; 0 switches a fault off. Counts are of API calls (not token calls)."""

    rate_limit_every: int = 0
    """Every k-th call answers errorCode 30004 (the per-second limit), HTTP 200."""
    error_burst_every: int = 0
    """Every k-th call starts a burst of ``error_burst_length`` HTTP 502 pages from the gateway."""
    error_burst_length: int = 2
    token_ttl: int = 0
    """A corpAccessToken expires after this many calls (then errorCode 20016)."""
    delay: float = 0.0  # float ok: seconds of sleep before each answer
    daily_limit: int = 1_000_000
    """The purchased daily quota; past it every call answers errorCode 30002."""
    window_limit: int = 0
    """Calls per endpoint in ``window_seconds`` before errorCode 14001 (the real limit: 100 per 20 s)."""
    window_seconds: int = 20


@dataclass
class _Token:
    value: str
    expires: float
    uses_left: int | None


class FxiaokeError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class FxiaokeMock:
    """The tenant's data, tokens, clock and faults; ``start()`` serves it on 127.0.0.1."""

    def __init__(
        self,
        *,
        opportunities: int = 1000,
        people: int | None = None,
        activities: int | None = None,
        leads: int | None = None,
        seed: int = 7,
        now: datetime = DEFAULT_NOW,
        bulk_update: int | None = None,
        faults: Faults | None = None,
        token_lifetime: int = 7200,
    ) -> None:
        self.faults = faults or Faults()
        self.token_lifetime = token_lifetime
        self._now0, self._mono0 = now, time.monotonic()
        self._lock = threading.RLock()
        self._rng = random.Random(seed)
        self._serial = 0
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in OBJECTS}
        self._tokens: dict[str, _Token] = {}
        self._token_calls: deque[float] = deque()
        self._windows: dict[str, deque[float]] = {}
        self.api_calls = 0
        self.tokens_issued = 0
        self.requests_log: list[tuple[str, dict[str, Any]]] = []
        self._burst_left = 0
        self._server: ThreadingHTTPServer | None = None
        self._seed(opportunities, people, activities, leads, bulk_update)

    # -- clock and ids --

    def now(self) -> datetime:
        return self._now0 + timedelta(seconds=time.monotonic() - self._mono0)

    def now_ms(self) -> int:
        return epoch_ms(self.now())

    def _object_id(self) -> str:
        """A 24-hex id like the CRM's (time-ordered prefix, then a serial)."""
        self._serial += 1
        return f"65{self._rng.randrange(16**6):06x}{self._serial:016x}"

    # -- seeding --

    def _moment(self, days_max: int, days_min: int = 1) -> datetime:
        return self._now0 - timedelta(seconds=self._rng.randint(days_min * 86400, days_max * 86400))

    def _seed(
        self, n_opps: int, n_people: int | None, n_acts: int | None, n_leads: int | None, bulk: int | None
    ) -> None:
        rng = self._rng
        surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
        given = [
            "伟",
            "芳",
            "娜",
            "敏",
            "静",
            "磊",
            "洋",
            "艳",
            "勇",
            "军",
            "杰",
            "娟",
            "涛",
            "明",
            "超",
            "秀英",
            "桂英",
            "志强",
        ]
        n_people = n_people if n_people is not None else max(8, n_opps // 40)
        people = []
        for i in range(n_people):
            uid = str(1000 + i)
            name = surnames[i % len(surnames)] + given[(i * 5) % len(given)]
            created = self._moment(900, 400)
            person = {
                "_id": uid,
                "user_id": uid,
                "name": name,
                "full_name": name,
                "email": f"user{uid}@example.cn",
                "phone": f"1380000{1000 + i:04d}",
                "status": "0" if i % 17 != 16 else "1",
                "main_department": ["1001" if i % 2 else "1002"],
                "leader": ["1000"] if i else [],
                "position": "销售经理" if i == 0 else "销售代表",
                "create_time": epoch_ms(created),
                "last_modified_time": epoch_ms(self._moment(380, 30)),
                "life_status": "normal",
                "is_deleted": False,
            }
            people.append(person)
            self.records["PersonnelObj"][uid] = person
        owners = [p["user_id"] for p in people]
        customers = [
            "华东建材",
            "星河科技",
            "蓝海物流",
            "金穗食品",
            "远航汽配",
            "天成医药",
            "恒通电子",
            "瑞丰农业",
            "北辰地产",
            "云帆教育",
        ]
        opps = []
        for i in range(n_opps):
            created = self._moment(360, 2)
            stage = rng.choices(list(STAGES), weights=[6, 5, 5, 5, 9, 5, 1])[0]
            close_day = (created.astimezone(SHANGHAI) + timedelta(days=rng.randint(5, 120))).date()
            close_ms = epoch_ms(datetime(close_day.year, close_day.month, close_day.day, tzinfo=SHANGHAI))
            amount = f"{rng.randint(50, 20000) * 100}.{rng.choice(['00', '00', '50', '88'])}"
            room = int((self._now0 - timedelta(hours=1) - created).total_seconds())
            modified = created + timedelta(seconds=rng.randint(0, max(0, min(room, 60 * 86400))))
            opp = {
                "_id": self._object_id(),
                "name": f"{customers[i % len(customers)]}-{rng.choice(['新签', '续约', '增购', '试点'])}{i}",
                "account_id": f"65acc{(i % 97):019x}",
                "amount": amount,
                "close_date": close_ms,
                "sales_stage": stage,
                "owner": [rng.choice(owners)] if i % 53 != 52 else [],
                "mc_currency": "USD" if i % 31 == 7 else "CNY",
                "create_time": epoch_ms(created),
                "last_modified_time": epoch_ms(modified),
                "life_status": "normal",
                "is_deleted": False,
                "record_type": "default__c",
                "probability": str(rng.choice([10, 20, 50, 80, 100])),
            }
            if i % 5 == 1 and opps:  # saved in the same millisecond as the previous one
                opp["last_modified_time"] = max(opps[-1]["last_modified_time"], opp["create_time"])
            opps.append(opp)
            self.records["NewOpportunityObj"][opp["_id"]] = opp
        bulk = bulk if bulk is not None else min(len(opps) // 4, 250)
        if bulk:  # an import or a mass reassignment: one instant for all of them
            instant = epoch_ms(self._now0 - timedelta(days=20))
            for opp in rng.sample(opps, bulk):
                if opp["create_time"] <= instant:
                    opp["last_modified_time"] = instant
        contents = ["电话沟通需求", "上门拜访，演示产品", "发送报价单", "商务谈判", "回访客户使用情况", "确认合同条款"]
        for i in range(n_acts if n_acts is not None else n_opps):
            when = self._moment(300, 1)
            kind = rng.choice(list(ACTIVITY_TYPES))
            opp = rng.choice(opps) if opps else None
            act = {
                "_id": self._object_id(),
                "active_record_content": rng.choice(contents),
                "active_record_type": kind,
                "owner": opp["owner"] if opp and opp["owner"] else [rng.choice(owners)],
                "related_object_data": [{"describe_api_name": "NewOpportunityObj", "id": opp["_id"]}] if opp else [],
                "location": "上海市浦东新区张江路88号" if kind == "visit" and i % 3 else None,
                "create_time": epoch_ms(when),
                "last_modified_time": epoch_ms(when + timedelta(minutes=rng.randint(0, 300))),
                "life_status": "normal",
                "is_deleted": False,
            }
            self.records["ActiveRecordObj"][act["_id"]] = act
        for i in range(n_leads if n_leads is not None else n_opps // 2):
            created = self._moment(360, 1)
            converted = opps and i % 6 == 0
            lead = {
                "_id": self._object_id(),
                "name": surnames[i % len(surnames)] + "先生" if i % 2 else surnames[i % len(surnames)] + "女士",
                "company": rng.choice(customers),
                "source": rng.choice(list(LEAD_SOURCES)),
                "owner": [] if i % 11 == 3 else [rng.choice(owners)],  # unassigned leads sit in the 线索池
                "leads_pool_id": "65pool0000000000000000001" if i % 11 == 3 else None,
                "biz_status": "transformed"
                if converted
                else rng.choice(["un_assigned", "un_processed", "processed", "closed"]),
                "transform_time": epoch_ms(created + timedelta(days=9)) if converted else None,
                "new_opportunity_id": rng.choice(opps)["_id"] if converted else None,
                "create_time": epoch_ms(created),
                "last_modified_time": epoch_ms(
                    min(created + timedelta(days=rng.randint(0, 20)), self._now0 - timedelta(hours=2))
                ),
                "life_status": "normal",
                "is_deleted": False,
            }
            self.records["LeadsObj"][lead["_id"]] = lead
        self._seed_money(opps, owners, customers)
        for name in (
            "NewOpportunityObj",
            "ActiveRecordObj",
            "LeadsObj",
            "PaymentObj",
            "RefundObj",
            "MarketingEventObj",
        ):  # 作废: invalidated last week
            for k, row in enumerate(self.records[name].values()):
                if k % 50 == 17:
                    row.update(
                        life_status="invalid",
                        last_modified_time=epoch_ms(self._now0 - timedelta(days=1 + k % 10, seconds=k)),
                    )

    def _day_ms(self, moment: datetime, days: int = 0) -> int:
        """Epoch ms of midnight in Asia/Shanghai, ``days`` after the day of ``moment`` (date fields)."""
        day = (moment.astimezone(SHANGHAI) + timedelta(days=days)).date()
        return epoch_ms(datetime(day.year, day.month, day.day, tzinfo=SHANGHAI))

    def _stamped(self, row: dict[str, Any], created: datetime, modified: datetime) -> dict[str, Any]:
        cap = self._now0 - timedelta(minutes=30)
        row.update(
            create_time=epoch_ms(min(created, cap)),
            last_modified_time=epoch_ms(min(max(modified, created), cap)),
            life_status="normal",
            is_deleted=False,
        )
        return row

    def _seed_money(self, opps: list[dict[str, Any]], owners: list[str], customers: list[str]) -> None:
        """销售订单 of won 商机 (and a few without one), their 回款 and 退款, and 市场活动 with their costs."""
        rng = self._rng
        won = [o for o in opps if o["sales_stage"] == "stage_5"]
        for i, opp in enumerate(won):
            created = datetime.fromtimestamp(opp["last_modified_time"] / 1000, tz=UTC)
            order = self._stamped(
                {
                    "_id": self._object_id(),
                    "name": f"SO-{i:05d}",
                    "account_id": opp["account_id"],
                    "new_opportunity_id": opp["_id"] if i % 9 != 4 else None,  # an order entered without its 商机
                    "order_amount": opp["amount"],
                    "order_time": self._day_ms(created),
                    "owner": opp["owner"] or [rng.choice(owners)],
                },
                created,
                created + timedelta(hours=2),
            )
            self.records["SalesOrderObj"][order["_id"]] = order
            total = Decimal(opp["amount"])
            parts = [total] if i % 2 else [(total * 3 / 10).quantize(Decimal("0.01"))]
            if len(parts) == 1 and i % 2 == 0:
                parts.append(total - parts[0])
            for k, part in enumerate(parts):
                paid = created + timedelta(days=7 + 30 * k)
                payment = self._stamped(
                    {
                        "_id": self._object_id(),
                        "name": f"HK-{i:05d}-{k}",
                        "account_id": opp["account_id"],
                        "order_id": order["_id"],
                        "amount": f"{part:.2f}",
                        "payment_time": self._day_ms(paid),
                        "owner": order["owner"],
                    },
                    paid,
                    paid + timedelta(hours=rng.randint(1, 48)),
                )
                if i % 13 == 6:
                    payment["life_status"] = "under_review"  # 审核中: not money yet
                self.records["PaymentObj"][payment["_id"]] = payment
                if i % 8 == 3 and k == 0:
                    back = paid + timedelta(days=15)
                    refund = self._stamped(
                        {
                            "_id": self._object_id(),
                            "name": f"TK-{i:05d}",
                            "account_id": opp["account_id"],
                            "order_id": order["_id"],
                            "refunded_amount": f"{(part / 5).quantize(Decimal('0.01')):.2f}",
                            "refunded_time": self._day_ms(back),
                            "owner": order["owner"],
                        },
                        back,
                        back + timedelta(hours=3),
                    )
                    self.records["RefundObj"][refund["_id"]] = refund
        for i in range(max(4, len(opps) // 40)):
            begin = self._moment(300, 5)
            event = self._stamped(
                {
                    "_id": self._object_id(),
                    "name": f"{customers[i % len(customers)]}行业峰会{i}",
                    "event_type": list(EVENT_TYPES)[i % len(EVENT_TYPES)],
                    "begin_time": self._day_ms(begin),
                    "end_time": self._day_ms(begin, 2),
                    "actual_cost": None if i % 6 == 5 else f"{rng.randint(10, 900) * 100}.{rng.choice(['00', '50'])}",
                    "budget_cost": "100000.00",
                    "owner": [rng.choice(owners)],
                },
                begin - timedelta(days=20),
                begin + timedelta(days=3),
            )
            self.records["MarketingEventObj"][event["_id"]] = event

    # -- changes made while the server runs --

    def update(self, api_name: str, record_id: str, **values: Any) -> None:
        """Edit a record: the given fields, then ``last_modified_time`` = now."""
        with self._lock:
            row = self.records[api_name][record_id]
            row.update(values)
            row["last_modified_time"] = max(self.now_ms(), row["last_modified_time"] + 1)

    def invalidate(self, api_name: str, record_id: str) -> None:
        """作废 a record: ``life_status`` becomes ``invalid`` and it still answers queries."""
        self.update(api_name, record_id, life_status="invalid")

    def delete(self, api_name: str, record_id: str) -> None:
        """Delete an invalidated record for good: queries no longer return it."""
        with self._lock:
            self.records[api_name][record_id]["is_deleted"] = True

    def advance(self, seconds: int) -> None:
        """Move the server's clock forward (time passes between two syncs)."""
        with self._lock:
            self._now0 += timedelta(seconds=seconds)

    def ids(self, api_name: str, *, invalid: bool = False) -> list[str]:
        with self._lock:
            return sorted(
                i
                for i, r in self.records[api_name].items()
                if not r["is_deleted"] and (r["life_status"] == "invalid") == invalid
            )

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    # -- serving --

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the mock server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self, port: int = 0) -> str:
        mock = self

        class Handler(_Handler):
            tenant = mock

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fxiaoke-mock", daemon=True).start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextmanager
    def running(self, port: int = 0) -> Iterator[FxiaokeMock]:
        self.start(port)
        try:
            yield self
        finally:
            self.stop()

    # -- the API --

    def issue_token(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            while self._token_calls and now - self._token_calls[0] > 60:
                self._token_calls.popleft()
            if len(self._token_calls) >= 10:
                raise FxiaokeError(30004, "获取corpAccessToken过于频繁，每分钟最多10次")
            self._token_calls.append(now)
            if (body.get("appId"), body.get("appSecret"), body.get("permanentCode")) != (
                APP_ID,
                APP_SECRET,
                PERMANENT_CODE,
            ):
                raise FxiaokeError(20001, "appId或appSecret或permanentCode不正确")
            self.tokens_issued += 1
            value = hashlib.sha256(f"{self.tokens_issued}:{now}".encode()).hexdigest()[:32].upper()
            self._tokens[value] = _Token(value, now + self.token_lifetime, self.faults.token_ttl or None)
        return {
            "errorCode": 0,
            "errorMessage": "success",
            "corpAccessToken": value,
            "corpId": CORP_ID,
            "expiresIn": self.token_lifetime,
        }

    def authorize(self, body: dict[str, Any]) -> None:
        with self._lock:
            entry = self._tokens.get(str(body.get("corpAccessToken")))
            if (
                entry is None
                or body.get("corpId") != CORP_ID
                or time.monotonic() >= entry.expires
                or entry.uses_left == 0
            ):
                if entry is not None:
                    del self._tokens[entry.value]
                raise FxiaokeError(20016, "the cropId,cropAccessToken or authorization is error")
            if entry.uses_left is not None:
                entry.uses_left -= 1
        if not body.get("currentOpenUserId"):
            raise FxiaokeError(10006, "currentOpenUserId不能为空")

    def check_limits(self, path: str, n: int) -> None:
        f = self.faults
        with self._lock:
            if n > f.daily_limit:
                raise FxiaokeError(30002, "调用次数超过每日限额")
            if f.rate_limit_every and n % f.rate_limit_every == 0:
                raise FxiaokeError(30004, "请求过于频繁，超过每秒调用限制")
            if f.window_limit:
                calls = self._windows.setdefault(path, deque())
                now = time.monotonic()
                while calls and now - calls[0] > f.window_seconds:
                    calls.popleft()
                if len(calls) >= f.window_limit:
                    raise FxiaokeError(14001, "调用超过限制")
                calls.append(now)

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data") or {}
        api_name = data.get("dataObjectApiName")
        if api_name not in self.records:
            raise FxiaokeError(10001, f"对象{api_name}不存在或无权限")
        info = data.get("search_query_info") or {}
        limit, offset = int(info.get("limit", 20)), int(info.get("offset", 0))
        if limit < 1 or limit > MAX_LIMIT:
            raise FxiaokeError(10013, f"limit不能超过{MAX_LIMIT}")
        if offset > MAX_OFFSET:
            raise FxiaokeError(10013, f"offset不能超过{MAX_OFFSET}，请使用_id过滤翻页")
        if offset % limit:
            raise FxiaokeError(10013, "offset必须是limit的整数倍")
        with self._lock:
            rows = [dict(r) for r in self.records[api_name].values() if not r["is_deleted"]]
        for flt in info.get("filters") or []:
            rows = [r for r in rows if _matches(flt, r)]
        for order in reversed(info.get("orders") or [{"fieldName": "_id", "isAsc": True}]):
            name = order.get("fieldName")
            rows.sort(
                key=lambda r: (r.get(name) is not None, r.get(name) if r.get(name) is not None else 0),
                reverse=not order.get("isAsc", True),
            )
        projection = info.get("fieldProjection") or []
        page = rows[offset : offset + limit]
        if projection:
            page = [{k: v for k, v in r.items() if k in projection or k == "_id"} for r in page]
        return {
            "errorCode": 0,
            "errorMessage": "OK",
            "data": {_TOTAL_NAME[api_name]: len(rows), "offset": offset, "limit": limit, "dataList": page},
        }

    def describe(self, body: dict[str, Any]) -> dict[str, Any]:
        api_name = body.get("apiName")
        if api_name not in self.records:
            raise FxiaokeError(10001, f"对象{api_name}不存在或无权限")
        options = {
            "NewOpportunityObj": ("sales_stage", STAGES),
            "ActiveRecordObj": ("active_record_type", ACTIVITY_TYPES),
            "LeadsObj": ("source", LEAD_SOURCES),
            "MarketingEventObj": ("event_type", EVENT_TYPES),
        }.get(api_name)
        fields = {}
        if options:
            fields[options[0]] = {
                "api_name": options[0],
                "type": "select_one",
                "options": [{"value": v, "label": label} for v, label in options[1].items()],
            }
        return {"errorCode": 0, "errorMessage": "OK", "data": {"describe": {"api_name": api_name, "fields": fields}}}


def _matches(flt: dict[str, Any], row: dict[str, Any]) -> bool:
    name, op, values = flt.get("field_name"), str(flt.get("operator", "EQ")).upper(), flt.get("field_values") or []
    value = row.get(name)
    if isinstance(value, list):  # owner ["1000"]: matches when any element does
        return any(_matches(flt, {name: v}) for v in value) if value else op in ("N", "NIN")
    if isinstance(value, int) and not isinstance(value, bool):
        values = [int(v) for v in values]
    first = values[0] if values else None
    if op == "EQ":
        return value == first
    if op == "N":
        return value != first
    if op == "IN":
        return value in values
    if op == "NIN":
        return value not in values
    if value is None or first is None:
        return False
    return {"GT": value > first, "GTE": value >= first, "LT": value < first, "LTE": value <= first}.get(op, False)


class _Handler(BaseHTTPRequestHandler):
    tenant: FxiaokeMock
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    def _send(self, status: int, payload: bytes, content_type: str = "application/json;charset=UTF-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, body: dict[str, Any], trace: str) -> None:
        body.setdefault("traceId", f"E-O.{CORP_ID}.{trace}")
        self._send(200, json.dumps(body, ensure_ascii=False).encode())

    def do_GET(self) -> None:
        self._send(405, b'{"errorCode":-1,"errorMessage":"Request method \'GET\' not supported"}')

    def do_POST(self) -> None:
        tenant = self.tenant
        parts = urlsplit(self.path)
        trace = (parse_qs(parts.query).get("thirdTraceId") or [uuid.uuid4().hex])[0]
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            self._json({"errorCode": 10002, "errorMessage": "请求体不是合法的JSON"}, trace)
            return
        path = parts.path.rstrip("/")
        if tenant.faults.delay:
            time.sleep(tenant.faults.delay)
        try:
            if path == "/cgi/corpAccessToken/get/V2":
                self._json(tenant.issue_token(body), trace)
                return
            with tenant._lock:
                tenant.api_calls += 1
                n = tenant.api_calls
                tenant.requests_log.append((self.path, body))
                if tenant._burst_left or (tenant.faults.error_burst_every and n % tenant.faults.error_burst_every == 0):
                    tenant._burst_left = (
                        tenant._burst_left - 1 if tenant._burst_left else tenant.faults.error_burst_length - 1
                    )
                    page = (
                        b"<html><head><title>502 Bad Gateway</title></head>"
                        b"<body><center><h1>502 Bad Gateway</h1></center></body></html>"
                    )
                    self._send(502, page, "text/html")
                    return
            tenant.authorize(body)
            tenant.check_limits(path, n)
            if path == "/cgi/crm/v2/data/query":
                self._json(tenant.query(body), trace)
            elif path == "/cgi/crm/v2/object/describe":
                self._json(tenant.describe(body), trace)
            else:
                self._json({"errorCode": 10004, "errorMessage": f"接口{path}不存在"}, trace)
        except FxiaokeError as exc:
            self._json({"errorCode": exc.code, "errorMessage": exc.message}, trace)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.mock_servers.fxiaoke", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--port", type=int, default=8083)
    parser.add_argument("--opportunities", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate-limit-every", type=int, default=0, metavar="K", help="every K-th call: errorCode 30004")
    parser.add_argument(
        "--error-burst-every", type=int, default=0, metavar="K", help="every K-th call starts a burst of HTTP 502"
    )
    parser.add_argument("--error-burst-length", type=int, default=2, metavar="N")
    parser.add_argument(
        "--token-ttl", type=int, default=0, metavar="N", help="tokens expire after N calls (errorCode 20016)"
    )
    parser.add_argument("--delay", type=float, default=0.0, metavar="SECONDS")  # float ok: seconds
    parser.add_argument("--daily-limit", type=int, default=1_000_000, metavar="N")
    parser.add_argument(
        "--window-limit",
        type=int,
        default=100,
        metavar="N",
        help="calls per endpoint per 20 s before errorCode 14001 (0: off)",
    )
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    faults = Faults(
        args.rate_limit_every,
        args.error_burst_every,
        args.error_burst_length,
        args.token_ttl,
        args.delay,
        args.daily_limit,
        args.window_limit,
    )
    mock = FxiaokeMock(opportunities=args.opportunities, seed=args.seed, faults=faults)
    try:
        url = mock.start(args.port)
    except OSError as exc:
        raise SystemExit(f"cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); choose another --port") from None
    assert mock._server is not None
    mock._server.verbose = args.verbose  # type: ignore[attr-defined]
    print(f"Fxiaoke mock at {url} ({args.opportunities} opportunities)")
    print(f"  KPI_FXIAOKE_BASE_URL={url}")
    print(f"  KPI_FXIAOKE_APP_ID={APP_ID}")
    print(f"  KPI_FXIAOKE_APP_SECRET={APP_SECRET}")
    print(f"  KPI_FXIAOKE_PERMANENT_CODE={PERMANENT_CODE}")
    print(f"  KPI_FXIAOKE_OPEN_USER_ID={OPEN_USER_ID}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        mock.stop()


if __name__ == "__main__":
    main()
