"""When a transaction holds the accounts' assignments it may change places in: the rule every use case follows.

A transaction that may take or free a place of a user or team (a handoff, an inbox action) holds its account's
assignments (an advisory lock, ``LoadStore``) until it ends, so that no two transactions both fill the last place
and none changes a load row another is about to change while each waits for the other.

- Its first hold (``hold_first``) comes before it locks any row, and may wait: waiting, it holds no row another
  transaction may wait for, and it waits for no account while holding another's (``take_locks``), so no two
  transactions wait for each other in a cycle. It is made once, for every account the transaction foresees
  changing places in: a batch's ``prepare`` for all its events; otherwise the event's own handling, where in a
  batch it then does nothing.
- A later hold (``hold_unforeseen``: an account the first did not foresee, because a thread changed between
  the unlocked read that foresaw and the lock) comes after rows are locked, so it never waits: it takes the
  account only if it is free now; else the transaction is given up (``TransientHandlerError``) and redone, a
  batch event by event, each foreseeing afresh.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection

from customer_agent_shared.messaging.reliable import TransientHandlerError

from routing_service.handlers.types import RoutingUnitOfWorkProtocol

Foresee = Callable[[], Awaitable[Collection[str]]]
"""The accounts a transaction may change places in, read without locking any row."""


async def hold_first(uow: RoutingUnitOfWorkProtocol, foresee: Foresee) -> None:
    """Before the transaction locks any row: hold the accounts ``foresee`` names, waiting for those held
    elsewhere; nothing (``foresee`` is not called) when the transaction made its first hold already."""
    if not uow.loads.first_hold_made():
        await uow.loads.wait_for_assignments(await foresee())


async def hold_unforeseen(uow: RoutingUnitOfWorkProtocol, account_id: str) -> None:
    """Before changing places in an account, once rows are locked: hold it (if not held yet) only if it is free
    now; else raise ``TransientHandlerError``, so the transaction is redone and foresees it."""
    if await uow.loads.hold_free_assignments([account_id]):
        raise TransientHandlerError("another transaction is assigning in the account; redone to wait for it first")
