"""Fxiaoke 纷享销客 connector: 商机, 人员, 销售记录, 线索, 回款, 退款 and 市场活动 costs through the open API
(open.fxiaoke.com). Fxiaoke documents no deal-split object: the connector says so (``unsupported``).

Settings (environment variables ``KPI_FXIAOKE_<NAME>``, secrets also from the keyring):

==================  ==============================================================
``app_id``          appId of the open-platform app (``FSAID_…``)
``app_secret``      appSecret (secret)
``permanent_code``  permanentCode the tenant granted the app (secret)
``open_user_id``    ``currentOpenUserId``: the user (``FSUID_…``) whose data permissions apply
``base_url``        ``https://open.fxiaoke.com`` by default
``page_size``       records per call, at most 100
``calls_per_20s``   the pacing budget, at most the published 100 calls per 20 s per endpoint
==================  ==============================================================

How it reads (docs/connectors/fxiaoke.md):

- **Auth**: ``POST /cgi/corpAccessToken/get/V2 {appId, appSecret, permanentCode}`` gives a
  ``corpAccessToken`` valid ``expiresIn`` (7200) seconds. The token endpoint takes 10 calls a
  minute and no concurrency, so the token is cached (in the token store, between runs too) and
  fetched again shortly before it expires. Every call is a ``POST ?thirdTraceId=<uuid4>`` with
  ``corpAccessToken``/``corpId``/``currentOpenUserId`` in its body.
- **Errors are HTTP 200** with an ``errorCode``: 20016 (token expired or invalid) fetches a new
  token once and repeats the call; 30004 (per-second limit) and 14001 (100 calls per 20 s) are
  rate limits that are waited out (the client also paces itself under ``calls_per_20s``); 30002
  (daily quota used up) stops the sync, which resumes on the next run; 30003 (no quota
  purchased) and every other code are a ``ConnectorError`` naming the code and message. HTTP 5xx
  from the gateway are retried with backoff.
- **Streams**: ``people`` (PersonnelObj), ``opportunities`` (NewOpportunityObj),
  ``activities`` (ActiveRecordObj), ``leads`` (LeadsObj), ``payments`` (PaymentObj, credited to
  the 商机 of the SalesOrderObj they name), ``refunds`` (RefundObj) and ``campaign_spend``
  (MarketingEventObj, on the start day in Asia/Shanghai), all through
  ``/cgi/crm/v2/data/query``. ``limit`` is at most 100, ``offset`` must be a multiple of it and
  may not pass 10,000 (errorCode 10013), so the connector never pages by offset: it keeps
  ``offset`` 0 and moves a keyset ``(last_modified_time, _id)`` — ``last_modified_time >= t``
  sorted by time then ``_id``, dropping what was read at ``t``; when a whole page shares one
  time stamp it finishes that instant with ``last_modified_time = t AND _id > id``. The
  position is checkpointed after every page, so a resumed read neither skips nor repeats.
- **Deletes**: Fxiaoke documents no delete feed. An invalidated record (作废,
  ``life_status: "invalid"``) gets a new ``last_modified_time`` and arrives as a tombstone;
  a record deleted for good after that is never seen again.
- **Values**: times are epoch milliseconds (handed on as ISO 8601 UTC; ``close_date`` is
  midnight in Asia/Shanghai); ``amount`` is a string; ``owner`` is a list (``["1000"]``, its
  first element is used); the response counts records as ``total`` or ``totalSize``.

Fields the connector computes for the mapping (``kpi_*``): ``kpi_<field>_label`` for option
fields (``sales_stage``, ``active_record_type``, ``source``; labels from
``/cgi/crm/v2/object/describe``), ``kpi_deal_id`` (the 商机 of ``related_object_data``),
``kpi_has_evidence`` (a check-in location) and ``kpi_subject`` (first line of the content).

Unverified (the local mock follows these choices): the errorCode for a bad ``limit`` or an
``offset`` that is not a multiple of it (10013 assumed), for wrong app credentials and for the
token endpoint's own limit; whether deleted records can be queried at all.

The default mapping is ``mapping.yaml`` beside this file. Try it without a tenant against the
local mock server: ``python -m tests.support.mock_servers.fxiaoke --port 8083`` (see docs/connectors.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from kpi_engine import Connector, hookimpl

from ._connector import FxiaokeConnector, FxiaokeSettings, classify

__all__ = ["FxiaokeConnector", "FxiaokeSettings", "classify", "kpi_connectors"]


@hookimpl
def kpi_connectors() -> Iterator[type[Connector]]:
    yield FxiaokeConnector
