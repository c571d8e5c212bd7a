"""An index on when a gap's question was seen: the hourly retention deletes the oldest in batches.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.create_index("ix_knowledge_gap_questions_seen_at", "knowledge_gap_questions", ["seen_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_index("ix_knowledge_gap_questions_seen_at", "knowledge_gap_questions", schema=schema)
