"""Indexes on when transcript entries and ownership changes were written: the retention deletes the oldest.

Built concurrently: both tables take writes with every message.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [
    ("ix_transcript_entries_at", "transcript_entries", ["at"]),
    ("ix_thread_transitions_at", "thread_transitions", ["at"]),
]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES[::-1])
