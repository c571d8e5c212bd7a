"""A team's max capacity on real PostgreSQL: handoffs decided at the same time never fill more places than it
has, whether a trigger word (channels.inbound.v1) or conversation (conversations.events.v1) asks for them, and
the accounts' assignment locks that ensure it never deadlock batches or single events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.events.channels import AssigneeKind, ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    ChannelDeployment,
    HandoffRule,
    HandoffSettings,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
)
from customer_agent_shared.events.conversations import CONVERSATION_HANDOFF_REQUESTED, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from prometheus_client import REGISTRY
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.account_repositories import LoadRepository
from routing_service.adapters.orm import SCHEMA, assignee_load_table, inbox_table, outbox_table, threads_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.bootstrap import MIGRATIONS_DIR
from routing_service.domain.decisions import Decision
from routing_service.domain.handoff import LoadKey
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

THREADS = 6
CAPACITY = 2
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
# Longer than the others take to reach their own read: without a lock, every decision reads the loads before
# any of them commits.
READ_TO_COMMIT_SECONDS = 0.5
TRIGGER = "let me talk to a person"
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


def _message(account: str, thread: str, message_id: str, text: str) -> CloudEvent[MessageReceived]:
    data = MessageReceived(
        account_id=account,
        channel=WEB,
        thread_id=thread,
        message_id=message_id,
        sender=Sender(id=f"visitor-{thread}"),
        text=text,
        sent_at=datetime.now(UTC),
    )
    return make_event("message.received", data, source="provider", account_id=account)


def _handoff_request(account: str, thread: str) -> CloudEvent[ConversationEvent]:
    data = ConversationEvent(
        account_id=account,
        thread_id=thread,
        message_id=f"{thread}-m1",
        occurred_at=datetime.now(UTC),
        reason="visitor_request",
    )
    return make_event(CONVERSATION_HANDOFF_REQUESTED, data, source="conversation", account_id=account)


async def _configure(units: Callable[[], RoutingUnitOfWork], account: str) -> None:
    rule = HandoffRule(assign_to=[HandoffTarget(kind=AssigneeKind.TEAM, id="support")])
    snapshot = AgentConfigSnapshot(
        account_id=account,
        version=1,
        updated_at=datetime.now(UTC),
        channels=[ChannelDeployment(type=WEB.type, id=WEB.id, handoff=rule)],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["support"])],
        teams=[HandoffTeam(id="support", member_ids=["ada"], max_capacity=CAPACITY)],
        handoff=HandoffSettings(triggers=["talk to a person"]),
    )
    async with units() as uow:
        assert await uow.accounts.save_config(snapshot)
        await uow.commit()


def _use_cases(units: Callable[[], RoutingUnitOfWork]) -> tuple[RouteInboundMessage, HandleConversationEvent]:
    directory = AccountDirectory(ttl_seconds=60)
    inbound = RouteInboundMessage(units, directory, "routing:channels.inbound.v1")
    return inbound, HandleConversationEvent(units, directory, "routing:conversations.events.v1")


async def _give_agent(inbound: RouteInboundMessage, account: str, threads: list[str]) -> None:
    for thread in threads:
        await inbound.handle(_message(account, thread, f"{thread}-m1", "hello"))


async def _owners_and_loads(
    units: Callable[[], RoutingUnitOfWork], account: str
) -> tuple[dict[tuple[str, str | None], int], dict[str, int]]:
    """How many of the account's threads are in each (state, assignee), and the open threads of each assignee."""
    async with units() as uow:
        owners = await uow.session.execute(
            select(threads_table.c.state, threads_table.c.assignee_id, func.count())
            .where(threads_table.c.account_id == account)
            .group_by(threads_table.c.state, threads_table.c.assignee_id)
        )
        loads = await uow.session.execute(
            select(assignee_load_table.c.assignee_id, assignee_load_table.c.open_threads).where(
                assignee_load_table.c.account_id == account
            )
        )
        return (
            {(row.state, row.assignee_id): row[2] for row in owners},
            {row.assignee_id: row.open_threads for row in loads},
        )


async def _send_nothing(messages: list[Any]) -> None:
    raise AssertionError(f"nothing is dead-lettered here: {messages}")


def _batch_consumer(units: Callable[[], RoutingUnitOfWork]) -> tuple[BatchConsumer, str]:
    """A batch consumer as routing's, under a service name of its own (for its batch counts)."""
    service = unique_name("routing-locks")
    config = ReliableConsumerConfig(service, _send_nothing)
    return BatchConsumer(config, lambda: shared_transaction(units), batch_size=10), service


