"""Every fact of the schema has a typed record and a way in: examples load, reload unchanged, and are logged."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from kpi_engine import ENTITIES, ImportRejected, Store, schema, upsert_records
from kpi_engine.ingest.loading import entity_table
from kpi_engine.ingest.records import RECORD_MODELS
from kpi_engine.ingest.templates import entity_template

FACT_TABLES = {
    "teams",
    "team_hierarchy",
    "people",
    "org_assignments",
    "customers",
    "deals",
    "deal_splits",
    "deal_stage_history",
    "activities",
    "leads",
    "payments",
    "refunds",
    "renewals",
    "churn_events",
    "survey_responses",
    "marketing_spend",
    "targets",
    "manual_scores",
    "web_visits",
    "content_stats",
    "support_tickets",
    "trainings",
    "fx_rates",
}


def example(entity: str) -> Any:
    template = entity_template(entity)
    values = {c: v for c, v in zip(template.columns, template.example, strict=True) if v != ""}
    return RECORD_MODELS[entity].model_validate(values)


def load_examples(store: Store) -> None:
    """The template's example row of every entity, in loading order, with the people and deals they name."""
    people = [
        RECORD_MODELS["people"].model_validate({"id": pid, "name": pid, "role": "sales_rep"})
        for pid in ("M1", "E1002", "E1003", "E2001")
    ]
    with store.begin() as conn:
        upsert_records(conn, "people", "import", people)
        for entity in ENTITIES:
            records = [example(entity)]
            if entity == "deals":
                records += [
                    RECORD_MODELS["deals"].model_validate(
                        {"remote_id": rid, "amount": "10", "currency": "CNY", "customer": "C-2"}
                    )
                    for rid in ("D-2", "D-9")
                ]
            upsert_records(conn, entity, "import", records)


def test_every_table_of_facts_has_an_entity_and_a_record_model() -> None:
    assert set(ENTITIES) == FACT_TABLES
    assert {entity_table(e).name for e in ENTITIES} == FACT_TABLES
    for entity in ENTITIES:
        model = RECORD_MODELS[entity]
        assert model.entity == entity and model.description
        assert set(model.example) <= set(model.model_fields), entity


def test_each_entity_example_loads_once_and_again_changes_nothing(store: Store) -> None:
    load_examples(store)
    with store.connect() as conn:
        counts = {e: conn.execute(select(func.count()).select_from(entity_table(e))).scalar() for e in ENTITIES}
        logged = conn.execute(select(func.count()).select_from(schema.fact_changes)).scalar()
    assert all(n >= 1 for n in counts.values()), counts

    with store.begin() as conn:
        again = {e: upsert_records(conn, e, "import", [example(e)]) for e in ENTITIES}
    with store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.fact_changes)).scalar() == logged
    assert {e: (c.inserted, c.updated) for e, c in again.items()} == dict.fromkeys(ENTITIES, (0, 0))


def test_references_resolve_by_the_crms_ids_and_money_after_the_deal_takes_the_deals_customer(store: Store) -> None:
    load_examples(store)
    with store.connect() as conn:
        deal = conn.execute(select(schema.deals).where(schema.deals.c.remote_id == "D-1")).one()
        refund = conn.execute(select(schema.refunds)).one()
        split = conn.execute(select(schema.deal_splits)).one()
        customer = conn.execute(select(schema.customers).where(schema.customers.c.remote_id == "C-1")).one()
    assert (refund.deal_id, refund.customer_id, refund.kind) == (deal.id, deal.customer_id, "refund")
    assert (split.deal_id, split.person_id) == (deal.id, "E1002")
    assert deal.customer_id == customer.id and customer.owner_id == "E1001"


def test_a_refund_naming_an_unknown_deal_is_refused_naming_the_deal(store: Store) -> None:
    with store.begin() as conn, pytest.raises(ImportRejected) as refused:
        upsert_records(conn, "refunds", "crm", [example("refunds")])
    assert "'D-1' is not a known deal of source 'crm'" in refused.value.problems[0]
