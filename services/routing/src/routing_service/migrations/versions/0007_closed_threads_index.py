"""An index on each thread's state and when it last changed: the retention finds the threads closed long
enough to delete without reading those that stay (open, or with people) however old they are.

Built concurrently: threads take a write with every message.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [("ix_threads_state_updated_at", "threads", ["state", "updated_at"])]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "routing"), INDEXES)
