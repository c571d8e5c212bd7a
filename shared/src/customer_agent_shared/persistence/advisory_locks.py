"""Advisory locks by name: one key per name, and the ways to take transaction-level ones.

Every one-bigint advisory lock of the repository has a name (``outbox:<schema>``,
``routing.assignments:<account>``) turned into its key by ``lock_key``: PostgreSQL's
``hashtextextended(name, 0)``, computed by the server, so every process of every version turns a name into
the same key. Two names sharing a key (about one chance in 2**64 for a pair) only make one wait for the other.
The inbox's claim locks are two-int locks, a key space of their own (``inbox``).

Transaction-level locks end with the transaction that took them:

- ``try_lock``: one, if it is free now;
- ``try_locks``: those of several that are free now, returning the others;
- ``wait_for_locks``: several, waiting for each in the order of their keys, so two transactions waiting
  for some of the same never each wait for the other;
- ``take_locks``: several, waiting for those taken elsewhere without holding the others meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Executor = AsyncSession | AsyncConnection
"""Where a lock is taken: a session or a connection, inside its transaction."""


def lock_key(name: str | ColumnElement[str]) -> ColumnElement[int]:
    """The key of the advisory lock named ``name`` (a string or a SQL expression of one)."""
    return func.hashtextextended(name, 0, type_=BigInteger)


_PG_LOCKS = table(
    "pg_locks",
    column("locktype", Text),
    column("pid", Integer),
    column("classid", BigInteger),
    column("objid", BigInteger),
    column("objsubid", Integer),
    column("granted", Boolean),
    schema="pg_catalog",
)


def lock_holders(name: str | ColumnElement[str]) -> Select[Any]:
    """The process ids of the sessions holding the lock named ``name`` now."""
    locks = _PG_LOCKS.c
    # A one-bigint advisory lock shows as classid (high half) and objid (low half), objsubid 1.
    key = cast(locks.classid, BigInteger).op("<<")(literal_column("32")).op("|")(cast(locks.objid, BigInteger))
    return select(locks.pid).where(
        locks.locktype == "advisory", locks.granted, locks.objsubid == 1, key == lock_key(name)
    )


_NAMES = func.unnest(bindparam("names", type_=ARRAY(Text))).table_valued("name").render_derived()
_KEYS = select(lock_key(_NAMES.c.name).label("key")).distinct().subquery("lock_keys")
# PostgreSQL computes a volatile function of the select list after the ORDER BY: the locks are taken in key order.
_WAIT_FOR_MANY = select(func.pg_advisory_xact_lock(_KEYS.c.key)).order_by(_KEYS.c.key)
_TRY_ONE = select(func.pg_try_advisory_xact_lock(lock_key(bindparam("name", type_=Text))))
_TRY_MANY = select(_NAMES.c.name, func.pg_try_advisory_xact_lock(lock_key(_NAMES.c.name)).label("taken"))


async def try_lock(executor: Executor, name: str) -> bool:
    """Take the lock named ``name`` if it is free now; False when another transaction holds it."""
    return bool(await executor.scalar(_TRY_ONE, {"name": name}))


async def try_locks(executor: Executor, names: Collection[str]) -> list[str]:
    """Take those of the locks named ``names`` that are free now; the names of the others, held elsewhere."""
    if not names:
        return []
    rows = await executor.execute(_TRY_MANY, {"names": sorted(set(names))})
    return [row.name for row in rows if not row.taken]


async def wait_for_locks(executor: Executor, names: Collection[str]) -> None:
    """Take the locks named ``names``, waiting for each in the order of their keys (holding the lower ones
    meanwhile): two transactions waiting for some of the same never each wait for the other."""
    if names:
        await executor.execute(_WAIT_FOR_MANY, {"names": sorted(set(names))})


async def take_locks(executor: Executor, names: Collection[str]) -> None:
    """Take the locks named ``names``, waiting for those taken elsewhere but holding none of the others while
    it waits, as far as it can: a lock taken elsewhere then keeps no other one from being taken meanwhile.

    It first tries them all at once; if some are taken, it lets go of the others, waits for those, then takes
    the others if they are still free. Only if one of them was taken in between does it let go of all and
    ``wait_for_locks`` (holding the lower keys while it waits for a higher one). Never waits while holding a
    lock of a higher key than the one it waits for, like ``wait_for_locks``.
    """
    wanted = sorted(set(names))
    if len(wanted) > 1:
        busy = await _take_all_or_none(executor, wanted, waiting_for=[])
        if not busy or not await _take_all_or_none(executor, wanted, waiting_for=busy):
            return
    await wait_for_locks(executor, wanted)


async def _take_all_or_none(executor: Executor, names: list[str], *, waiting_for: list[str]) -> list[str]:
    """Wait for ``waiting_for`` (in key order), then take the other ``names`` that are free now; keep them all and
    return none, or let them all go (a savepoint rolled back) and return those that were not free."""
    savepoint = await executor.begin_nested()
    await wait_for_locks(executor, waiting_for)
    busy = await try_locks(executor, [name for name in names if name not in waiting_for])
    if busy:
        await savepoint.rollback()
    else:
        await savepoint.commit()
    return busy
