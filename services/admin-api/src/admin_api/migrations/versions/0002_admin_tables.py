"""Accounts, keys, sources, credit state, conversation facts, knowledge gaps, audit log, idempotency.

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

TABLES = (
    "idempotency_keys",
    "audit_log",
    "knowledge_gaps",
    "conversation_facts",
    "credit_states",
    "sources",
    "api_keys",
    "accounts",
)


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.create_table(
        "accounts",
        sa.Column("id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("config_version", sa.BigInteger, nullable=False),
        sa.Column("config", JSONB, nullable=False),
        schema=schema,
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False, index=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("permissions", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_table(
        "sources",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("import_related", sa.Boolean, nullable=False),
        sa.Column("question", sa.Text, nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("filename", sa.String(300), nullable=True),
        sa.Column("content_type", sa.String(200), nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("citations_enabled", sa.Boolean, nullable=False),
        sa.Column("private", sa.Boolean, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("status_sequence", sa.BigInteger, nullable=True),
        *(sa.Column(name, sa.Integer, nullable=False) for name in _COUNTS),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_table(
        "credit_states",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("state", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        schema=schema,
    )
    op.create_table(
        "conversation_facts",
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("thread_id", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("billable", sa.Boolean, nullable=False),
        sa.Column("question", sa.Text, nullable=True),
        sa.Column("reason", sa.String(40), nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_conversation_facts_account_time", "conversation_facts", ["account_id", "occurred_at"], schema=schema
    )
    op.create_table(
        "knowledge_gaps",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("id", sa.String(60), primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("normalized_question", sa.Text, nullable=False),
        sa.Column("language", sa.String(35), nullable=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("nearest_content", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_source_id", sa.String(60), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index("ix_knowledge_gaps_account_status", "knowledge_gaps", ["account_id", "status"], schema=schema)
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("account_id", sa.String(100), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(60), nullable=False),
        sa.Column("target_id", sa.String(300), nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        schema=schema,
    )
    op.create_index("ix_audit_log_account_at", "audit_log", ["account_id", "at"], schema=schema)
    op.create_table(
        "idempotency_keys",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("scope", sa.String(300), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=_now()),
        schema=schema,
    )


_COUNTS = ("discovered", "fetched", "indexed", "failed", "documents", "chunks")


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    for table in TABLES:
        op.drop_table(table, schema=schema)
