"""Agent profiles and threads (with their recent turns).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.create_table(
        "agent_profiles",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("personality", sa.String(40), nullable=False),
        sa.Column("default_language", sa.String(35), nullable=False),
        sa.Column("resolution_hours", sa.Integer, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "threads",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("thread_id", sa.String(220), primary_key=True),
        sa.Column("channel_type", sa.String(40), nullable=True),
        sa.Column("channel_id", sa.String(200), nullable=True),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("consecutive_misses", sa.Integer, nullable=False, server_default="0"),
        sa.Column("agent_replied", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("handed_off", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("negative_feedback", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recent_turns", postgresql.JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        schema=schema,
    )
    op.create_index(
        "ix_threads_open_by_last_message",
        "threads",
        ["last_message_at"],
        schema=schema,
        postgresql_where=sa.text("resolved_at IS NULL AND agent_replied AND NOT handed_off AND NOT negative_feedback"),
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.drop_table("threads", schema=schema)
    op.drop_table("agent_profiles", schema=schema)
