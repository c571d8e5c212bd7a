"""What the tests of assignments and locks on real PostgreSQL share: an account whose team has two places, the
events that ask for handoffs or come from the inbox, the use cases and a batch consumer as routing's, a
transaction that pauses until another waits for it, what they leave behind and the statements they send."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from typing import Any, Literal

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
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import InboxEventData
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from prometheus_client import REGISTRY
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.account_repositories import LoadRepository
from routing_service.adapters.orm import assignee_load_table, inbox_table, outbox_table, threads_table
from routing_service.adapters.repositories import ThreadRepository
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.domain.handoff import LoadKey
from routing_service.domain.model import RoutedThread
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

CAPACITY = 2
Units = Callable[[], RoutingUnitOfWork]
Sessions = async_sessionmaker[AsyncSession]
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
TRIGGER = "let me talk to a person"


def units_of(sessions: Sessions) -> Units:
    """Routing's units of work over these sessions."""
    return lambda: RoutingUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)


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


def inbox_event(event_type: str, data: InboxEventData, account: str) -> RawCloudEvent:
    """An inbox event as it arrives from Kafka, unvalidated."""
    event = make_event(event_type, data, source="inbox", account_id=account)
    return RawCloudEvent.model_validate(event.model_dump(mode="json"))


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


@contextmanager
def statements(sessions: Sessions) -> Iterator[list[str]]:
    """The SQL statements sent through ``sessions`` within the block (BEGIN and COMMIT are not statements here)."""
    sent: list[str] = []

    def keep(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()))

    engine = sessions.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", keep)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", keep)


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


_BLOCKED_BY = text(
    "select exists (select from pg_locks where not granted and cast(:pid as integer) = any(pg_blocking_pids(pid)))"
)


async def _blocked_by(units: Callable[[], RoutingUnitOfWork], pid: int) -> bool:
    """Whether another session waits for a lock the session ``pid`` holds."""
    async with units() as uow:
        return bool(await uow.session.scalar(_BLOCKED_BY, {"pid": pid}))


class Pause:
    """Pauses the first transaction that calls it until another waits for a lock it holds, once."""

    def __init__(self, watch: Callable[[], RoutingUnitOfWork]) -> None:
        self._watch = watch
        self.reached = asyncio.Event()

    async def __call__(self, session: AsyncSession) -> None:
        if self.reached.is_set():
            return
        self.reached.set()
        pid: int = await session.scalar(text("select pg_backend_pid()"))
        await eventually(partial(_blocked_by, self._watch, pid), "another transaction waits for the paused one")


class PausingLoads(LoadRepository):
    """The real repository; after the first change of a load, the transaction pauses (``Pause``)."""

    def __init__(self, session: AsyncSession, *, kept: dict[Any, Any], pause: Pause) -> None:
        super().__init__(session, kept=kept)
        self._pause = pause

    async def change(self, account_id: str, holder: LoadKey, delta: int) -> None:
        """Change the load, then pause the first time."""
        await super().change(account_id, holder, delta)
        await self._pause(self._session)


class PausingThreads(ThreadRepository):
    """The real repository; after the first lock of one thread, the transaction pauses (``Pause``)."""

    def __init__(self, session: AsyncSession, *, kept: dict[Any, Any], pause: Pause) -> None:
        super().__init__(session, kept=kept)
        self._pause = pause

    async def lock(self, account_id: str, thread_id: str) -> RoutedThread | None:
        """Lock the thread, then pause the first time."""
        found = await super().lock(account_id, thread_id)
        await self._pause(self._session)
        return found


class PausingUnitOfWork(RoutingUnitOfWork):
    """Routing's unit of work whose loads or threads pause once (``PausingLoads``, ``PausingThreads``)."""

    def __init__(self, sessions: Sessions, pause: Pause, *, at: Literal["loads", "threads"]) -> None:
        super().__init__(sessions, outbox=outbox_table, inbox=inbox_table)
        self._pause = pause
        self._at = at

    def on_begin(self) -> None:
        """The repositories; the loads' or the threads' pausing."""
        super().on_begin()
        if self._at == "loads":
            self.loads = PausingLoads(self.session, kept=self.transaction_cache("assignments"), pause=self._pause)
        else:
            self.threads = PausingThreads(self.session, kept=self.transaction_cache("threads"), pause=self._pause)
