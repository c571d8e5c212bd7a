"""Thread ownership, transitions, transcripts, loads and the folded config and credit state.

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


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "routing")
    op.create_table(
        "account_config",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("snapshot", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "credit_state",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("exhausted", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "threads",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("thread_id", sa.String(200), primary_key=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("channel_type", sa.String(20), nullable=False),
        sa.Column("channel_id", sa.String(200), nullable=False),
        sa.Column("assignee_kind", sa.String(20), nullable=True),
        sa.Column("assignee_id", sa.String(200), nullable=True),
        sa.Column("powered_by_ai", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("locale", sa.String(35), nullable=True),
        sa.Column("last_message_id", sa.String(200), nullable=True),
        sa.Column("messages", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_table(
        "thread_transitions",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("from_state", sa.String(20), nullable=False),
        sa.Column("to_state", sa.String(20), nullable=False),
        sa.Column("cause_event_id", sa.String(200), nullable=False),
        sa.Column("cause_event_type", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("assignee_kind", sa.String(20), nullable=True),
        sa.Column("assignee_id", sa.String(200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index(
        "ix_thread_transitions_thread", "thread_transitions", ["account_id", "thread_id", "id"], schema=schema
    )
    op.create_table(
        "transcript_entries",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("entry_key", sa.String(250), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "thread_id", "entry_key", name="uq_transcript_entries_entry"),
        schema=schema,
    )
    op.create_table(
        "assignee_load",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("assignee_kind", sa.String(20), primary_key=True),
        sa.Column("assignee_id", sa.String(200), primary_key=True),
        sa.Column("open_threads", sa.Integer, nullable=False),
        schema=schema,
    )


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "routing")
    for table in (
        "assignee_load",
        "transcript_entries",
        "thread_transitions",
        "threads",
        "credit_state",
        "account_config",
    ):
        op.drop_table(table, schema=schema)
