"""A team's max capacity on real PostgreSQL: handoffs decided at the same time never fill more places than it
has, whether a trigger word (channels.inbound.v1) or conversation (conversations.events.v1) asks for them, and
the accounts' assignment locks that ensure it never deadlock batches or single events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from routing_service.adapters.account_repositories import LoadRepository
from routing_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.bootstrap import MIGRATIONS_DIR
from routing_service.domain.decisions import Decision
from routing_service.domain.handoff import LoadKey
from sqlalchemy.ext.asyncio import AsyncEngine

from .assignment_support import (
    CAPACITY,
    TRIGGER,
    batch_consumer,
    batch_count,
    configure,
    give_agent,
    handoff_request,
    message,
    owners_and_loads,
    use_cases,
)

pytestmark = pytest.mark.integration

THREADS = 6
# Longer than the others take to reach their own read: without a lock, every decision reads the loads before
# any of them commits.
READ_TO_COMMIT_SECONDS = 0.5
# Longer than a single event takes to lock what it locks before it waits.
SINGLE_EVENT_LOCKS_SECONDS = 0.3


class SlowLoads(LoadRepository):
    """The real repository, with a pause between reading the loads and what the decision does next."""

    async def loads(self, account_id: str) -> dict[LoadKey, int]:
        """The loads, returned after the pause."""
        found = await super().loads(account_id)
        await asyncio.sleep(READ_TO_COMMIT_SECONDS)  # lets concurrent decisions read the same loads
        return found


class SlowLoadsUnitOfWork(RoutingUnitOfWork):
    """Routing's unit of work with ``SlowLoads``."""

    def on_begin(self) -> None:
        """The repositories, the loads' slowed down."""
        super().on_begin()
        self.loads = SlowLoads(self.session, kept=self.transaction_cache("assignments"))


@pytest.fixture
async def units(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> AsyncIterator[Callable[[], RoutingUnitOfWork]]:
    """Units of work over a freshly migrated scratch schema, one connection for each thread's decision."""
    engine = create_database_engine(infrastructure.database_url, pool_size=THREADS)
    sessions = await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=scratch_schema[1], service_schema=SCHEMA
    )
    yield lambda: SlowLoadsUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)
    await engine.dispose()


async def test_handoffs_decided_at_once_fill_no_more_places_than_the_team_has(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    account = unique_name("acc")
    await configure(units, account)
    inbound, conversation = use_cases(units)
    threads = [f"t{number}" for number in range(THREADS)]
    await give_agent(inbound, account, threads)

    asks: list[Any] = [
        inbound.handle(message(account, thread, f"{thread}-m2", TRIGGER))
        if number % 2 == 0
        else conversation.handle(handoff_request(account, thread))
        for number, thread in enumerate(threads)
    ]
    decisions = await asyncio.gather(*asks)

    assert all(decision is not None and decision.outcome.value == "handed_off" for decision in decisions)
    assert await owners_and_loads(units, account) == (
        {("human", "support"): CAPACITY, ("unassigned", None): THREADS - CAPACITY},
        {"support": CAPACITY},
    )


async def test_batches_assigning_in_two_accounts_in_opposite_orders_wait_for_each_other_without_deadlock(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    accounts = [unique_name("acc"), unique_name("acc")]
    inbound, conversation = use_cases(units)
    for account in accounts:
        await configure(units, account)
        await give_agent(inbound, account, ["t1", "t2"])
    batches, service = batch_consumer(units)
    first, second = accounts

    # Each batch pauses after its first handoff (SlowLoads): holding its first account's assignments, it would
    # then wait for its second, which the other batch holds first.
    await asyncio.gather(
        batches.run(
            [message(first, "t1", "t1-m2", TRIGGER), message(second, "t1", "t1-m2", TRIGGER)],
            inbound.handle,
            inbox_consumer=inbound.inbox_consumer,
            prepare=inbound.prepare,
        ),
        batches.run(
            [handoff_request(second, "t2"), handoff_request(first, "t2")],
            conversation.handle,
            inbox_consumer=conversation.inbox_consumer,
            prepare=conversation.prepare,
        ),
    )

    assert (batch_count(service, "split"), batch_count(service, "committed")) == (0, 2)
    for account in accounts:
        assert await owners_and_loads(units, account) == ({("human", "support"): 2}, {"support": 2})


async def test_a_single_event_waits_for_a_batch_assigning_in_its_account_before_locking_its_thread(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    account = unique_name("acc")
    inbound, conversation = use_cases(units)
    await configure(units, account)
    await give_agent(inbound, account, ["t1", "t2"])
    batches, service = batch_consumer(units)
    first_handled = asyncio.Event()

    async def handle_and_pause(event: CloudEvent[ConversationEvent]) -> Decision | None:
        decision = await conversation.handle(event)
        if not first_handled.is_set():  # the batch holds the account's assignments now
            first_handled.set()
            await asyncio.sleep(SINGLE_EVENT_LOCKS_SECONDS)
        return decision

    async def visitor_asks_on_t1() -> Decision | None:
        await first_handled.wait()
        return await inbound.handle(message(account, "t1", "t1-m2", TRIGGER))

    requests = [handoff_request(account, "t2"), handoff_request(account, "t1")]
    _, decision = await asyncio.gather(
        batches.run(
            requests, handle_and_pause, inbox_consumer=conversation.inbox_consumer, prepare=conversation.prepare
        ),
        visitor_asks_on_t1(),
    )

    assert (batch_count(service, "split"), batch_count(service, "committed")) == (0, 1)
    # The message waited for the batch, which had handed t1 to the team: it goes to the inbox.
    assert decision is not None
    assert decision.outcome.value == "forwarded_to_inbox"
    assert await owners_and_loads(units, account) == ({("human", "support"): 2}, {"support": 2})


async def test_an_account_not_held_from_the_start_is_taken_only_if_free(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    first, second = unique_name("acc"), unique_name("acc")
    async with units() as holder, units() as late:
        await holder.loads.wait_for_assignments([first])
        await late.loads.wait_for_assignments([second])  # its first hold, which may wait
        # A later hold may come after the transaction locked rows: it never waits.
        assert await asyncio.wait_for(late.loads.hold_free_assignments([first]), timeout=5) == {first}
        with pytest.raises(RuntimeError):
            await late.loads.wait_for_assignments([first])
        await holder.commit()
        assert await late.loads.hold_free_assignments([first, second]) == set()
