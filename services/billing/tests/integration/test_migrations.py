"""Billing's migrations apply and roll back on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from billing_service.bootstrap import MIGRATIONS_DIR
from customer_agent_shared.events.billing import USAGE_DAYS
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


async def test_the_credits_used_per_day_are_filled_in_from_the_ledger(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    yesterday, too_old = today - timedelta(days=1), today - timedelta(days=USAGE_DAYS)
    entries = [  # (kind, cause, amount, recorded at)
        ("allotment", "period:p", 100, too_old),
        ("usage", "thread:old", -1, too_old),
        ("usage", "thread:a", -3, yesterday),
        ("usage", "thread:b", -3, today),
        ("refund", "thread:a", 3, today),
        ("purchase", "cmd_1", 50, today),
    ]
    await asyncio.to_thread(command.upgrade, config, "0005")
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f'INSERT INTO "{schema}".accounts (account_id, plan, balance, used_this_period, purchased_this_period,'
                " auto_upgrades_this_period, period_start, reset_at, exhausted, version)"
                " VALUES ('acc', '{}', 146, 3, 50, 0, :at, :at, false, 6),"
                " ('idle', '{}', 0, 0, 0, 0, :at, :at, false, 1)"
            ),
            {"at": too_old},
        )
        for kind, cause, amount, at in entries:
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}".ledger_entries (account_id, kind, cause_id, amount, balance_after,'
                    " recorded_at) VALUES ('acc', :kind, :cause, :amount, 0, :at)"
                ),
                {"kind": kind, "cause": cause, "amount": amount, "at": at},
            )
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as connection:
        rows = await connection.execute(text(f'SELECT account_id, usage_by_day FROM "{schema}".accounts'))
        found = {row.account_id: row.usage_by_day for row in rows}
    assert found == {"acc": {yesterday.date().isoformat(): 3, today.date().isoformat(): 0}, "idle": {}}


async def test_an_uncharged_handoff_gets_its_threads_last_activity_as_its_time(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    at = datetime(2026, 12, 1, 12, tzinfo=UTC)
    threads = {"handed": (True, False), "charged": (True, True), "agents": (False, False)}  # (handed off, charged)
    await asyncio.to_thread(command.upgrade, config, "0006")
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
    await asyncio.to_thread(command.downgrade, config, "0006")
    async with engine.connect() as connection:
        columns = await connection.scalars(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = 'threads'"
            ),
            {"s": schema},
        )
        assert not {"answered_at", "handed_off_at", "closed_at"} & set(columns)
