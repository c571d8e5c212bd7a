"""SQLAlchemy async engine and session factories, one schema per service."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from customer_agent_shared.settings import async_database_url


def create_database_engine(
    database_url: str, *, pool_size: int = 10, application_name: str = "", pre_ping: bool = False
) -> AsyncEngine:
    """Create an async engine with pooled connections.

    No pre-ping by default: with asyncpg it costs three round trips per checkout. A connection that
    died is invalidated on its first error and the consumer's retry gets a fresh one.
    """
    connect_args: dict[str, object] = {}
    if application_name:
        connect_args["server_settings"] = {"application_name": application_name}
    return create_async_engine(
        async_database_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that never expire objects on commit (they outlive the transaction in handlers)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def ensure_schema(engine: AsyncEngine, schema: str) -> None:
    """Create the service's schema if it does not exist."""
    async with engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))


async def database_is_ready(engine: AsyncEngine) -> bool:
    """Readiness probe: can we run a query?"""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
