"""Routing's use cases over one fake database, and the events tests feed them, as the services publish them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.billing import CREDITS_EXHAUSTED, CREDITS_RESTORED, CreditState
from customer_agent_shared.events.channels import AssigneeKind, ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    AvailabilityMessages,
    ChannelDeployment,
    HandoffRule,
    HandoffSettings,
    HandoffTarget,
)
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import InboxEventData
from routing_service.adapters.account_cache import AccountDirectory, AccountLoader, AccountView
from routing_service.domain.decisions import Outcome
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.account_state import FoldAccountState
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from routing_service.handlers.inbox_events import HandleInboxEvent

from .fakes import FakeBatch, FakeDatabase, FakeStore

ACCOUNT = "acc-1"
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
ADA = (AssigneeKind.USER, "ada")
BO = (AssigneeKind.USER, "bo")
NOTICES = HandoffSettings(
    messages={
        "en": AvailabilityMessages(
            available="available",
            away="away",
            at_capacity="at capacity",
            outside_hours="outside hours",
            handoff_unavailable="handoff unavailable",
        )
    }
)
SALES = (AssigneeKind.TEAM, "sales")


class CountingDirectory(AccountDirectory):
    """The account directory, counting the views use cases look up; each is read from what the fake committed."""

    def __init__(self) -> None:
        super().__init__(ttl_seconds=0)
        self.reads = 0

    async def get(self, accounts: AccountLoader, account_id: str) -> AccountView:
        """The account's view, read afresh."""
        self.reads += 1
        return await super().get(accounts, account_id)


@dataclass
class Routing:
    """Routing's use cases over one fake database."""

    store: FakeStore
    directory: CountingDirectory
    inbound: RouteInboundMessage
    conversation: HandleConversationEvent
    account_state: FoldAccountState
    inbox_events: HandleInboxEvent

    @property
    def database(self) -> FakeDatabase:
        """What the use cases committed."""
        return self.store.database

    async def configure(self, rule: HandoffRule | None = None, *, version: int = 1, **fields: Any) -> None:
        """Fold a config snapshot with the web channel deployed under ``rule``."""
        deployment = ChannelDeployment(type=WEB.type, id=WEB.id, handoff=rule or HandoffRule())
        snapshot = AgentConfigSnapshot(
            account_id=ACCOUNT, version=version, updated_at=NOW, channels=[deployment], **fields
        )
        event = make_event(AGENT_CONFIG_SNAPSHOT, snapshot, source="test", account_id=ACCOUNT)
        assert await self.account_state.fold_config("agent.config.v1", event)

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[FakeBatch]:
        """A batch's shared transaction, committed when the block ends without an error."""
        async with self.store.batch() as batch:
            yield batch

    async def route_batch(self, events: Sequence[CloudEvent[MessageReceived]]) -> list[Outcome | None]:
        """Route visitor messages as one batch (``BatchConsumer.run``): prepared together, then each handled."""
        async with self.batch():
            await self.inbound.prepare(events)
            decisions = [await self.inbound.handle(event) for event in events]
        return [decision.outcome if decision is not None else None for decision in decisions]

    async def inbox_batch(self, events: Sequence[RawCloudEvent]) -> list[bool]:
        """Apply inbox events as one batch (``BatchConsumer.run``): prepared together, then each handled."""
        async with self.batch():
            await self.inbox_events.prepare(events)
            return [await self.inbox_events.handle(event) for event in events]

    async def say(self, thread: str, message_id: str, text: str = "hello") -> Outcome | None:
        """Route one visitor message; its outcome, None when it was routed before."""
        decision = await self.inbound.handle(message(thread, message_id, text))
        return decision.outcome if decision is not None else None

    async def inbox(self, event_type: str, data: InboxEventData) -> bool:
        """Apply one inbox event as it arrives from Kafka, unvalidated."""
        return await self.inbox_events.handle(raw_inbox_event(event_type, data))

    async def credits(self, *, exhausted: bool, version: int) -> bool:
        """Fold a credit state."""
        state = CreditState(
            account_id=ACCOUNT,
            balance=0 if exhausted else 100,
            allotment=100,
            used_this_period=100 if exhausted else 0,
            reset_at=datetime(2026, 12, 1, tzinfo=UTC),
            exhausted=exhausted,
            version=version,
        )
        kind = CREDITS_EXHAUSTED if exhausted else CREDITS_RESTORED
        event = make_event(kind, state, source="billing", account_id=ACCOUNT)
        return await self.account_state.fold_credit_state("billing.credit-state.v1", event)

    def thread(self, thread_id: str) -> tuple[ThreadState, tuple[AssigneeKind, str] | None]:
        """The committed state of a thread and the user or team holding it."""
        stored = self.database.tables.threads[(ACCOUNT, thread_id)]
        holder = (stored.assignee_kind, stored.assignee_id) if stored.assignee_id and stored.assignee_kind else None
        return stored.state, holder

    def loads(self) -> dict[tuple[AssigneeKind, str], int]:
        """Committed places held, zeros left out."""
        return {holder: load for (_, holder), load in self.database.tables.loads.items() if load}

    def published(self, topic: str, thread_id: str) -> list[CloudEvent[Any]]:
        """Committed events on ``topic`` about one thread."""
        return [
            event
            for published_topic, key, event in self.database.published
            if published_topic == topic and key == f"{ACCOUNT}:{thread_id}"
        ]


def routing(clock: datetime = NOW) -> Routing:
    """Routing's use cases over a new fake database, with a fixed clock."""
    store = FakeStore()
    directory = CountingDirectory()
    return Routing(
        store,
        directory,
        RouteInboundMessage(store, directory, "routing:inbound", clock=lambda: clock),
        HandleConversationEvent(store, directory, "routing:conversations", clock=lambda: clock),
        FoldAccountState(store, directory, "routing"),
        HandleInboxEvent(store, "routing:inbox", clock=lambda: clock),
    )


def message(
    thread: str, message_id: str, text: str = "hello", *, sent_at: datetime = NOW
) -> CloudEvent[MessageReceived]:
    """A visitor message on the web channel, sent at ``sent_at`` by the provider's clock."""
    data = MessageReceived(
        account_id=ACCOUNT,
        channel=WEB,
        thread_id=thread,
        message_id=message_id,
        sender=Sender(id="visitor", locale="en-GB"),
        text=text,
        sent_at=sent_at,
    )
    return make_event("message.received", data, source="test", account_id=ACCOUNT)


def raw_inbox_event(event_type: str, data: InboxEventData) -> RawCloudEvent:
    """An inbox event as routing's subscriber receives it from Kafka: its data not validated yet."""
    event = make_event(event_type, data, source="inbox", account_id=ACCOUNT)
    return RawCloudEvent.model_validate(event.model_dump(mode="json"))


def conversation(event_type: str, thread: str, **fields: Any) -> CloudEvent[ConversationEvent]:
    """An event from conversation about one thread (by default at ``NOW``)."""
    fields.setdefault("occurred_at", NOW)
    data = ConversationEvent(account_id=ACCOUNT, thread_id=thread, **fields)
    return make_event(event_type, data, source="conversation", account_id=ACCOUNT)


def to(*targets: tuple[AssigneeKind, str]) -> HandoffRule:
    """A handoff rule naming users and teams."""
    return HandoffRule(assign_to=[HandoffTarget(kind=kind, id=target_id) for kind, target_id in targets])
