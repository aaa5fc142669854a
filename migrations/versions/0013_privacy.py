"""privacy: customers' data requests, and the audit of what was done to personal data

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 02:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import redress.db.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "data_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=120), nullable=True),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_data_requests_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_data_requests_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_requests")),
        sa.UniqueConstraint("reference", name=op.f("uq_data_requests_reference")),
    )
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_requests_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_requests_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_data_requests_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_data_requests_created_at"), ["created_at"], unique=False
        )
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("request_reference", sa.String(length=12), nullable=True),
        sa.Column("performed_by", sa.String(length=120), nullable=False),
        sa.Column("performed_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_audit")),
    )
    with op.batch_alter_table("privacy_audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_privacy_audit_action"), ["action"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_privacy_audit_performed_at"), ["performed_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("privacy_audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_privacy_audit_performed_at"))
        batch_op.drop_index(batch_op.f("ix_privacy_audit_action"))
    op.drop_table("privacy_audit")
    with op.batch_alter_table("data_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_requests_created_at"))
        batch_op.drop_index(batch_op.f("ix_data_requests_status"))
        batch_op.drop_index(batch_op.f("ix_data_requests_customer_id"))
        batch_op.drop_index(batch_op.f("ix_data_requests_kind"))
    op.drop_table("data_requests")
