"""Reusable checks that a service's migrations apply and roll back on real PostgreSQL, and migrated scratch
schemas for tests of its repositories."""

from __future__ import annotations

import asyncio
import os
import sys
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


_UPGRADE = (
    "import os, pathlib; from customer_agent_shared.persistence.migrations import upgrade_to_head; "
    "upgrade_to_head(pathlib.Path(os.environ['MIGRATIONS_DIR']), os.environ['DATABASE_URL'], os.environ['SCHEMA'])"
)


async def _upgrade_in_a_process(migrations_dir: Path, database_url: str, schema: str) -> None:
    """Upgrade to head in a process of its own, as a starting replica does (Alembic's context is per process)."""
    environment = {**os.environ, "MIGRATIONS_DIR": str(migrations_dir), "DATABASE_URL": database_url, "SCHEMA": schema}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _UPGRADE, env=environment, stderr=asyncio.subprocess.PIPE
    )
    _, errors = await process.communicate()
    assert process.returncode == 0, f"a concurrent migrator failed: {errors.decode(errors='replace')[-3000:]}"


async def assert_migrations_apply_and_roll_back(
    engine: AsyncEngine, database_url: str, migrations_dir: Path, schema: str, expected_tables: set[str]
) -> None:
    """Upgrade a fresh schema to head (two migrators at once, as two starting replicas would), check the
    tables, downgrade to base, check they are gone."""
    try:
        await asyncio.gather(*(_upgrade_in_a_process(migrations_dir, database_url, schema) for _ in range(2)))
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
