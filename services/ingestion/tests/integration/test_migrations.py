"""Ingestion's migrations apply and roll back on real PostgreSQL, and 0008 moves a waiting file's time both ways."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from customer_agent_shared.persistence.migrations import alembic_config
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import (
    assert_migrations_apply_and_roll_back,
    assert_plumbing_becomes_bounded_keeping_rows,
)
from ingestion_service.adapters.orm import SCHEMA, sources_table
from ingestion_service.bootstrap import MIGRATIONS_DIR
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def test_migrations_apply_and_roll_back(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_migrations_apply_and_roll_back(
        engine,
        infrastructure.database_url,
        MIGRATIONS_DIR,
        schema,
        {"outbox", "processed_events", "outbox_dead", "sources", "documents", "parse_attempts"},
    )


async def test_bounding_the_plumbing_keeps_every_row(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_plumbing_becomes_bounded_keeping_rows(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema, before="0003"
    )


SENT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def test_a_waiting_file_s_time_moves_to_file_sent_at_and_back(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    await asyncio.to_thread(command.upgrade, config, "0007")
    waiting = {"event_id": "e", "command": {}, "sent_at": SENT.isoformat()}
    rows = {
        "kept-none": ("pending", waiting, None),  # recorded by the release before 0007
        "kept-later": ("pending", waiting, SENT + timedelta(hours=1)),  # a later inline file taken since
        "kept-no-time": ("pending", {"event_id": "e", "command": {}}, None),  # recorded before either time
        "deleted": ("deleted", waiting, None),  # deleted by a release before waiting files
    }
    async with engine.begin() as connection:
        for source_id, (state, pending, sent_at) in rows.items():
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}".sources (account_id, source_id, kind, state, pending_file, file_sent_at) '
                    "VALUES ('acc', :source_id, 'file', :state, CAST(:pending AS json), :sent_at)"
                ),
                {"source_id": source_id, "state": state, "pending": json.dumps(pending), "sent_at": sent_at},
            )

    await asyncio.to_thread(command.upgrade, config, "0008")

    recorded = {"event_id": "e", "command": {}}
    assert await files_waiting(engine, schema) == {
        "kept-none": (recorded, SENT),
        "kept-later": (recorded, SENT + timedelta(hours=1)),
        "kept-no-time": (recorded, None),
        "deleted": (None, None),
    }
    await asyncio.to_thread(command.downgrade, config, "0007")
    restored = await files_waiting(engine, schema)
    assert {source_id: waiting_time(pending) for source_id, (pending, _) in restored.items()} == {
        "kept-none": SENT,
        "kept-later": SENT + timedelta(hours=1),  # the source's time, never earlier than its waiting file's
        "kept-no-time": None,
        "deleted": None,
    }


async def files_waiting(engine: AsyncEngine, schema: str) -> dict[str, tuple[dict[str, Any] | None, datetime | None]]:
    """Each source's waiting file and file_sent_at."""
    table = sources_table
    async with engine.execution_options(schema_translate_map={SCHEMA: schema}).connect() as connection:
        result = await connection.execute(select(table.c.source_id, table.c.pending_file, table.c.file_sent_at))
        return {row.source_id: (row.pending_file, row.file_sent_at) for row in result}


def waiting_time(pending: dict[str, Any] | None) -> datetime | None:
    """The event time a waiting file's record keeps, if any."""
    sent_at = (pending or {}).get("sent_at")
    return datetime.fromisoformat(sent_at) if sent_at else None
