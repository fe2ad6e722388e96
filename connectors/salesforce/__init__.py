"""Salesforce connector: opportunities, users, tasks, events, leads, and the facts after the deal
(opportunity splits, Billing payments and refunds, cancellations, campaign costs) through the REST API.

Settings (environment variables ``KPI_SALESFORCE_<NAME>``, secrets also from the keyring):

=================  ==============================================================
``instance_url``   the org's URL, ``https://acme.my.salesforce.com``
``client_id``      consumer key of the connected app
``client_secret``  consumer secret (secret)
``refresh_token``  refresh token of the integration user (secret)
``login_url``      token endpoint host (default: the instance URL)
``api_version``    ``v60.0`` by default
``batch_size``     records per page, 200 to 2000 (``Sforce-Query-Options: batchSize``)
``api_reserve``    daily API calls to leave to other integrations (the sync stops before)
``payment_object`` object of received payments (``blng__Payment__c``, or your own)
``refund_object``  object of refunds (``blng__Refund__c``, or your own)
``split_type``     DeveloperName of the opportunity split type read (``Revenue``)
=================  ==============================================================

How it reads (docs/connectors/salesforce.md):

- **Auth**: OAuth 2 refresh-token grant on ``/services/oauth2/token``; the access token is
  kept in the token store and refreshed once when a call answers 401 ``INVALID_SESSION_ID``.
- **Streams**: ``users`` (User), ``opportunities`` (Opportunity), ``tasks`` (Task), ``events``
  (Event) and ``leads`` (Lead), each read with one SOQL query
  ``… WHERE SystemModstamp >= :since ORDER BY SystemModstamp, Id`` and its ``nextRecordsUrl``
  pages. After each page the position ``(SystemModstamp, Id)`` of its last record is
  checkpointed; a resumed read queries again with
  ``SystemModstamp > :t OR (SystemModstamp = :t AND Id > :id)``, so no locator has to survive
  the crash and records sharing a time stamp are neither skipped nor read twice.
- **Facts after the deal**: ``splits`` (OpportunitySplit of one split type, handed on as each
  opportunity's whole set), ``payments``/``refunds`` (Salesforce Billing, ``Canceled`` ones
  deleted), ``cancellations`` (OpportunityHistory rows entering a lost stage after a won one, by
  ``OpportunityStage`` flags) and ``campaigns`` (``ActualCost`` on ``StartDate``). An org without
  splits or Billing reports those streams unavailable and syncs the rest.
- **Deletes**: objects with ``IsDeleted`` are read with ``queryAll``, which also returns the
  recycle bin (``IsDeleted = true``: a tombstone); then ``sobjects/X/deleted`` reports what was
  hard-deleted since ``since`` (at most 15 days back, measured on the org's clock from the
  ``Date`` header). Users are deactivated, never deleted.
- **Limits**: every answer's ``Sforce-Limit-Info: api-usage=N/M`` is tracked. HTTP 403
  ``REQUEST_LIMIT_EXCEEDED`` "TotalRequests" is the daily allocation (``RateLimited`` with
  scope ``daily``: the sync stops and resumes on the next run, there is no ``Retry-After``);
  "ConcurrentRequests" is scope ``concurrency`` and is waited out. 5xx are retried with backoff.
- **Values**: JSON numbers are read as ``Decimal`` (never binary floats); times arrive as
  ``2024-04-01T10:00:00.000+0000``; ``CurrencyIsoCode`` is read only when the org has it
  (multi-currency orgs), otherwise the mapping's default currency applies.

Fields the connector computes for the mapping (``kpi_*``): ``kpi_status`` (open/won/lost from
``IsWon``/``IsClosed``: stage labels are editable per org), ``kpi_closed_date`` (``CloseDate``
of closed opportunities), ``kpi_kind``/``kpi_occurred_at``/``kpi_deal_id``/
``kpi_duration_seconds``/``kpi_has_evidence`` for activities (``WhatId`` only when it names an
opportunity), ``kpi_owner_user_id`` for leads (queue owners ``00G…`` are not people).

The default mapping is ``mapping.yaml`` beside this file. Try it without an org against the
local mock server: ``python -m tests.support.mock_servers.salesforce --port 8082`` (see docs/connectors.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from kpi_engine import Connector, hookimpl

from ._connector import SalesforceConnector, SalesforceSettings, classify

__all__ = ["SalesforceConnector", "SalesforceSettings", "classify", "kpi_connectors"]


@hookimpl
def kpi_connectors() -> Iterator[type[Connector]]:
    yield SalesforceConnector
