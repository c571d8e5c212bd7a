"""A reusable check that a service's migrations apply and roll back on real PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_agent_shared.persistence.migrations import downgrade_to, upgrade_to_head


async def _tables(engine: AsyncEngine, schema: str) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names(schema=schema))
    return set(names)


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
