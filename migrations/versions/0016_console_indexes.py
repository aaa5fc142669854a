"""console indexes: the case list's order and filters, promises per case, and search

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 12:40:00

On PostgreSQL, search by part of a message, a name or an e-mail uses trigram (pg_trgm) GIN
indexes, so ``ILIKE '%word%'`` does not read every message. pg_trgm is a trusted extension
(PostgreSQL 13+): the database's owner may create it. Where it cannot be created the
migration goes on without those indexes (search still works, by reading the table), and says
so in the log. SQLite has no such index; its search reads the messages table.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

# As redress.db.models.TRIGRAM_INDEXES when this migration was written.
TRIGRAM_INDEXES = {
    "ix_messages_text_trgm": ("messages", "text"),
    "ix_customers_name_trgm": ("customers", "name"),
    "ix_customers_email_trgm": ("customers", "email"),
}


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaints_created_at"), ["created_at"], unique=False)
        batch_op.create_index("ix_complaints_team_status", ["team", "status"], unique=False)
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(
            "ix_promises_complaint_id_status_due_at",
            ["complaint_id", "status", "due_at"],
            unique=False,
        )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not _trigram_extension(bind):
        log.warning(
            "pg_trgm is not available: message, name and e-mail search will read whole "
            "tables. A superuser can run CREATE EXTENSION pg_trgm, then re-run 0016."
        )
        return
    for name, (table, column) in TRIGRAM_INDEXES.items():
        op.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def _trigram_extension(bind: sa.engine.Connection) -> bool:
    """Creates pg_trgm if it can; a failure is rolled back to a savepoint, not the migration."""
    savepoint = bind.begin_nested()
    try:
        bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRIGRAM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_complaint_id_status_due_at")
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_index("ix_complaints_team_status")
        batch_op.drop_index(batch_op.f("ix_complaints_created_at"))
