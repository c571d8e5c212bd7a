"""Knowledge gaps say who drafted their answer and know their questions' events (for the LLM's later draft).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column("knowledge_gaps", sa.Column("drafted_by", sa.String(20), nullable=True), schema=schema)
    op.execute(
        sa.text(f"UPDATE \"{schema}\".knowledge_gaps SET drafted_by = 'extract' WHERE recommended_answer IS NOT NULL")
    )
    op.create_table(
        "knowledge_gap_questions",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("gap_id", sa.String(60), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_table("knowledge_gap_questions", schema=schema)
    op.drop_column("knowledge_gaps", "drafted_by", schema=schema)
