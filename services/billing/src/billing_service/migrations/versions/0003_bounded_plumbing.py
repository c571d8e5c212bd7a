"""Dead outbox rows set aside; the inbox partitioned by day (dropped by partition, not by DELETE).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import bound_plumbing_state, unbound_plumbing_state

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bound_plumbing_state(context.config.attributes.get("schema", "billing"))


def downgrade() -> None:
    unbound_plumbing_state(context.config.attributes.get("schema", "billing"))
