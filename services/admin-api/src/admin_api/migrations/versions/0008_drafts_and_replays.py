"""Drafts of the agent configuration, their publications (to unpublish the last one) and draft replays.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.create_table(
        "agent_drafts",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("sections", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        schema=schema,
    )
    op.create_table(
        "agent_publications",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("config_version", sa.BigInteger, nullable=False),
        sa.Column("before", JSONB, nullable=False),
        sa.Column("after", JSONB, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("unpublished_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index("ix_agent_publications_account", "agent_publications", ["account_id", "id"], schema=schema)
    op.create_table(
        "agent_replays",
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("question_limit", sa.Integer, nullable=False),
        sa.Column("draft_etag", sa.String(80), nullable=False),
        sa.Column("live_version", sa.BigInteger, nullable=False),
        sa.Column("configs", JSONB, nullable=True),
        sa.Column("answers", JSONB, nullable=True),
        sa.Column("result", JSONB, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index("ix_agent_replays_account", "agent_replays", ["account_id", "requested_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_table("agent_replays", schema=schema)
    op.drop_table("agent_publications", schema=schema)
    op.drop_table("agent_drafts", schema=schema)
