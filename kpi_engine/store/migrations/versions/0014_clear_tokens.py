"""connector_tokens: rows an earlier version saved in clear are removed

Refreshed OAuth tokens are kept in ``connector_tokens`` only sealed with ``$KPI_TOKEN_KEY``: a value
``{"fernet": "<token>"}`` and nothing else (``StoreTokenStore``). Versions before that wrote the tokens
themselves (``{"access_token": …, "refresh_token": …}``), which the store has since ignored but left on
disk. This migration deletes every row whose value is not a sealed token, so no secret stays in clear;
the next sync obtains new tokens from the connector's settings. The rows are read as text and judged in
Python, the same way on SQLite and PostgreSQL; a value that is not even JSON is not a sealed token.

Downgrade does nothing: the deleted secrets cannot be restored (nor should they be).

``connector_tokens`` is created by ``0004_connectors``, on a branch of its own: when a new database is
built the two may run in either order, and where the table does not exist yet there is nothing to remove.
(Declaring ``depends_on`` instead would leave ``0004_connectors`` a head that ``alembic_version`` never
lists, so the store would think every database out of date.)

Revision ID: 0014_clear_tokens
Revises: 0013_notifications
Create Date: 2026-12-10 02:00:00.000000

"""

import json
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014_clear_tokens"
down_revision: str | Sequence[str] | None = "0013_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEALED = "fernet"  # the one key of a value StoreTokenStore sealed (kpi_engine.connect.secrets._SEALED)
log = logging.getLogger("kpi_engine.store.migrations")

# The table as this migration knows it, apart from the schema module, which may change after it.
connector_tokens = sa.table("connector_tokens", sa.column("key", sa.String(200)), sa.column("value", sa.JSON()))


def is_sealed(raw: str | None) -> bool:
    """Whether a stored value (as JSON text) is a token sealed with ``$KPI_TOKEN_KEY`` and nothing else."""
    try:
        value = json.loads(raw) if raw is not None else None
    except ValueError:
        return False
    return isinstance(value, dict) and set(value) == {SEALED} and isinstance(value[SEALED], str)


def upgrade() -> None:
    """Delete every connector token not sealed with ``$KPI_TOKEN_KEY``."""
    t = connector_tokens
    conn = op.get_bind()
    if not sa.inspect(conn).has_table("connector_tokens"):
        return  # a new database: 0004_connectors creates the table, empty, after this
    rows = conn.execute(sa.select(t.c.key, sa.cast(t.c.value, sa.Text()))).all()
    clear = [key for key, raw in rows if not is_sealed(raw)]
    for start in range(0, len(clear), 500):
        conn.execute(t.delete().where(t.c.key.in_(clear[start : start + 500])))
    if clear:
        log.warning(
            "removed %d connector token%s an earlier version saved in clear; the next sync obtains new ones",
            len(clear),
            "" if len(clear) == 1 else "s",
        )


def downgrade() -> None:
    """Nothing to undo: the tokens removed were secrets in clear, which are not restored."""