def _batches(service: str, outcome: str) -> float:
    """Batches of ``service`` committed whole or split (after an error, such as a deadlock, its events redone
    one at a time)."""
    labels = {"service": service, "outcome": outcome}
    return sum(
        sample.value
        for metric in REGISTRY.collect()
        if metric.name == "customer_agent_consumer_batches"
        for sample in metric.samples
        if sample.name.endswith("_total") and labels.items() <= sample.labels.items()
    )


async def test_handoffs_decided_at_once_fill_no_more_places_than_the_team_has(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    account = unique_name("acc")
    await _configure(units, account)
    inbound, conversation = _use_cases(units)
    threads = [f"t{number}" for number in range(THREADS)]
    await _give_agent(inbound, account, threads)

    asks: list[Any] = [
        inbound.handle(_message(account, thread, f"{thread}-m2", TRIGGER))
        if number % 2 == 0
        else conversation.handle(_handoff_request(account, thread))
        for number, thread in enumerate(threads)
    ]
    decisions = await asyncio.gather(*asks)

    assert all(decision is not None and decision.outcome.value == "handed_off" for decision in decisions)
    assert await _owners_and_loads(units, account) == (
        {("human", "support"): CAPACITY, ("unassigned", None): THREADS - CAPACITY},
        {"support": CAPACITY},
    )


async def test_batches_assigning_in_two_accounts_in_opposite_orders_wait_for_each_other_without_deadlock(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    accounts = [unique_name("acc"), unique_name("acc")]
    inbound, conversation = _use_cases(units)
    for account in accounts:
        await _configure(units, account)
        await _give_agent(inbound, account, ["t1", "t2"])
    batches, service = _batch_consumer(units)
    first, second = accounts

    # Each batch pauses after its first handoff (SlowLoads): holding its first account's assignments, it would
    # then wait for its second, which the other batch holds first.
    await asyncio.gather(
        batches.run(
            [_message(first, "t1", "t1-m2", TRIGGER), _message(second, "t1", "t1-m2", TRIGGER)],
            inbound.handle,
            inbox_consumer=inbound.inbox_consumer,
            prepare=inbound.prepare,
        ),
        batches.run(
            [_handoff_request(second, "t2"), _handoff_request(first, "t2")],
            conversation.handle,
            inbox_consumer=conversation.inbox_consumer,
            prepare=conversation.prepare,
        ),
    )

    assert (_batches(service, "split"), _batches(service, "committed")) == (0, 2)
    for account in accounts:
        assert await _owners_and_loads(units, account) == ({("human", "support"): 2}, {"support": 2})


async def test_a_single_event_waits_for_a_batch_assigning_in_its_account_before_locking_its_thread(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    account = unique_name("acc")
    inbound, conversation = _use_cases(units)
    await _configure(units, account)
    await _give_agent(inbound, account, ["t1", "t2"])
    batches, service = _batch_consumer(units)
    first_handled = asyncio.Event()

    async def handle_and_pause(event: CloudEvent[ConversationEvent]) -> Decision | None:
        decision = await conversation.handle(event)
        if not first_handled.is_set():  # the batch holds the account's assignments now
            first_handled.set()
            await asyncio.sleep(SINGLE_EVENT_LOCKS_SECONDS)
        return decision

    async def visitor_asks_on_t1() -> Decision | None:
        await first_handled.wait()
        return await inbound.handle(_message(account, "t1", "t1-m2", TRIGGER))

    requests = [_handoff_request(account, "t2"), _handoff_request(account, "t1")]
    _, decision = await asyncio.gather(
        batches.run(
            requests, handle_and_pause, inbox_consumer=conversation.inbox_consumer, prepare=conversation.prepare
        ),
        visitor_asks_on_t1(),
    )

    assert (_batches(service, "split"), _batches(service, "committed")) == (0, 1)
    # The message waited for the batch, which had handed t1 to the team: it goes to the inbox.
    assert decision is not None
    assert decision.outcome.value == "forwarded_to_inbox"
    assert await _owners_and_loads(units, account) == ({("human", "support"): 2}, {"support": 2})


async def test_an_account_not_held_from_the_start_is_taken_only_if_free(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    first, second = unique_name("acc"), unique_name("acc")
    async with units() as holder, units() as late:
        assert await holder.loads.hold_assignments([first])
        assert await late.loads.hold_assignments([second])  # its first call, which may wait
        # A later call may come after the transaction locked rows: it never waits.
        assert not await asyncio.wait_for(late.loads.hold_assignments([first]), timeout=5)
        await holder.commit()
        assert await late.loads.hold_assignments([first, second])
