"""cases: teams, promises, resolutions, operator tokens and the audit log

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 05:05:08.654129
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import redress.db.models

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=160), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject_kind", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_subject"), ["subject"], unique=False)

    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("approve_up_to_pence", sa.Integer(), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("name", name=op.f("uq_operator_tokens_name")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_operator_tokens_token_hash")),
    )
    op.create_table(
        "promises",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("what", sa.String(length=300), nullable=False),
        sa.Column("due_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("made_by", sa.String(length=120), nullable=False),
        sa.Column("warned_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("missed_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("customer_told_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("kept_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("kept_by", sa.String(length=120), nullable=True),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_promises_complaint_id_complaints")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_promises_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promises")),
    )
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_promises_complaint_id"), ["complaint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_promises_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index("ix_promises_status_due_at", ["status", "due_at"], unique=False)

    op.create_table(
        "resolutions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("via", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=120), nullable=False),
        sa.Column("resolved_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("fixed", sa.Boolean(), nullable=True),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("rated_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("follow_up_due_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("follow_up_sent_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("still_working", sa.Boolean(), nullable=True),
        sa.Column("reopened_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handoff_id", sa.Integer(), nullable=True),
        sa.Column("rating_asked_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["complaint_id"], ["complaints.id"], name=op.f("fk_resolutions_complaint_id_complaints")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_resolutions_conversation_id_conversations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resolutions")),
    )
    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_resolutions_complaint_id"), ["complaint_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resolutions_conversation_id"), ["conversation_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_resolutions_follow_up_due_at"), ["follow_up_due_at"], unique=False
        )

    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("owner_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("owner_name", sa.String(length=120), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_at", redress.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("desk_status", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("desk_channel", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("desk_thread", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("posted_at", redress.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        # Complaints logged before cases existed have never been posted as one.
        batch_op.add_column(
            sa.Column("post_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_post_at", redress.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("last_post_error", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("repeat_of_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("resolved_at", redress.db.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("resolved_via", sa.String(length=20), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_complaints_desk_thread"), ["desk_thread"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_complaints_team"), ["team"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_repeat_of_id_complaints"),
            "complaints",
            ["repeat_of_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_complaints_repeat_of_id_complaints"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_complaints_team"))
        batch_op.drop_index(batch_op.f("ix_complaints_desk_thread"))
        batch_op.drop_column("resolved_via")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("repeat_of_id")
        batch_op.drop_column("last_post_error")
        batch_op.drop_column("next_post_at")
        batch_op.drop_column("post_attempts")
        batch_op.drop_column("posted_at")
        batch_op.drop_column("desk_thread")
        batch_op.drop_column("desk_channel")
        batch_op.drop_column("desk_status")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("owner_name")
        batch_op.drop_column("owner_id")
        batch_op.drop_column("team")

    with op.batch_alter_table("resolutions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resolutions_follow_up_due_at"))
        batch_op.drop_index(batch_op.f("ix_resolutions_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_resolutions_complaint_id"))

    op.drop_table("resolutions")
    with op.batch_alter_table("promises", schema=None) as batch_op:
        batch_op.drop_index("ix_promises_status_due_at")
        batch_op.drop_index(batch_op.f("ix_promises_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_promises_complaint_id"))

    op.drop_table("promises")
    op.drop_table("operator_tokens")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_log_created_at"))
        batch_op.drop_index(batch_op.f("ix_audit_log_action"))

    op.drop_table("audit_log")
