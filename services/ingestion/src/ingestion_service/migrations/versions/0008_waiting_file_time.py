"""A waiting file's event time is the source's file_sent_at alone: copied there from pending_file.sent_at and
dropped from it; files left waiting on deleted sources (by releases before waiting files) are dropped.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08
"""

from collections.abc import Sequence

from alembic import context, op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    sources = f'"{context.config.attributes.get("schema", "ingestion")}".sources'
    # Nothing on a deleted source is ever taken; a file waits on a pending source only (pending_syncs reads that).
    op.execute(f"UPDATE {sources} SET pending_file = NULL WHERE state = 'deleted' AND pending_file IS NOT NULL")
    # GREATEST ignores a NULL: a source that took no file since 0007 gets its waiting upload's time.
    op.execute(
        f"UPDATE {sources} SET file_sent_at = GREATEST(file_sent_at, (pending_file ->> 'sent_at')::timestamptz), "
        "pending_file = (pending_file::jsonb - 'sent_at')::json WHERE pending_file ->> 'sent_at' IS NOT NULL"
    )


def downgrade() -> None:
    sources = f'"{context.config.attributes.get("schema", "ingestion")}".sources'
    # The waiting file's own time is gone: file_sent_at, never earlier, orders replays the same way.
    op.execute(
        f"UPDATE {sources} SET pending_file = (pending_file::jsonb || jsonb_build_object('sent_at', "
        """to_char(file_sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')))::json """
        "WHERE pending_file IS NOT NULL AND file_sent_at IS NOT NULL"
    )
