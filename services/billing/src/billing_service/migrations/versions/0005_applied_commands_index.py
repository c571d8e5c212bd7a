"""An index on when each command was applied: the retention deletes the oldest ids in batches.

Built concurrently: the table takes a write with every command.

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

INDEXES: list[IndexSpec] = [("ix_applied_commands_applied_at", "applied_commands", ["applied_at"])]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "billing"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "billing"), INDEXES)
