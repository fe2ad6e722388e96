"""Alembic environment: runs on the connection the store hands over."""

from alembic import context

from kpi_engine.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through Store.upgrade or the dev script
    from sqlalchemy import create_engine

    from kpi_engine.store.database import default_database_url

    connection = create_engine(default_database_url()).connect()

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
