"""Ingestion's tables, all in its own schema."""

from __future__ import annotations

from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

SCHEMA = "ingestion"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)

# One row per content source: its settings, state and the last reported counts.
sources_table = Table(
    "sources",
    metadata,
    Column("account_id", String(200), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("url", Text, nullable=True),
    Column("import_related", Boolean, nullable=False, default=False),
    Column("title", Text, nullable=True),
    Column("citations_enabled", Boolean, nullable=False, default=True),
    Column("private", Boolean, nullable=False, default=False),
    Column("resync_interval_hours", Integer, nullable=False, default=168),
    Column("state", String(20), nullable=False),
    Column("status_sequence", BigInteger, nullable=False, default=0),
    Column("error", Text, nullable=True),
    Column("documents", Integer, nullable=False, default=0),
    Column("chunks", Integer, nullable=False, default=0),
    Column("embedded_chunks", Integer, nullable=False, default=0),
    # The sync progress last reported, repeated by reports that are not the sync's own (vectors added).
    Column("discovered", Integer, nullable=False, default=0),
    Column("fetched", Integer, nullable=False, default=0),
    Column("indexed", Integer, nullable=False, default=0),
    Column("failed", Integer, nullable=False, default=0),
    Column("recent_failures", JSON, nullable=True),
    Column("sync_requested_at", DateTime(timezone=True), nullable=True),
    Column("sync_full", Boolean, nullable=False, default=False),
    Column("last_synced_at", DateTime(timezone=True), nullable=True),
    # An uploaded file's command waiting for its parse in the background, on a pending source: {"event_id", "command"}.
    Column("pending_file", JSON(none_as_null=True), nullable=True),
    # The latest event time of the file commands the source took: one sent well before it is not taken.
    Column("file_sent_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("account_id", "source_id", name="pk_sources"),
)

# One row per indexed document (crawled page, file, short answer, article) with its crawl state.
documents_table = Table(
    "documents",
    metadata,
    Column("account_id", String(200), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("document_id", String(64), nullable=False),
    Column("url", Text, nullable=False),
    Column("title", Text, nullable=True),
    Column("etag", Text, nullable=True),
    Column("last_modified", Text, nullable=True),
    Column("content_hash", String(64), nullable=True),
    Column("chunk_count", Integer, nullable=False, default=0),
    Column("updated_at", DateTime(timezone=True), nullable=True),
    Column("fetched_at", DateTime(timezone=True), nullable=True),
    Column("error", Text, nullable=True),
    Column("extra", JSON, nullable=True),
    PrimaryKeyConstraint("account_id", "source_id", "document_id", name="pk_documents"),
)

# Parser processes started for a file command, counted (and committed) before each start, so a file that
# kills its parser, or the whole service, is given up after a few attempts instead of redelivered forever.
parse_attempts_table = Table(
    "parse_attempts",
    metadata,
    Column("event_id", String(200), nullable=False),
    Column("account_id", String(200), nullable=False),
    Column("source_id", String(200), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_failure", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("event_id", name="pk_parse_attempts"),
)
