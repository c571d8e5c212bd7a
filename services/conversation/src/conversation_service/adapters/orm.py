"""Conversation's tables, all in its own schema."""

from __future__ import annotations

from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from sqlalchemy import BigInteger, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text, text
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "conversation"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)

agent_profiles = Table(
    "agent_profiles",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(40), nullable=False),
    Column("personality", String(40), nullable=False),
    Column("default_language", String(35), nullable=False),
    Column("resolution_hours", Integer, nullable=True),
    Column("answer_threshold", Float, nullable=True),
    Column("languages", JSONB, nullable=True),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

threads = Table(
    "threads",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("thread_id", String(220), primary_key=True),
    Column("channel_type", String(40), nullable=True),
    Column("channel_id", String(200), nullable=True),
    Column("language", String(35), nullable=True),
    Column("consecutive_misses", Integer, nullable=False, default=0),
    Column("agent_replied", Boolean, nullable=False, default=False),
    Column("handed_off", Boolean, nullable=False, default=False),
    Column("negative_feedback", Boolean, nullable=False, default=False),
    Column("last_message_at", DateTime(timezone=True), nullable=False),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    # The last few turns ({role, text, at}), oldest first: read with the thread, no extra query.
    Column("recent_turns", JSONB, nullable=False, default=list),
    Index(
        "ix_threads_open_by_last_message",
        "last_message_at",
        postgresql_where=text("resolved_at IS NULL AND agent_replied AND NOT handed_off AND NOT negative_feedback"),
    ),
)

# Real visitors' questions, newest read first by a draft replay; rows older than the retention are pruned.
questions = Table(
    "questions",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("thread_id", String(220), primary_key=True),
    Column("message_id", String(220), primary_key=True),
    Column("text", Text, nullable=False),
    Column("language", String(35), nullable=False),
    Column("locale", String(35), nullable=True),
    Column("channel_type", String(40), nullable=True),
    Column("channel_id", String(200), nullable=True),
    Column("asked_at", DateTime(timezone=True), nullable=False),
    Index("ix_questions_account_asked", "account_id", "asked_at"),
    Index("ix_questions_asked", "asked_at"),
)

# Declined questions waiting for the LLM's recommended answer (only with an LLM): a drafter leases due rows
# (next_attempt_at, lease_token) and deletes each once its draft is published or given up.
gap_drafts = Table(
    "gap_drafts",
    metadata,
    Column("gap_event_id", String(200), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("thread_id", String(220), nullable=False),
    Column("message_id", String(220), nullable=True),
    Column("question", Text, nullable=False),
    Column("language", String(35), nullable=False),
    Column("sources", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_token", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The question's words, hashed (domain.gap_drafts.question_key); None on rows queued before 0008.
    Column("question_key", String(64), nullable=True),
    # When it was drafted or given up (its question and sources are then cleared); None while pending.
    Column("done_at", DateTime(timezone=True), nullable=True),
    Index("ix_gap_drafts_due", "next_attempt_at", postgresql_where=text("done_at IS NULL")),
    Index("ix_gap_drafts_question", "account_id", "question_key", "language"),
    Index("ix_gap_drafts_pending_account", "account_id", postgresql_where=text("done_at IS NULL")),
    Index("ix_gap_drafts_created", "created_at"),
)
