"""Admin-api's tables, all in its own schema."""

from __future__ import annotations

from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "admin"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)

accounts_table = Table(
    "accounts",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("config_version", BigInteger, nullable=False),
    Column("config", JSONB, nullable=False),
)

api_keys_table = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("account_id", String(100), nullable=False, index=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("permissions", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)

sources_table = Table(
    "sources",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("id", String(60), primary_key=True),
    Column("kind", String(30), nullable=False),
    Column("url", Text, nullable=True),
    Column("import_related", Boolean, nullable=False, default=False),
    Column("question", Text, nullable=True),
    Column("answer", Text, nullable=True),
    Column("filename", String(300), nullable=True),
    Column("content_type", String(200), nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("upload_sha256", String(64), nullable=True),  # the file's key in the upload store (kind file)
    Column("citations_enabled", Boolean, nullable=False, default=True),
    Column("private", Boolean, nullable=False, default=False),
    Column("state", String(20), nullable=False),
    Column("status_sequence", BigInteger, nullable=True),
    Column("discovered", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("indexed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("documents", Integer, nullable=False, default=0),
    Column("chunks", Integer, nullable=False, default=0),
    Column("embedded_chunks", Integer, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("recent_failures", JSONB, nullable=True),
    Column("last_synced_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("deleted_at", DateTime(timezone=True), nullable=True),
)

credit_states_table = Table(
    "credit_states",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("state", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

credit_usage_days_table = Table(
    "credit_usage_days",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("day", Date, primary_key=True),  # a UTC day
    Column("credits", BigInteger, nullable=False),  # used that day: usage minus refunds, as billing reported
    Column("version", BigInteger, nullable=False),  # of the credit state that reported it
    Index("ix_credit_usage_days_day", "day"),
)

conversation_facts_table = Table(
    "conversation_facts",
    metadata,
    Column("event_id", String(200), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("kind", String(60), nullable=False),
    Column("thread_id", String(200), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("question", Text, nullable=True),
    Column("reason", String(40), nullable=True),
    Index("ix_conversation_facts_account_time", "account_id", "occurred_at"),
    Index("ix_conversation_facts_occurred_at", "occurred_at"),
)

knowledge_gaps_table = Table(
    "knowledge_gaps",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("id", String(60), primary_key=True),
    Column("question", Text, nullable=False),
    Column("normalized_question", Text, nullable=False),
    Column("language", String(35), nullable=True),
    Column("count", Integer, nullable=False),
    Column("nearest_content", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("resolved_source_id", String(60), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),  # when resolved or dismissed; null while open
    Column("recommended_answer", Text, nullable=True),
    Column("question_embedding", JSONB, nullable=True),
    Column("embedding_model", String(200), nullable=True),
    Column("drafted_by", String(20), nullable=True),  # who wrote recommended_answer: 'extract' or 'llm'
    Index("ix_knowledge_gaps_account_status", "account_id", "status"),
    Index("ix_knowledge_gaps_closed_at", "closed_at"),
)

# The gap each knowledge_gap event's question joined, so the LLM's later draft for it finds the gap.
knowledge_gap_questions_table = Table(
    "knowledge_gap_questions",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("gap_id", String(60), nullable=False),
    Column("seen_at", DateTime(timezone=True), nullable=False),
    Index("ix_knowledge_gap_questions_seen_at", "seen_at"),
    Index("ix_knowledge_gap_questions_gap", "account_id", "gap_id"),
)

audit_log_table = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("account_id", String(100), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),
    Column("target_type", String(60), nullable=False),
    Column("target_id", String(300), nullable=False),
    Column("before", JSONB, nullable=True),
    Column("after", JSONB, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_audit_log_account_at", "account_id", "at"),
)

idempotency_table = Table(
    "idempotency_keys",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("scope", String(300), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_idempotency_keys_created_at", "created_at"),
)
