"""client message id: a web chat client's own id for each message, so a repeat is one message

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 23:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("client_message_id", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_messages_conversation_id"), ["conversation_id", "client_message_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_messages_conversation_id"), type_="unique")
        batch_op.drop_column("client_message_id")
