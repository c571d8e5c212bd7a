"""When each thread was last answered, handed off and closed by a person: a close after a handoff, then the
agent's answer, makes the thread the agent's again (a per-resolution charge for its next resolution).

The answered and handed-off flags stay, still written: a billing of the previous release reads them. An
uncharged thread handed off before the upgrade gets its last activity as its handoff's time, the latest the
handoff can have been, so only a close after everything billing had heard of it ends the handoff.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from customer_agent_shared.persistence.partitions import quoted

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("answered_at", "handed_off_at", "closed_at")


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    for name in _COLUMNS:
        op.add_column("threads", sa.Column(name, sa.DateTime(timezone=True), nullable=True), schema=schema)
    op.execute(
        sa.text(
            f"UPDATE {quoted(schema)}.threads SET handed_off_at = last_activity_at WHERE handed_off AND NOT charged"
        )
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    for name in _COLUMNS:
        op.drop_column("threads", name, schema=schema)
