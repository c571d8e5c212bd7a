"""Indexes for the retention of knowledge gaps: the gaps closed longest ago, and their question links found by
gap.

Built concurrently (both tables take writes as conversation events are folded), in a file of their own: the
build steps out of the migration's transaction, so anything else here would be committed before it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [
    ("ix_knowledge_gaps_closed_at", "knowledge_gaps", ["closed_at"]),
    ("ix_knowledge_gap_questions_gap", "knowledge_gap_questions", ["account_id", "gap_id"]),
]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "admin"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "admin"), INDEXES[::-1])
