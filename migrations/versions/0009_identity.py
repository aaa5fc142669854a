"""identity: claimed and verified accounts, and one-time codes

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 23:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import redress.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversation_identities",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("claimed_customer_id", sa.Integer(), nullable=True),
        sa.Column("verified_customer_id", sa.Integer(), nullable=True),
        sa.Column("verified_via", sa.String(length=20), nullable=True),
        sa.Column("verified_at", redress.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claimed_customer_id"],
            ["customers.id"],
            name=op.f("fk_conversation_identities_claimed_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_identities_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["verified_customer_id"],
            ["customers.id"],
            name=op.f("fk_conversation_identities_verified_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_conversation_identities")),
    )
    op.create_table(
        "verification_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("expires_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", redress.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_verification_codes_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_verification_codes_customer_id_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_verification_codes_conversation_id_id", ["conversation_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_codes_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_verification_codes_customer_id"), ["customer_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_codes_customer_id"))
        batch_op.drop_index(batch_op.f("ix_verification_codes_created_at"))
        batch_op.drop_index("ix_verification_codes_conversation_id_id")
    op.drop_table("verification_codes")
    op.drop_table("conversation_identities")
