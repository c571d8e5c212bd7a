"""Test helpers for the outbox and the inbox on real PostgreSQL, and ``eventually`` for any background step."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy import MetaData, Table
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_agent_shared.persistence.database import ensure_schema
from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table

T = TypeVar("T")


async def plumbing_store(scratch_schema: tuple[AsyncEngine, str]) -> tuple[AsyncEngine, Table, Table]:
    """The outbox (with ``outbox_dead``) and the inbox (with only its default partition) in a fresh schema."""
    engine, schema = scratch_schema
    metadata = MetaData(schema=schema)
    outbox, inbox = define_outbox_table(metadata), define_inbox_table(metadata)
    await ensure_schema(engine, schema)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine, outbox, inbox


async def eventually(
    check: Callable[[], Awaitable[T | None]], what: str, within: float = 30.0, *, every: float = 0.05
) -> T:
    """Call ``check`` every ``every`` seconds until it returns something true, and return that; fail naming
    ``what`` and the last value after ``within`` seconds. The one way tests wait for a background step."""
    deadline = asyncio.get_running_loop().time() + within
    while not (last := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"not within {within} s: {what} (last: {last!r})"
        await asyncio.sleep(every)
    return last
