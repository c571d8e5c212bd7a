"""The body of every service's Alembic ``env.py``: async engine, schema-scoped version table."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import async_engine_from_config


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
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())
