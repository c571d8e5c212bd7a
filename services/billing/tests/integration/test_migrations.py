"""Billing's migrations apply and roll back on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from alembic import command
from billing_service.bootstrap import MIGRATIONS_DIR
from customer_agent_shared.persistence.migrations import alembic_config
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import (
    assert_migrations_apply_and_roll_back,
    assert_plumbing_becomes_bounded_keeping_rows,
)
from sqlalchemy import text
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
        {"outbox", "processed_events", "outbox_dead", "accounts", "ledger_entries", "threads", "applied_commands"},
    )


async def test_bounding_the_plumbing_keeps_every_row(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_plumbing_becomes_bounded_keeping_rows(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema, before="0002"
    )


async def test_an_uncharged_handoff_gets_its_threads_last_activity_as_its_time(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    threads = {"handed": (True, False), "charged": (True, True), "agents": (False, False)}  # (handed off, charged)
    await asyncio.to_thread(command.upgrade, config, "0005")
    async with engine.begin() as connection:
        for thread, (handed_off, charged) in threads.items():
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}".threads (account_id, thread_id, answered, handed_off, negative_feedback,'
                    " billable, charged, last_activity_at) VALUES ('acc', :t, true, :h, false, true, :c, :at)"
                ),
                {"t": thread, "h": handed_off, "c": charged, "at": at},
            )
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT thread_id, handed_off_at, answered_at, closed_at FROM "{schema}".threads')
        )
        found = {row.thread_id: tuple(row[1:]) for row in rows}
    assert found == {"handed": (at, None, None), "charged": (None, None, None), "agents": (None, None, None)}
    await asyncio.to_thread(command.downgrade, config, "0005")
    async with engine.connect() as connection:
        columns = await connection.scalars(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = 'threads'"
            ),
            {"s": schema},
        )
        assert not {"answered_at", "handed_off_at", "closed_at"} & set(columns)
