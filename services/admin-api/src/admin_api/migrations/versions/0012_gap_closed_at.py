"""Knowledge gaps record when they were closed (resolved or dismissed), indexed: the retention deletes the
gaps closed longest ago, and their question links, found by gap.

A resolved gap was closed when its short answer was created (resolved_at); a dismissal's time was not
recorded, so a gap dismissed before this counts as closed now (kept its full retention from here, never
deleted early). The indexes are built concurrently: both tables take writes as conversation events are folded.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)
from customer_agent_shared.persistence.partitions import quoted

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [
    ("ix_knowledge_gaps_closed_at", "knowledge_gaps", ["closed_at"]),
    ("ix_knowledge_gap_questions_gap", "knowledge_gap_questions", ["account_id", "gap_id"]),
]


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column("knowledge_gaps", sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.execute(
        sa.text(
            f"UPDATE {quoted(schema)}.knowledge_gaps SET closed_at = CASE WHEN status = 'resolved' "
            "THEN coalesce(resolved_at, now()) ELSE now() END WHERE status <> 'open'"
        )
    )
    create_indexes_concurrently(schema, INDEXES)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    drop_indexes_concurrently(schema, INDEXES[::-1])
    op.drop_column("knowledge_gaps", "closed_at", schema=schema)
