"""An index on when each thread last changed: the retention finds the threads idle long enough to forget
their transcripts without reading every entry.

Built concurrently: threads take a write with every message.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [("ix_threads_updated_at", "threads", ["updated_at"])]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES)
