"""pending turns: customer messages kept to be answered when the assistant is back

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import redress.db.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_turns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_pending_turns_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_pending_turns_message_id_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_turns")),
        sa.UniqueConstraint("message_id", name=op.f("uq_pending_turns_message_id")),
    )
    with op.batch_alter_table("pending_turns", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pending_turns_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_pending_turns_next_attempt_at"), ["next_attempt_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("pending_turns", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_turns_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_pending_turns_conversation_id"))
    op.drop_table("pending_turns")
