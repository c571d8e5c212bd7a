"""Advisory locks by name on real PostgreSQL: taken by one transaction, refused to others until it ends; several
waited for in key order; and while waiting for one taken elsewhere, none of the others held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from functools import partial

import pytest
from customer_agent_shared.persistence.advisory_locks import (
    lock_holders,
    lock_key,
    take_locks,
    try_lock,
    try_locks,
    wait_for_locks,
)
from customer_agent_shared.persistence.database import create_database_engine, create_session_factory
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]

_WAITING_FOR = text(
    """
    select exists (
        select from pg_locks where locktype = 'advisory' and pid = :pid and not granted
            and ((classid::bigint << 32) | objid::bigint) = :key
    )
    """
)


@pytest.fixture
async def sessions(infrastructure: InfrastructureSettings) -> AsyncIterator[Sessions]:
    """Sessions on the local PostgreSQL, each with a connection of its own."""
    engine = create_database_engine(infrastructure.database_url, pool_size=4)
    yield create_session_factory(engine)
    await engine.dispose()


async def _pid(session: AsyncSession) -> int:
    pid: int = await session.scalar(text("select pg_backend_pid()"))
    return pid


async def _holders(sessions: Sessions, name: str) -> set[int]:
    async with sessions() as session:
        return set((await session.scalars(lock_holders(name))).all())


async def _waits_for(sessions: Sessions, pid: int, name: str) -> bool:
    """Whether the session ``pid`` waits for the lock named ``name``."""
    async with sessions() as session:
        key = await session.scalar(select(lock_key(name)))
        return bool(await session.scalar(_WAITING_FOR, {"pid": pid, "key": key}))


async def _by_key(sessions: Sessions, *names: str) -> list[str]:
    keys: dict[str, int] = {}
    async with sessions() as session:
        for name in names:
            keys[name] = (await session.execute(select(lock_key(name)))).scalar_one()
    return sorted(names, key=keys.__getitem__)


async def test_a_lock_is_refused_to_others_until_its_transaction_ends(sessions: Sessions) -> None:
    name, other = unique_name("lock"), unique_name("lock")
    async with sessions() as holder, sessions() as second:
        assert await try_lock(holder, name)
        assert await try_lock(holder, name)  # its own lock: taken again
        assert await _holders(sessions, name) == {await _pid(holder)}
        assert not await try_lock(second, name)
        # Those free are taken, the others named.
        assert await try_locks(second, [name, other]) == [name]
        assert await _holders(sessions, other) == {await _pid(second)}
        await holder.commit()
        assert await _holders(sessions, name) == set()
        assert await try_locks(second, [name, other]) == []
        await second.rollback()
    assert await _holders(sessions, other) == set()


@pytest.mark.parametrize("given_in_key_order", [True, False])
async def test_several_are_waited_for_in_key_order_holding_the_lower_ones(
    sessions: Sessions, given_in_key_order: bool
) -> None:
    low, high = await _by_key(sessions, unique_name("lock"), unique_name("lock"))
    async with sessions() as holder, sessions() as waiter:
        assert await try_lock(holder, high)
        waiter_pid = await _pid(waiter)
        waiting = asyncio.create_task(wait_for_locks(waiter, [low, high] if given_in_key_order else [high, low]))
        await eventually(partial(_waits_for, sessions, waiter_pid, high), "the waiter waits for the higher key")
        assert await _holders(sessions, low) == {waiter_pid}  # taken first, held while it waits
        await holder.commit()
        await asyncio.wait_for(waiting, timeout=10)
        assert await _holders(sessions, high) == {waiter_pid}
        await waiter.rollback()


@pytest.mark.parametrize("taken", [0, 1])
async def test_taking_several_holds_none_of_the_others_while_it_waits(sessions: Sessions, taken: int) -> None:
    names = await _by_key(sessions, unique_name("lock"), unique_name("lock"))
    busy, free = names[taken], names[1 - taken]  # both ways round: busy has the lower or the higher key
    async with sessions() as holder, sessions() as waiter, sessions() as third:
        assert await try_lock(holder, busy)
        waiter_pid = await _pid(waiter)
        waiting = asyncio.create_task(take_locks(waiter, [free, busy]))
        await eventually(partial(_waits_for, sessions, waiter_pid, busy), "the waiter waits for the busy one")
        assert await try_lock(third, free)  # the waiter does not hold it meanwhile
        await holder.commit()
        # The waiter took the one it waited for and found the other taken now: it lets go and waits for both
        # in key order.
        await eventually(partial(_waits_for, sessions, waiter_pid, free), "the waiter waits for the other")
        await third.commit()
        await asyncio.wait_for(waiting, timeout=10)
        assert await _holders(sessions, busy) == await _holders(sessions, free) == {waiter_pid}
        await waiter.rollback()


async def test_taking_several_all_free_takes_them_at_once(sessions: Sessions) -> None:
    names = [unique_name("lock") for _ in range(3)]
    async with sessions() as taker:
        await asyncio.wait_for(take_locks(taker, names), timeout=10)
        pid = await _pid(taker)
        assert [await _holders(sessions, name) for name in names] == [{pid}] * 3
        await taker.rollback()
