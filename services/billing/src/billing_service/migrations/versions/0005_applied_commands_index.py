"""An index on when each command was applied: the retention deletes the oldest ids in batches.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    op.create_index("ix_applied_commands_applied_at", "applied_commands", ["applied_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    op.drop_index("ix_applied_commands_applied_at", "applied_commands", schema=schema)
