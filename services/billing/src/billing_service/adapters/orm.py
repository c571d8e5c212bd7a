"""Billing's tables, all in its own schema."""

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
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

SCHEMA = "billing"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)

accounts_table = Table(
    "accounts",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("plan", JSONB, nullable=False),
    Column("balance", BigInteger, nullable=False),
    Column("used_this_period", BigInteger, nullable=False),
    Column("purchased_this_period", BigInteger, nullable=False),
    Column("auto_upgrades_this_period", Integer, nullable=False),
    Column("period_start", DateTime(timezone=True), nullable=False),
    Column("reset_at", DateTime(timezone=True), nullable=False),
    Column("exhausted", Boolean, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_accounts_reset_at", "reset_at"),
)

ledger_entries_table = Table(
    "ledger_entries",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("cause_id", String(400), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("balance_after", BigInteger, nullable=False),
    Column("note", String(500), nullable=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("account_id", "cause_id", "kind", name="uq_ledger_entries_cause"),
    Index("ix_ledger_entries_account", "account_id", "id"),
    # The credits used each time a state is published: amount too, so the charges are read from the index alone.
    Index("ix_ledger_entries_account_kind_time", "account_id", "kind", "recorded_at", "amount"),
)

threads_table = Table(
    "threads",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("thread_id", String(200), primary_key=True),
    Column("answered", Boolean, nullable=False),
    Column("handed_off", Boolean, nullable=False),
    Column("negative_feedback", Boolean, nullable=False),
    Column("billable", Boolean, nullable=False),
    Column("charged", Boolean, nullable=False),
    Column("last_activity_at", DateTime(timezone=True), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    # The latest answer, handoff and close (by the events' times): a close after a handoff, then an answer, makes
    # the thread the agent's again. Null when none was heard, or when heard before billing kept them.
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("handed_off_at", DateTime(timezone=True), nullable=True),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index("ix_threads_uncharged_activity", "last_activity_at", postgresql_where=text("NOT charged")),
)

applied_commands_table = Table(
    "applied_commands",
    metadata,
    Column("account_id", String(200), primary_key=True),
    Column("command_id", String(200), primary_key=True),
    Column("command_type", String(64), nullable=False),
    Column("applied_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_applied_commands_applied_at", "applied_at"),
)
