"""Indexes on when conversation facts happened and idempotent responses were stored: the retention deletes
the oldest.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.create_index("ix_conversation_facts_occurred_at", "conversation_facts", ["occurred_at"], schema=schema)
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_index("ix_idempotency_keys_created_at", "idempotency_keys", schema=schema)
    op.drop_index("ix_conversation_facts_occurred_at", "conversation_facts", schema=schema)
