"""Credit ledger: accounts, append-only entries, thread facts, applied commands.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _schema() -> str:
    return str(context.config.attributes.get("schema", "billing"))


def upgrade() -> None:
    schema = _schema()
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("plan", JSONB, nullable=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("used_this_period", sa.BigInteger, nullable=False),
        sa.Column("purchased_this_period", sa.BigInteger, nullable=False),
        sa.Column("auto_upgrades_this_period", sa.Integer, nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reset_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exhausted", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index("ix_accounts_reset_at", "accounts", ["reset_at"], schema=schema)
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("cause_id", sa.String(400), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "cause_id", "kind", name="uq_ledger_entries_cause"),
        schema=schema,
    )
    op.create_index("ix_ledger_entries_account", "ledger_entries", ["account_id", "id"], schema=schema)
    op.create_table(
        "threads",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("thread_id", sa.String(200), primary_key=True),
        sa.Column("answered", sa.Boolean, nullable=False),
        sa.Column("handed_off", sa.Boolean, nullable=False),
        sa.Column("negative_feedback", sa.Boolean, nullable=False),
        sa.Column("billable", sa.Boolean, nullable=False),
        sa.Column("charged", sa.Boolean, nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_threads_uncharged_activity",
        "threads",
        ["last_activity_at"],
        schema=schema,
        postgresql_where=sa.text("NOT charged"),
    )
    op.create_table(
        "applied_commands",
        sa.Column("account_id", sa.String(200), primary_key=True),
        sa.Column("command_id", sa.String(200), primary_key=True),
        sa.Column("command_type", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )


def downgrade() -> None:
    schema = _schema()
    op.drop_table("applied_commands", schema=schema)
    op.drop_table("threads", schema=schema)
    op.drop_table("ledger_entries", schema=schema)
    op.drop_table("accounts", schema=schema)
