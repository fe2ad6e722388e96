"""The sync engine with facts after the deal: a split's person translated like an owner, a deal's
splits replaced as a whole (DealCovered), tombstones of rows kept by natural key, complete reads
that tombstone what no longer comes, and streams the account does not have (StreamUnavailable)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from kpi_engine import (
    Checkpoint,
    Connector,
    ConnectorConfigurationError,
    ConnectorSettings,
    Record,
    SourceMapping,
    Store,
    Stream,
    StreamState,
    schema,
    secret_field,
    sync,
)
from kpi_engine.connect import ENTITY_ORDER, DealCovered, StreamUnavailable

MAPPING = SourceMapping.model_validate(
    {
        "source": "facts",
        "person_id": "f-{remote_id}",
        "streams": {
            "users": {"fields": {"name": "name"}, "defaults": {"role": "sales_rep"}},
            "deals": {
                "fields": {"amount": "amount", "owner_id": "owner", "status": "status"},
                "defaults": {"currency": "EUR"},
            },
            "splits": {"fields": {"deal_remote_id": "deal", "person_id": "user", "share": "share"}},
            "spend": {
                "fields": {"day": "day", "channel": "channel", "amount": "amount"},
                "defaults": {"currency": "EUR"},
            },
            "payments": {
                "fields": {"deal_remote_id": "deal", "amount": "amount", "received_at": "at"},
                "defaults": {"currency": "EUR"},
            },
        },
    }
)


class FactSettings(ConnectorSettings):
    token: SecretStr = secret_field("token")


class Facts(Connector):
    """An in-memory CRM with users, deals, split sets per deal, spend read whole, and payments."""

    name = "facts"
    settings_model = FactSettings

    def __init__(self) -> None:
        super().__init__(FactSettings(token=SecretStr("facts-token")))
        self.users = [{"id": "u1", "name": "Ann"}, {"id": "u2", "name": "Bo"}, {"id": "u3", "name": "Cy"}]
        self.deals = [{"id": "d1", "amount": "1000", "owner": "u1", "status": "won"}]
        self.splits: dict[str, list[tuple[str, str]]] = {"d1": [("u1", "0.6"), ("u2", "0.4")]}
        self.spend = {"s1": "100.00", "s2": "250.50"}
        self.payments_missing = False

    def streams(self) -> list[Stream]:
        return [
            Stream(name="users", entity="people"),
            Stream(name="deals", entity="deals"),
            Stream(name="splits", entity="deal_splits", primary_key="key"),
            Stream(name="spend", entity="marketing_spend", complete_read=True),
            Stream(name="payments", entity="payments"),
        ]

    def check(self) -> str:
        return "ok"

    def read(self, stream: Stream, state: StreamState) -> Iterator[Record | DealCovered | Checkpoint]:
        if stream.name == "users":
            yield from (Record("users", dict(u)) for u in self.users)
        elif stream.name == "deals":
            yield from (Record("deals", dict(d)) for d in self.deals)
        elif stream.name == "splits":
            for deal, shares in self.splits.items():
                for user, share in shares:
                    yield Record("splits", {"key": f"{deal}-{user}", "deal": deal, "user": user, "share": share})
                yield DealCovered("splits", deal)
        elif stream.name == "spend":
            for remote, amount in self.spend.items():
                yield Record("spend", {"id": remote, "day": "2026-03-01", "channel": "search", "amount": amount})
        elif self.payments_missing:
            raise StreamUnavailable("payments are not enabled in this account.")
        else:
            yield Record("payments", {"id": "p1", "deal": "d1", "amount": "500", "at": "2026-03-02T10:00:00Z"})
        yield Checkpoint(stream.name)


def splits(store: Store) -> list[tuple[str, Decimal]]:
    with store.connect() as conn:
        return sorted(conn.execute(select(schema.deal_splits.c.person_id, schema.deal_splits.c.share)).all())


def test_the_entity_order_puts_what_a_record_names_first() -> None:
    assert ENTITY_ORDER.index("people") < ENTITY_ORDER.index("deals") < ENTITY_ORDER.index("deal_splits")
    assert ENTITY_ORDER.index("deals") < min(ENTITY_ORDER.index(e) for e in ("payments", "refunds", "activities"))


def test_a_split_s_person_is_translated_like_an_owner_and_an_unknown_one_skipped(store: Store) -> None:
    crm = Facts()
    crm.splits["d1"].append(("u9", "0.1"))
    summary = sync(store, crm, mapping=MAPPING)
    assert splits(store) == [("f-u1", Decimal("0.6")), ("f-u2", Decimal("0.4"))]
    assert dict(summary.streams[2].skipped) == {"person u9 is not a known person": 1}


def test_a_deal_s_split_set_replaces_the_stored_one_and_the_change_is_logged(store: Store) -> None:
    crm = Facts()
    sync(store, crm, mapping=MAPPING)
    crm.splits["d1"] = [("u1", "0.5"), ("u3", "0.5")]
    summary = sync(store, crm, mapping=MAPPING)
    assert splits(store) == [("f-u1", Decimal("0.5")), ("f-u3", Decimal("0.5"))]
    split_summary = next(st for st in summary.streams if st.stream == "splits")
    assert (split_summary.inserted, split_summary.updated, split_summary.deleted) == (1, 1, 1)
    crm.splits["d1"] = []
    sync(store, crm, mapping=MAPPING)
    assert splits(store) == []
    with store.connect() as conn:
        logged = conn.execute(
            select(schema.fact_changes.c.rows)
            .where(schema.fact_changes.c.table_name == "deal_splits")
            .order_by(schema.fact_changes.c.id)
        ).scalars()
        # first sync: 2 inserted; second: u2 removed, then u3 inserted and u1 updated; third: both removed
        assert list(logged) == [2, 1, 2, 2], "every insert, update and removal is in fact_changes"


def test_a_complete_read_tombstones_what_no_longer_comes(store: Store) -> None:
    crm = Facts()
    sync(store, crm, mapping=MAPPING)
    del crm.spend["s2"]
    summary = sync(store, crm, mapping=MAPPING)
    assert next(st for st in summary.streams if st.stream == "spend").deleted == 1
    with store.connect() as conn:
        rows = dict(conn.execute(select(schema.marketing_spend.c.remote_id, schema.marketing_spend.c.is_deleted)).all())
    assert rows == {"s1": False, "s2": True}


def test_a_complete_read_may_not_share_its_entity_with_another_stream(store: Store) -> None:
    class Twice(Facts):
        def streams(self) -> list[Stream]:
            return [*super().streams(), Stream(name="more_spend", entity="marketing_spend")]

    with pytest.raises(ConnectorConfigurationError, match="would tombstone their rows"):
        sync(store, Twice(), mapping=MAPPING)


def test_a_stream_the_account_lacks_is_reported_and_the_others_sync(store: Store) -> None:
    crm = Facts()
    crm.payments_missing = True
    summary = sync(store, crm, mapping=MAPPING)
    assert summary.status == "succeeded"
    payments = next(st for st in summary.streams if st.stream == "payments")
    assert payments.unavailable == "payments are not enabled in this account."
    assert payments.as_dict()["unavailable"] == payments.unavailable
    assert splits(store)


def test_payments_name_their_deal_by_its_remote_id(store: Store) -> None:
    sync(store, Facts(), mapping=MAPPING)
    with store.connect() as conn:
        row: Any = conn.execute(
            select(schema.payments.c.amount, schema.deals.c.remote_id).join(
                schema.deals, schema.deals.c.id == schema.payments.c.deal_id
            )
        ).one()
    assert (row.amount, row.remote_id) == (Decimal("500"), "d1")
