"""Knowledge gaps record when they were closed (resolved or dismissed): the retention deletes the gaps closed
longest ago.

A resolved gap was closed when its short answer was created (resolved_at); a dismissal's time was not
recorded, so a gap dismissed before this counts as closed now (kept its full retention from here, never
deleted early). Repeatable: a column already there is kept and only gaps without a time are backfilled. Its
indexes are built by 0013, on their own (a file that builds indexes concurrently does nothing else).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from customer_agent_shared.persistence.partitions import quoted

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    gaps = f"{quoted(context.config.attributes.get('schema', 'admin'))}.knowledge_gaps"
    op.execute(sa.text(f"ALTER TABLE {gaps} ADD COLUMN IF NOT EXISTS closed_at timestamptz"))
    op.execute(
        sa.text(
            f"UPDATE {gaps} SET closed_at = CASE WHEN status = 'resolved' THEN coalesce(resolved_at, now()) "
            "ELSE now() END WHERE closed_at IS NULL AND status <> 'open'"
        )
    )


def downgrade() -> None:
    gaps = f"{quoted(context.config.attributes.get('schema', 'admin'))}.knowledge_gaps"
    op.execute(sa.text(f"ALTER TABLE {gaps} DROP COLUMN IF EXISTS closed_at"))
