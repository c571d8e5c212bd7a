"""What the tests of assignments on real PostgreSQL share: an account whose team has two places, the events
that ask for handoffs, the use cases and a batch consumer as routing's, and what they leave behind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

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
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.testing.kafka import unique_name
from prometheus_client import REGISTRY
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.orm import assignee_load_table, threads_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from sqlalchemy import func, select

CAPACITY = 2
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
TRIGGER = "let me talk to a person"


def message(account: str, thread: str, message_id: str, text: str) -> CloudEvent[MessageReceived]:
    """A visitor's message on the web channel, as a channel adapter publishes it."""
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


def handoff_request(account: str, thread: str) -> CloudEvent[ConversationEvent]:
    """Conversation asking to hand the thread to a person, as the visitor asked."""
    data = ConversationEvent(
        account_id=account,
        thread_id=thread,
        message_id=f"{thread}-m1",
        occurred_at=datetime.now(UTC),
        reason="visitor_request",
    )
    return make_event(CONVERSATION_HANDOFF_REQUESTED, data, source="conversation", account_id=account)


async def configure(units: Callable[[], RoutingUnitOfWork], account: str, *, paused: bool = False) -> None:
    """The agent on the web channel; handoffs go to the team "support" (ada), which has ``CAPACITY`` places."""
    rule = HandoffRule(assign_to=[HandoffTarget(kind=AssigneeKind.TEAM, id="support")])
    snapshot = AgentConfigSnapshot(
        account_id=account,
        version=1,
        updated_at=datetime.now(UTC),
        channels=[ChannelDeployment(type=WEB.type, id=WEB.id, handoff=rule)],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["support"])],
        teams=[HandoffTeam(id="support", member_ids=["ada"], max_capacity=CAPACITY)],
        handoff=HandoffSettings(triggers=["talk to a person"]),
        paused=paused,
    )
    async with units() as uow:
        assert await uow.accounts.save_config(snapshot)
        await uow.commit()


def use_cases(units: Callable[[], RoutingUnitOfWork]) -> tuple[RouteInboundMessage, HandleConversationEvent]:
    """Routing's use cases of channels.inbound.v1 and conversations.events.v1."""
    directory = AccountDirectory(ttl_seconds=60)
    inbound = RouteInboundMessage(units, directory, "routing:channels.inbound.v1")
    return inbound, HandleConversationEvent(units, directory, "routing:conversations.events.v1")


async def give_agent(inbound: RouteInboundMessage, account: str, threads: list[str]) -> None:
    """A first message on each thread, which the agent takes."""
    for thread in threads:
        await inbound.handle(message(account, thread, f"{thread}-m1", "hello"))


async def owners_and_loads(
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


def batch_consumer(units: Callable[[], RoutingUnitOfWork]) -> tuple[BatchConsumer, str]:
    """A batch consumer as routing's, under a service name of its own (for its batch counts)."""
    service = unique_name("routing-locks")
    config = ReliableConsumerConfig(service, _send_nothing)
    return BatchConsumer(config, lambda: shared_transaction(units), batch_size=10), service


def batch_count(service: str, outcome: str) -> float:
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
