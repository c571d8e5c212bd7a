"""Gap drafts kept a day once done, so the same question is drafted once; indexes for that and the retention.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    # Rows queued before keep no key: they are drafted as they were, never matched as duplicates.
    op.add_column("gap_drafts", sa.Column("question_key", sa.String(64), nullable=True), schema=schema)
    op.add_column("gap_drafts", sa.Column("done_at", sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.drop_index("ix_gap_drafts_next_attempt", "gap_drafts", schema=schema)
    pending = sa.text("done_at IS NULL")
    op.create_index("ix_gap_drafts_due", "gap_drafts", ["next_attempt_at"], schema=schema, postgresql_where=pending)
    op.create_index("ix_gap_drafts_question", "gap_drafts", ["account_id", "question_key", "language"], schema=schema)
    op.create_index(
        "ix_gap_drafts_pending_account", "gap_drafts", ["account_id"], schema=schema, postgresql_where=pending
    )
    op.create_index("ix_gap_drafts_created", "gap_drafts", ["created_at"], schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "conversation")
    # Done rows were deleted before this revision: only pending ones go back.
    op.execute(sa.text(f'DELETE FROM "{schema}".gap_drafts WHERE done_at IS NOT NULL'))
    for index in (
        "ix_gap_drafts_created",
        "ix_gap_drafts_pending_account",
        "ix_gap_drafts_question",
        "ix_gap_drafts_due",
    ):
        op.drop_index(index, "gap_drafts", schema=schema)
    op.create_index("ix_gap_drafts_next_attempt", "gap_drafts", ["next_attempt_at"], schema=schema)
    op.drop_column("gap_drafts", "done_at", schema=schema)
    op.drop_column("gap_drafts", "question_key", schema=schema)
