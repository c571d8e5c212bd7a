"""The accounts' assignment locks on real PostgreSQL are taken only where assignments need them: a message
forwarded to a person takes none, a thread whose state changes after it was read still gets its account, and
a transaction waiting for one account holds none of its others meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from functools import partial
from typing import Any

import pytest
from customer_agent_shared.events.channels import MessageReceived
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import THREAD_CLOSED, ClosedBy, CloserKind, ThreadClosed
from customer_agent_shared.persistence.database import create_database_engine, create_session_factory
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from customer_agent_shared.testing.plumbing import eventually
from routing_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from routing_service.adapters.repositories import ThreadRepository
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.bootstrap import MIGRATIONS_DIR
from routing_service.domain.decisions import Decision, Outcome
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.inbox_events import HandleInboxEvent
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from .assignment_support import TRIGGER, batch_consumer, batch_count, configure, message, owners_and_loads, use_cases

pytestmark = pytest.mark.integration

# Far longer than routing a few messages takes when nothing makes it wait.
UNBLOCKED_SECONDS = 10
Units = Callable[[], RoutingUnitOfWork]
Sessions = async_sessionmaker[AsyncSession]
Change = Callable[[Collection[tuple[str, str]]], Awaitable[None]]


@pytest.fixture
async def sessions(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> AsyncIterator[tuple[Sessions, Sessions]]:
    """Two session factories over one freshly migrated scratch schema: a unit of work of the second opened
    inside a batch of the first has a transaction of its own (as another consumer's would)."""
    engine = create_database_engine(infrastructure.database_url, pool_size=6)
    schema = scratch_schema[1]
    made = await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=schema, service_schema=SCHEMA
    )
    yield made, create_session_factory(engine.execution_options(schema_translate_map={SCHEMA: schema}))
    await engine.dispose()


def _units(sessions: Sessions) -> Units:
    return lambda: RoutingUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)


async def _paused_with_a_thread_of_the_team(units: Units, account: str, thread: str) -> None:
    """The account paused; a visitor's first message hands the new thread to the team."""
    await configure(units, account, paused=True)
    inbound, _ = use_cases(units)
    first = await inbound.handle(message(account, thread, f"{thread}-m1", "hello"))
    assert first is not None
    assert first.outcome is Outcome.HANDED_OFF


async def test_messages_forwarded_to_a_person_take_no_assignment_lock_while_the_account_is_paused(
    sessions: tuple[Sessions, Sessions],
) -> None:
    units = _units(sessions[0])
    account = unique_name("acc")
    await _paused_with_a_thread_of_the_team(units, account, "t1")
    inbound, _ = use_cases(units)
    consumer, service = batch_consumer(units)
    decisions: list[Decision | None] = []

    async def route(event: CloudEvent[MessageReceived]) -> None:
        decisions.append(await inbound.handle(event))

    async with units() as holder:  # another transaction assigning in the account all along
        assert await holder.loads.hold_assignments([account])
        batch = [message(account, "t1", "t1-m2", "hello"), message(account, "t1", "t1-m3", TRIGGER)]
        run = consumer.run(batch, route, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare)
        await asyncio.wait_for(run, timeout=UNBLOCKED_SECONDS)
        await asyncio.wait_for(route(message(account, "t1", "t1-m4", "hello")), timeout=UNBLOCKED_SECONDS)

    assert [decision.outcome if decision else None for decision in decisions] == [Outcome.FORWARDED_TO_INBOX] * 3
    assert (batch_count(service, "split"), batch_count(service, "committed")) == (0, 1)


class ChangedOnceRead(ThreadRepository):
    """The real repository; right after it reads threads' states, ``change`` runs."""

    def __init__(self, session: AsyncSession, *, kept: dict[Any, Any], change: Change) -> None:
        super().__init__(session, kept=kept)
        self._change = change

    async def states(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], ThreadState]:
        """The states as read, before ``change``."""
        found = await super().states(keys)
        await self._change(keys)
        return found


class ChangedOnceReadUnitOfWork(RoutingUnitOfWork):
    """Routing's unit of work with ``ChangedOnceRead``."""

    def __init__(self, sessions: Sessions, change: Change) -> None:
        super().__init__(sessions, outbox=outbox_table, inbox=inbox_table)
        self._change = change

    def on_begin(self) -> None:
        """The repositories; the threads' changed once read."""
        super().on_begin()
        self.threads = ChangedOnceRead(self.session, kept=self.transaction_cache("threads"), change=self._change)


def _closing_once(inbox: HandleInboxEvent) -> Change:
    """Closes the threads from the inbox the first time it is called."""
    done: list[bool] = []

    async def close(keys: Collection[tuple[str, str]]) -> None:
        if done:
            return
        done.append(True)
        for account, thread in keys:
            closed = ThreadClosed(
                account_id=account, thread_id=thread, closed_by=ClosedBy(kind=CloserKind.USER, id="ada"), resolved=True
            )
            event = make_event(THREAD_CLOSED, closed, source="inbox", account_id=account)
            assert await inbox.handle(RawCloudEvent.model_validate(event.model_dump(mode="json")))

    return close


