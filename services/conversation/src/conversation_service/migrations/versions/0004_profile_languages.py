"""Agent profiles keep the languages the account speaks (its default and its configured messages').

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.add_column("agent_profiles", sa.Column("languages", JSONB, nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.drop_column("agent_profiles", "languages", schema=schema)
