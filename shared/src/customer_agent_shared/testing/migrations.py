"""Reusable checks that a service's migrations apply and roll back on real PostgreSQL, and migrated scratch
schemas for tests of its repositories."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.migrations import alembic_config, downgrade_to, upgrade_to_head
from customer_agent_shared.persistence.partitions import DAYS_AHEAD


async def _tables(engine: AsyncEngine, schema: str) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names(schema=schema))
    return set(names)


async def migrated_sessions(
    engine: AsyncEngine, database_url: str, migrations_dir: Path, *, schema: str, service_schema: str
) -> async_sessionmaker[AsyncSession]:
    """Sessions over ``schema``, migrated to head, in which the service's tables (declared in
    ``service_schema``) are those of ``schema``."""
    await asyncio.to_thread(upgrade_to_head, migrations_dir, database_url, schema)
    return create_session_factory(engine.execution_options(schema_translate_map={service_schema: schema}))


async def assert_migrations_apply_and_roll_back(
    engine: AsyncEngine, database_url: str, migrations_dir: Path, schema: str, expected_tables: set[str]
) -> None:
    """Upgrade a fresh schema to head, check the tables, downgrade to base, check they are gone."""
    try:
        await asyncio.to_thread(upgrade_to_head, migrations_dir, database_url, schema)
        tables = await _tables(engine, schema)
        missing = expected_tables - tables
        assert not missing, f"tables missing after upgrade: {sorted(missing)}"
        await asyncio.to_thread(upgrade_to_head, migrations_dir, database_url, schema)  # idempotent
        await asyncio.to_thread(downgrade_to, migrations_dir, database_url, schema, "base")
        assert await _tables(engine, schema) == {"alembic_version"}
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


async def assert_plumbing_becomes_bounded_keeping_rows(
    engine: AsyncEngine, database_url: str, migrations_dir: Path, schema: str, *, before: str
) -> None:
    """From revision ``before`` to head and back: every claim and outbox row survives both ways, the inbox
    is split by day, dead rows go back to the outbox on the way down."""
    config = alembic_config(migrations_dir, database_url, schema)
    name = f'"{schema}"'
    now = datetime.now(UTC)
    claims = {("c", "today"): now, ("c", "old"): now - timedelta(days=3), ("other", "old"): now - timedelta(days=40)}
    try:
        await asyncio.to_thread(command.upgrade, config, before)
        async with engine.begin() as connection:
            for (consumer, event_id), at in claims.items():
                await connection.execute(
                    text(f"INSERT INTO {name}.processed_events VALUES (:consumer, :event_id, :at)"),
                    {"consumer": consumer, "event_id": event_id, "at": at},
                )
            await connection.execute(
                text(f"INSERT INTO {name}.outbox (event_id, topic, payload) VALUES ('pending', 't', 'x')")
            )
        await asyncio.to_thread(command.upgrade, config, "head")
        async with engine.begin() as connection:
            assert await _claims(connection, name) == claims
            partitions = await connection.scalar(
                text("SELECT count(*) FROM pg_inherits WHERE inhparent = CAST(:table AS regclass)"),
                {"table": f"{name}.processed_events"},
            )
            assert partitions >= 3 + DAYS_AHEAD, "the default partition, the rows' days and the coming days"
            await connection.execute(
                text(
                    f"INSERT INTO {name}.outbox_dead (id, event_id, topic, payload, created_at, reason) "
                    "VALUES (1000, 'dead', 't', 'x', now(), 'MessageSizeTooLargeError')"
                )
            )
        await asyncio.to_thread(command.downgrade, config, before)
        async with engine.connect() as connection:
            assert await _claims(connection, name) == claims
            events = await connection.execute(text(f"SELECT event_id FROM {name}.outbox ORDER BY id"))
            assert list(events.scalars()) == ["pending", "dead"]
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))


async def _claims(connection: AsyncConnection, name: str) -> dict[tuple[str, str], datetime]:
    rows = await connection.execute(text(f"SELECT consumer, event_id, processed_at FROM {name}.processed_events"))
    return {(row.consumer, row.event_id): row.processed_at for row in rows}
