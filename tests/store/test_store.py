"""The store: migrations create exactly the schema, upgrade in place, and bad URLs are explained."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kpi_engine import StoreError, open_store
from kpi_engine.store.schema import metadata


def test_migrations_build_exactly_the_declared_schema(store):
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_an_existing_database_upgrades_in_place_and_keeps_its_data(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    store = open_store(url)
    from kpi_engine import schema

    with store.begin() as conn:
        conn.execute(schema.people.insert().values(id="E1", name="Li Wei", role="sales_rep"))
    head = store.schema_revision()
    store.dispose()
    again = open_store(url)
    assert again.schema_revision() == head
    with again.connect() as conn:
        assert conn.execute(schema.people.select()).one().name == "Li Wei"


def test_a_bad_database_url_is_one_sentence():
    with pytest.raises(StoreError, match="not a database URL"):
        open_store("no-such-scheme")


def test_an_unreachable_database_is_one_sentence(tmp_path):
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store(f"sqlite:///{tmp_path}/missing-folder/x.sqlite")


def test_a_migrated_database_is_at_every_head_so_opening_it_again_writes_nothing(store):
    """``alembic_version`` lists exactly the migrations' heads, which is how the store knows a database is
    current and opens it without a write transaction (a ``depends_on`` between branches would break this)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import column, select, table

    from kpi_engine.store.database import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    heads = set(ScriptDirectory.from_config(config).get_heads())
    with store.connect() as conn:
        versions = set(conn.execute(select(table("alembic_version", column("version_num")))).scalars())
    assert versions == heads
