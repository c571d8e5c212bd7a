"""A team's max capacity on real PostgreSQL: handoffs decided at the same time never fill more places than it
has, whether a trigger word (channels.inbound.v1) or conversation (conversations.events.v1) asks for them."""

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
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.account_repositories import LoadRepository
from routing_service.adapters.orm import SCHEMA, assignee_load_table, inbox_table, outbox_table, threads_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.bootstrap import MIGRATIONS_DIR
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
        self.loads = SlowLoads(self.session)


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


async def test_handoffs_decided_at_once_fill_no_more_places_than_the_team_has(
    units: Callable[[], RoutingUnitOfWork],
) -> None:
    account = unique_name("acc")
    await _configure(units, account)
    directory = AccountDirectory(ttl_seconds=60)
    inbound = RouteInboundMessage(units, directory, "routing:channels.inbound.v1")
    conversation = HandleConversationEvent(units, directory, "routing:conversations.events.v1")
    threads = [f"t{number}" for number in range(THREADS)]
    for thread in threads:  # the agent holds every thread
        await inbound.handle(_message(account, thread, f"{thread}-m1", "hello"))

    asks: list[Any] = [
        inbound.handle(_message(account, thread, f"{thread}-m2", "let me talk to a person"))
        if number % 2 == 0
        else conversation.handle(_handoff_request(account, thread))
        for number, thread in enumerate(threads)
    ]
    decisions = await asyncio.gather(*asks)

    assert all(decision is not None and decision.outcome.value == "handed_off" for decision in decisions)
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
        assert {(row.state, row.assignee_id): row[2] for row in owners} == {
            ("human", "support"): CAPACITY,
            ("unassigned", None): THREADS - CAPACITY,
        }
        assert {row.assignee_id: row.open_threads for row in loads} == {"support": CAPACITY}
