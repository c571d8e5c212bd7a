"""Outbox and inbox tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import create_plumbing_tables, drop_plumbing_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables(context.config.attributes.get("schema", "admin"))


def downgrade() -> None:
    drop_plumbing_tables(context.config.attributes.get("schema", "admin"))
