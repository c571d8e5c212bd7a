"""Admin-api's tables of drafts, publications and draft replays (in its schema, beside ``orm``'s)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from admin_api.adapters.orm import metadata

drafts_table = Table(
    "agent_drafts",
    metadata,
    Column("account_id", String(100), primary_key=True),
    Column("sections", JSONB, nullable=False),  # {name: {"value", "base"}}, see domain.drafts
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("updated_by", String(200), nullable=False),
)

publications_table = Table(
    "agent_publications",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("account_id", String(100), nullable=False),
    Column("config_version", BigInteger, nullable=False),
    Column("before", JSONB, nullable=False),  # the sections the publication changed, as they were
    Column("after", JSONB, nullable=False),  # and as it made them
    Column("published_at", DateTime(timezone=True), nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("unpublished_at", DateTime(timezone=True), nullable=True),
    Index("ix_agent_publications_account", "account_id", "id"),
)

replays_table = Table(
    "agent_replays",
    metadata,
    Column("id", String(60), primary_key=True),
    Column("account_id", String(100), nullable=False),
    Column("state", String(20), nullable=False),  # answering, routing, done, failed
    Column("question_limit", Integer, nullable=False),
    Column("draft_etag", String(80), nullable=False),
    Column("live_version", BigInteger, nullable=False),
    Column("configs", JSONB, nullable=True),  # {"live", "draft"} snapshots, until routing has answered
    Column("answers", JSONB, nullable=True),  # conversation's ReplayAnswered, until routing has answered
    Column("result", JSONB, nullable=True),  # the report (summary and changed questions)
    Column("error", Text, nullable=True),
    Column("requested_by", String(200), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("ix_agent_replays_account", "account_id", "requested_at"),
)
