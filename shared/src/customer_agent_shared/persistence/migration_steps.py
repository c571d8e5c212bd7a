"""Migration operations for the plumbing tables every service has (outbox, inbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from customer_agent_shared.persistence.partitions import (
    DEFAULT_PARTITION,
    create_partition_sql,
    days_to_prepare,
    quoted,
)


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


def bound_plumbing_state(schema: str) -> None:
    """Add ``outbox_dead`` and turn ``processed_events`` into day partitions, keeping every claim."""
    op.create_table(
        "outbox_dead",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("message_key", sa.String(500), nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        schema=schema,
    )
    name = f"{quoted(schema)}.processed_events"
    op.execute(f"ALTER TABLE {name} RENAME TO processed_events_unpartitioned")
    op.execute(f"ALTER INDEX {quoted(schema)}.processed_events_pkey RENAME TO processed_events_unpartitioned_pkey")
    op.execute(f"DROP INDEX {quoted(schema)}.ix_processed_events_processed_at")
    op.execute(
        f"CREATE TABLE {name} (consumer varchar(200) NOT NULL, event_id varchar(200) NOT NULL, "
        "processed_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer, event_id, processed_at)) "
        "PARTITION BY RANGE (processed_at)"
    )
    op.execute(f"CREATE TABLE {quoted(schema)}.{DEFAULT_PARTITION} PARTITION OF {name} DEFAULT")
    old_days = op.get_bind().execute(
        sa.text(f"SELECT DISTINCT (processed_at AT TIME ZONE 'UTC')::date FROM {name}_unpartitioned")
    )
    for day in sorted(set(old_days.scalars()) | set(days_to_prepare(datetime.now(UTC).date()))):
        op.execute(create_partition_sql(schema, day))
    op.execute(f"INSERT INTO {name} SELECT consumer, event_id, processed_at FROM {name}_unpartitioned")
    op.execute(f"DROP TABLE {name}_unpartitioned")


def unbound_plumbing_state(schema: str) -> None:
    """Undo ``bound_plumbing_state``: one claim per id (the latest) in a plain table; dead rows back in the
    outbox (an older relay retries them until sent, as it did before)."""
    prefix = quoted(schema)
    op.execute(
        f"INSERT INTO {prefix}.outbox (event_id, topic, message_key, payload, created_at) "
        f"SELECT event_id, topic, message_key, payload, created_at FROM {prefix}.outbox_dead ORDER BY id "
        "ON CONFLICT (event_id) DO NOTHING"
    )
    op.drop_table("outbox_dead", schema=schema)
    op.create_table(
        "processed_events_flat",
        sa.Column("consumer", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("consumer", "event_id", name="processed_events_flat_pkey"),
        schema=schema,
    )
    op.execute(
        f"INSERT INTO {prefix}.processed_events_flat SELECT consumer, event_id, max(processed_at) "
        f"FROM {prefix}.processed_events GROUP BY consumer, event_id"
    )
    op.drop_table("processed_events", schema=schema)
    op.rename_table("processed_events_flat", "processed_events", schema=schema)
    op.execute(f"ALTER INDEX {prefix}.processed_events_flat_pkey RENAME TO processed_events_pkey")
    op.create_index("ix_processed_events_processed_at", "processed_events", ["processed_at"], schema=schema)


IndexSpec = tuple[str, str, Sequence[str]]
"""An index: its name, its table and its columns."""


def create_indexes_concurrently(schema: str, indexes: Sequence[IndexSpec]) -> None:
    """Create each index with CREATE INDEX CONCURRENTLY, which lets writes to a busy table go on meanwhile,
    outside the migration's transaction (it cannot run in one). One there already is kept, unless a failed
    earlier attempt left it invalid: that one is built again.

    A migration file that calls this does nothing else: stepping out commits what the file did before, so a
    failed build would leave that committed under the previous version, and every retry would redo it."""
    with op.get_context().autocommit_block():
        for name, table, columns in indexes:
            invalid = op.get_bind().scalar(
                sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
                {"name": f"{quoted(schema)}.{quoted(name)}"},
            )
            if invalid:
                op.drop_index(name, table, schema=schema, postgresql_concurrently=True)
            op.create_index(name, table, list(columns), schema=schema, postgresql_concurrently=True, if_not_exists=True)


def drop_indexes_concurrently(schema: str, indexes: Sequence[IndexSpec]) -> None:
    """Drop each index with DROP INDEX CONCURRENTLY (writes to its table go on meanwhile), if it is there."""
    with op.get_context().autocommit_block():
        for name, table, _ in indexes:
            op.drop_index(name, table, schema=schema, postgresql_concurrently=True, if_exists=True)
