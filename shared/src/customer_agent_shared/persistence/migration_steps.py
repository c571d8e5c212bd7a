"""Migration operations for the plumbing tables every service has (outbox, inbox)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_plumbing_tables(schema: str) -> None:
    """Create the outbox and processed-events tables in ``schema``."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(200), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(500), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        schema=schema,
    )
    op.create_index(
        "ix_outbox_unpublished",
        "outbox",
        ["id"],
        schema=schema,
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(200), primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=schema)


def drop_plumbing_tables(schema: str) -> None:
    """Drop what ``create_plumbing_tables`` created."""
    op.drop_table("processed_events", schema=schema)
    op.drop_table("outbox", schema=schema)
