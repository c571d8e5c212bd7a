"""Indexes on when conversation facts happened and idempotent responses were stored: the retention deletes
the oldest.

Built concurrently: both tables take writes while the API serves.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [
    ("ix_conversation_facts_occurred_at", "conversation_facts", ["occurred_at"]),
    ("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"]),
]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "admin"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "admin"), INDEXES[::-1])
