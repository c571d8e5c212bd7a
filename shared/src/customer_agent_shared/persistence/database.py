"""SQLAlchemy async engine and session factories, one schema per service."""

from __future__ import annotations

import re

from sqlalchemy import event, text
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from customer_agent_shared.settings import async_database_url

# Messages that quote the value given (asyncpg's client-side encoding errors, PostgreSQL's input syntax
# errors): the value may be a visitor's text, and errors end up in logs and dead-letter headers.
_QUOTED_VALUE = re.compile(
    r"(invalid input for query argument \$\d+|invalid input (?:syntax|value) for [^:\n]+): [^\n]*"
)


def create_database_engine(
    database_url: str, *, pool_size: int = 10, application_name: str = "", pre_ping: bool = False
) -> AsyncEngine:
    """Create an async engine with pooled connections whose errors never show the values sent.

    No pre-ping by default: with asyncpg it costs three round trips per checkout. A connection that
    died is invalidated on its first error and the consumer's retry gets a fresh one.
    """
    connect_args: dict[str, object] = {}
    if application_name:
        connect_args["server_settings"] = {"application_name": application_name}
    engine = create_async_engine(
        async_database_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        hide_parameters=True,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _hide_quoted_values)
    return engine


def _hide_quoted_values(context: ExceptionContext) -> None:
    """Remove the values PostgreSQL or the driver quote, along the whole exception chain."""
    if context.sqlalchemy_exception is not None:
        _scrub(context.sqlalchemy_exception)
    error: BaseException | None = context.original_exception
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        cause = error.__cause__ or error.__context__
        if _scrub(error) and cause is not None and not _QUOTED_VALUE.search(str(cause)):
            # The driver's own cause (a TypeError, a ValueError) may name the value too.
            error.__cause__, error.__suppress_context__, cause = None, True, None
        if isinstance(getattr(error, "detail", None), str):
            # asyncpg appends PostgreSQL's DETAIL ("Key (text)=(…) already exists") to its message.
            setattr(error, "detail", None)  # noqa: B010 - not every error class declares it
        error = cause


def _scrub(error: BaseException) -> bool:
    """Replace a quoted value in the error's message; False when there was none."""
    if len(error.args) != 1 or not isinstance(error.args[0], str):
        return False
    message, count = _QUOTED_VALUE.subn(r"\1 (value hidden)", error.args[0])
    if count:
        error.args = (message,)
    return count > 0


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
