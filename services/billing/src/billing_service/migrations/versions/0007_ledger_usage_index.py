"""An index on each account's ledger entries by kind and time, with their amounts: every published credit state
adds up the account's charges and refunds of the last 35 days (and of its period) from the ledger, reading the
charges from the index alone.

Built concurrently: the table takes a write with every charge.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10
"""

from collections.abc import Sequence

from alembic import context
from customer_agent_shared.persistence.migration_steps import (
    IndexSpec,
    create_indexes_concurrently,
    drop_indexes_concurrently,
)

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES: list[IndexSpec] = [
    ("ix_ledger_entries_account_kind_time", "ledger_entries", ["account_id", "kind", "recorded_at", "amount"])
]


def upgrade() -> None:
    create_indexes_concurrently(context.config.attributes.get("schema", "billing"), INDEXES)


def downgrade() -> None:
    drop_indexes_concurrently(context.config.attributes.get("schema", "billing"), INDEXES)
