"""Agent profiles keep the account's answer threshold (null: the service's default).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.add_column("agent_profiles", sa.Column("answer_threshold", sa.Float, nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    op.drop_column("agent_profiles", "answer_threshold", schema=schema)
