"""The body of every service's Alembic ``env.py``: async engine, schema-scoped version table."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from alembic import context
from sqlalchemy import MetaData, func, pool, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

from customer_agent_shared.persistence.advisory_locks import lock_key

logger = logging.getLogger(__name__)
_LOCK_POLL_SECONDS = 0.5


@contextlib.asynccontextmanager
async def one_migrator_per_schema(engine: AsyncEngine, schema: str) -> AsyncIterator[None]:
    """Hold a session advisory lock for ``schema`` while migrating, so two starting replicas (or a Job and a
    replica) never run the same migration at once.

    The lock is polled from an autocommit connection rather than waited for: a migrator blocked inside a
    statement would hold a snapshot, which a concurrent index build of the one migrating waits for.
    """
    key = f"customer-agent-migrations:{schema}"
    async with engine.connect() as lock_connection:
        autocommit = await lock_connection.execution_options(isolation_level="AUTOCOMMIT")
        waited = 0.0
        while not await autocommit.scalar(select(func.pg_try_advisory_lock(lock_key(key)))):
            if waited % 10.0 < _LOCK_POLL_SECONDS:
                logger.info("waiting for another migrator of schema %s", schema)
            await asyncio.sleep(_LOCK_POLL_SECONDS)
            waited += _LOCK_POLL_SECONDS
        try:
            yield
        finally:
            await autocommit.execute(select(func.pg_advisory_unlock(lock_key(key))))


def run_service_migrations(target_metadata: MetaData, default_schema: str) -> None:
    """Run migrations online for the schema given in the Alembic config attributes."""
    config = context.config
    schema = config.attributes.get("schema", default_schema)

    def do_run(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        # One transaction per migration, begun by Alembic itself: a migration may then step out of it
        # (autocommit_block, for CREATE INDEX CONCURRENTLY) without committing the others half-way.
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=True,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config(
            config.get_section(config.config_ini_section, {}),
            prefix="sqlalchemy.",
            poolclass=pool.NullPool,
        )
        async with one_migrator_per_schema(engine, schema), engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
