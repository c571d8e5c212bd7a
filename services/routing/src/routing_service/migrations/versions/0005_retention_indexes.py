"""Indexes on when transcript entries and ownership changes were written: the retention deletes the oldest.

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
    schema = context.config.attributes.get("schema", "routing")
    op.create_index("ix_transcript_entries_at", "transcript_entries", ["at"], schema=schema)
    op.create_index("ix_thread_transitions_at", "thread_transitions", ["at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "routing")
    op.drop_index("ix_thread_transitions_at", "thread_transitions", schema=schema)
    op.drop_index("ix_transcript_entries_at", "transcript_entries", schema=schema)