@pytest.mark.parametrize("held_elsewhere", [False, True])
async def test_a_thread_closed_after_its_state_was_read_is_handed_off_taking_its_account_then(
    sessions: tuple[Sessions, Sessions], held_elsewhere: bool
) -> None:
    units = _units(sessions[0])
    account = unique_name("acc")
    await _paused_with_a_thread_of_the_team(units, account, "t1")
    # The batch reads t1's state (a person holds it: nothing to take), then the inbox closes t1 before the batch
    # locks it: the message opens a new conversation, which the pause hands off.
    close = _closing_once(HandleInboxEvent(_units(sessions[1]), "routing:inbox.events.v1"))
    changing = partial(ChangedOnceReadUnitOfWork, sessions[0], close)
    inbound, _ = use_cases(changing)
    consumer, service = batch_consumer(changing)
    decisions: list[Decision | None] = []

    async def route(event: CloudEvent[MessageReceived]) -> None:
        decisions.append(await inbound.handle(event))

    batch = [message(account, "t1", "t1-m2", "hello"), message(account, "t1", "t1-m3", "hello")]
    async with contextlib.AsyncExitStack() as stack:
        if held_elsewhere:
            holder = await stack.enter_async_context(units())
            assert await holder.loads.hold_assignments([account])
        run = asyncio.create_task(
            consumer.run(batch, route, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare)
        )
        if held_elsewhere:
            # Taken elsewhere: the batch, its thread's row locked by then, does not wait for it but is redone event
            # by event; the first message, reading its thread closed, waits for the account before locking it.
            await eventually(partial(_split, service), "the batch split")
            await holder.commit()
        await asyncio.wait_for(run, timeout=UNBLOCKED_SECONDS)

    assert [decision.outcome if decision else None for decision in decisions] == [
        Outcome.HANDED_OFF,
        Outcome.FORWARDED_TO_INBOX,
    ]
    assert (batch_count(service, "split"), batch_count(service, "committed")) == (
        int(held_elsewhere),
        int(not held_elsewhere),
    )
    assert await owners_and_loads(units, account) == ({("human", "support"): 1}, {"support": 1})


async def _split(service: str) -> float:
    return batch_count(service, "split")


_WAITS_FOR = text(
    """
    select exists (
        select from pg_locks waiting join pg_locks holding using (locktype, database, classid, objid, objsubid)
        where waiting.locktype = 'advisory' and waiting.pid = :waiting and not waiting.granted
            and holding.pid = :holding and holding.granted
    )
    """
)


async def _backend(uow: RoutingUnitOfWork) -> int:
    pid: int = await uow.session.scalar(text("select pg_backend_pid()"))
    return pid


async def _waits_for(units: Units, waiting: int, holding: int) -> bool:
    """Whether the session ``waiting`` waits for an advisory lock the session ``holding`` holds."""
    async with units() as uow:
        return bool(await uow.session.scalar(_WAITS_FOR, {"waiting": waiting, "holding": holding}))


@pytest.mark.parametrize("taken", [0, 1])
async def test_a_transaction_waiting_for_an_account_taken_elsewhere_holds_none_of_its_others(
    sessions: tuple[Sessions, Sessions], taken: int
) -> None:
    units = _units(sessions[0])
    accounts = [unique_name("acc"), unique_name("acc")]
    busy, free = accounts[taken], accounts[1 - taken]  # one of the two ways round, busy comes second in key order
    async with units() as holder, units() as waiter, units() as third:
        assert await holder.loads.hold_assignments([busy])
        holder_pid, waiter_pid, third_pid = [await _backend(uow) for uow in (holder, waiter, third)]
        waiting = asyncio.create_task(waiter.loads.hold_assignments(accounts))  # its first call: it may wait
        await eventually(partial(_waits_for, units, waiter_pid, holder_pid), "the waiter waits for the holder")
        assert await third.loads.hold_assignments([])
        assert await third.loads.hold_assignments([free])  # a later call, which takes it only if free now
        await holder.commit()
        # The waiter took the account it waited for and found the other taken: it releases the first and waits
        # for both, in key order.
        await eventually(partial(_waits_for, units, waiter_pid, third_pid), "the waiter waits for the third")
        await third.commit()
        assert await asyncio.wait_for(waiting, timeout=UNBLOCKED_SECONDS)
        async with units() as late:  # the waiter holds both
            assert await late.loads.hold_assignments([])
            assert not await late.loads.hold_assignments([free])
            assert not await late.loads.hold_assignments([busy])
