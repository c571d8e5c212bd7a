"""Declined questions waiting for the LLM's recommended answer for their knowledge gap.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.create_table(
        "gap_drafts",
        sa.Column("gap_event_id", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("thread_id", sa.String(220), nullable=False),
        sa.Column("message_id", sa.String(220), nullable=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        sa.Column("sources", JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_token", sa.String(40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("ix_gap_drafts_next_attempt", "gap_drafts", ["next_attempt_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.drop_table("gap_drafts", schema=schema)
