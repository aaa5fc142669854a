"""telegram inbox: an update is written down before it is acknowledged, answered once

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import redress.db.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Updates seen before this were processed at once: they count as answered.
    with op.batch_alter_table("telegram_updates", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), nullable=False, server_default="answered")
        )
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("answered_at", redress.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_telegram_updates_status"), ["status"], unique=False)
    # New rows get their values from the application, as every other table's do.
    with op.batch_alter_table("telegram_updates", schema=None) as batch_op:
        batch_op.alter_column("status", server_default=None)
        batch_op.alter_column("attempts", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("telegram_updates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_updates_status"))
        batch_op.drop_column("answered_at")
        batch_op.drop_column("payload")
        batch_op.drop_column("attempts")
        batch_op.drop_column("status")
