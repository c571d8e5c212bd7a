"""Routing's tables, all in its own schema."""

from __future__ import annotations

from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "routing"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)

account_config_table = Table(
    "account_config",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("snapshot", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""The latest agent.config.v1 snapshot of each account (older versions never overwrite it)."""

credit_state_table = Table(
    "credit_state",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("version", BigInteger, nullable=False),
    Column("exhausted", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
"""Whether each account's credits are exhausted, from billing.credit-state.v1."""

threads_table = Table(
    "threads",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("thread_id", String(200), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("channel_type", String(20), nullable=False),
    Column("channel_id", String(200), nullable=False),
    Column("assignee_kind", String(20), nullable=True),
    Column("assignee_id", String(200), nullable=True),
    Column("powered_by_ai", Boolean, nullable=False, server_default="true"),
    Column("locale", String(35), nullable=True),
    Column("last_message_id", String(200), nullable=True),
    Column("messages", Integer, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_threads_updated_at", "updated_at"),
    Index("ix_threads_state_updated_at", "state", "updated_at"),
)
"""Ownership of each thread: the current state of its state machine."""

transitions_table = Table(
    "thread_transitions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", String(100), nullable=False),
    Column("thread_id", String(200), nullable=False),
    Column("from_state", String(20), nullable=False),
    Column("to_state", String(20), nullable=False),
    Column("cause_event_id", String(200), nullable=False),
    Column("cause_event_type", String(100), nullable=False),
    Column("reason", String(40), nullable=True),
    Column("assignee_kind", String(20), nullable=True),
    Column("assignee_id", String(200), nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_thread_transitions_thread", "account_id", "thread_id", "id"),
    Index("ix_thread_transitions_at", "at"),
)
"""Every ownership change, with the event that caused it."""

transcript_table = Table(
    "transcript_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", String(100), nullable=False),
    Column("thread_id", String(200), nullable=False),
    Column("entry_key", String(250), nullable=False),
    Column("role", String(20), nullable=False),
    Column("text", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "thread_id", "entry_key", name="uq_transcript_entries_entry"),
    Index("ix_transcript_entries_at", "at"),
)
"""Visitor messages (keyed by message_id) and agent answers of each thread, for handoff transcripts."""

assignee_load_table = Table(
    "assignee_load",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("assignee_kind", String(20), primary_key=True),
    Column("assignee_id", String(200), primary_key=True),
    Column("open_threads", Integer, nullable=False),
)
"""Open threads handed to each user or team (capacity and least-loaded choice)."""

user_presence_table = Table(
    "user_presence",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("user_id", String(200), primary_key=True),
    Column("available", Boolean, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)
"""Each user's presence as the inbox last reported it (the config's ``available`` is the admin's, apart)."""
