"""What routing's flow tests share: a harness that publishes to routing's topics and reads its output."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from customer_agent_shared.events.billing import CREDITS_EXHAUSTED, CREDITS_RESTORED, CreditState
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    AvailabilityMessages,
    ChannelDeployment,
    HandoffSettings,
)
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.events.inbox import USER_AVAILABILITY, InboxEventData, UserAvailability, inbox_event_key
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    BILLING_CREDIT_STATE,
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_EVENTS,
    INBOX_EVENTS,
    INBOX_HANDOFFS,
)
from routing_service.adapters.orm import (
    account_config_table,
    credit_state_table,
    inbox_table,
    threads_table,
    transcript_table,
    user_presence_table,
)
from routing_service.bootstrap import RoutingService
from sqlalchemy import select

OUTPUTS = (CONVERSATIONS_ASSIGNED, INBOX_HANDOFFS, CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS)
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
WEB_DEPLOYMENT = ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web")


def texts(language: str) -> AvailabilityMessages:
    return AvailabilityMessages(
        available=f"[{language}] available",
        away=f"[{language}] away",
        at_capacity=f"[{language}] at capacity",
        outside_hours=f"[{language}] outside hours",
        handoff_unavailable=f"[{language}] handoff unavailable",
    )


MESSAGES = {"en": texts("en"), "da": texts("da"), "de": texts("de")}


@dataclass(frozen=True)
class Out:
    """One event routing published, decoded."""

    topic: str
    key: str
    type: str
    data: dict[str, Any]


class Harness:
    """Publishes to routing's input topics and reads what it published, for one test account at a time."""

    def __init__(self, servers: str, service: RoutingService, producer: AIOKafkaProducer) -> None:
        self.servers = servers
        self.service = service
        self.producer = producer
        self._versions: dict[str, int] = {}

    async def send(self, topic: str, key: str, event: CloudEvent[Any]) -> None:
        await self.producer.send_and_wait(topic, value=serialize_event(event), key=key.encode())

    async def configure(self, account: str, **fields: Any) -> None:
        """Publish a newer config snapshot and wait until routing folded it."""
        version = self._versions.get(account, 0) + 1
        self._versions[account] = version
        fields.setdefault("handoff", HandoffSettings(messages=MESSAGES))
        snapshot = AgentConfigSnapshot(account_id=account, version=version, updated_at=datetime.now(UTC), **fields)
        await self.send(
            AGENT_CONFIG, account, make_event(AGENT_CONFIG_SNAPSHOT, snapshot, source="test", account_id=account)
        )
        await self._wait_version(
            select(account_config_table.c.version).where(account_config_table.c.account_id == account), version
        )

    async def credits(self, account: str, *, exhausted: bool, version: int, wait: bool = True) -> None:
        state = CreditState(
            account_id=account,
            balance=0 if exhausted else 100,
            allotment=100,
            used_this_period=100 if exhausted else 0,
            reset_at=datetime(2026, 12, 1, tzinfo=UTC),
            exhausted=exhausted,
            version=version,
        )
        kind = CREDITS_EXHAUSTED if exhausted else CREDITS_RESTORED
        event = make_event(kind, state, source="test", account_id=account)
        await self.send(BILLING_CREDIT_STATE, account, event)
        if wait:  # until routing has handled it: folded, or ignored as older than the state it holds
            query = select(inbox_table.c.event_id).where(inbox_table.c.event_id == event.id)

            async def handled() -> bool:
                async with self.service.kernel.session_factory() as session:
                    return (await session.execute(query)).scalar() is not None

            await eventually(handled, f"routing handled credit state version {version}", 30.0)

    async def warm_up(self) -> None:
        """Publish to every input topic until routing consumed from each.

        A group starting at 'latest' resolves its position only after assignment; until then
        a produced message may be skipped, so keep publishing until each topic shows an effect.
        """
        account = unique_name("warm-up")
        probes: list[tuple[Callable[[], Any], Any]] = [
            (
                lambda: self.send(
                    AGENT_CONFIG,
                    account,
                    make_event(
                        AGENT_CONFIG_SNAPSHOT,
                        AgentConfigSnapshot(account_id=account, version=1, updated_at=datetime.now(UTC)),
                        source="test",
                        account_id=account,
                    ),
                ),
                select(account_config_table.c.version).where(account_config_table.c.account_id == account),
            ),
            (
                lambda: self.credits(account, exhausted=False, version=1, wait=False),
                select(credit_state_table.c.version).where(credit_state_table.c.account_id == account),
            ),
            (
                lambda: self.say(account, "warm-up", unique_name("m")),
                select(transcript_table.c.id).where(
                    transcript_table.c.account_id == account, transcript_table.c.role == "visitor"
                ),
            ),
            (
                lambda: self.inbox(
                    USER_AVAILABILITY, UserAvailability(account_id=account, user_id="warm-up", available=True)
                ),
                select(user_presence_table.c.available).where(user_presence_table.c.account_id == account),
            ),
            (
                lambda: self.conversation(CONVERSATION_ANSWERED, account, "warm-up", answer="ok"),
                select(transcript_table.c.id).where(
                    transcript_table.c.account_id == account, transcript_table.c.role == "agent"
                ),
            ),
        ]
        for publish, query in probes:
            for _ in range(30):
                await publish()
                try:
                    await self._wait_version(query.limit(1), 0, within=1.0)
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError("routing consumed nothing in 30 attempts")

    async def _wait_version(self, query: Any, version: int, within: float = 30.0) -> None:
        async def folded() -> bool:
            async with self.service.kernel.session_factory() as session:
                stored = (await session.execute(query)).scalar()
            return stored is not None and stored >= version

        await eventually(folded, f"routing folded version {version}", within)

    async def presence(self, account: str, user: str, *, available: bool) -> None:
        """Publish the inbox's presence of a user and wait until routing folded it (inbox events and visitor
        messages travel on different topics: a message sent at once may be decided before it)."""
        await self.inbox(USER_AVAILABILITY, UserAvailability(account_id=account, user_id=user, available=available))
        query = select(user_presence_table.c.available).where(
            user_presence_table.c.account_id == account, user_presence_table.c.user_id == user
        )

        async def folded() -> bool:
            async with self.service.kernel.session_factory() as session:
                return (await session.execute(query)).scalar() is available

        await eventually(folded, f"routing has {user} {'available' if available else 'away'}")

    def inbound(
        self,
        account: str,
        thread: str,
        message_id: str,
        text_: str = "hello",
        *,
        locale: str | None = "en-GB",
        sent_at: datetime | None = None,
    ) -> CloudEvent[MessageReceived]:
        message = MessageReceived(
            account_id=account,
            channel=WEB,
            thread_id=thread,
            message_id=message_id,
            sender=Sender(id="visitor", locale=locale),
            text=text_,
            sent_at=sent_at or datetime.now(UTC),
        )
        return make_event("message.received", message, source="test", account_id=account)

    async def say(self, account: str, thread: str, message_id: str, text_: str = "hello", **kwargs: Any) -> None:
        await self.send(
            CHANNELS_INBOUND, f"{account}:{thread}", self.inbound(account, thread, message_id, text_, **kwargs)
        )

    async def conversation(self, event_type: str, account: str, thread: str, **fields: Any) -> None:
        data = ConversationEvent(account_id=account, thread_id=thread, occurred_at=datetime.now(UTC), **fields)
        await self.send(
            CONVERSATIONS_EVENTS, f"{account}:{thread}", make_event(event_type, data, source="test", account_id=account)
        )

    async def inbox(self, event_type: str, data: InboxEventData, *, envelope_account: str | None = None) -> str:
        """Publish an inbox event as the human inbox would (its key per thread or per user); return its id."""
        event = make_event(event_type, data, source="inbox", account_id=envelope_account or data.account_id)
        await self.send(INBOX_EVENTS, inbox_event_key(data), event)
        return event.id

    async def thread_state(self, account: str, thread: str, wanted: str, *, assignee_id: str | None = None) -> None:
        """Wait until routing's row of the thread has the ``wanted`` state (and, if given, assignee)."""
        query = select(threads_table.c.state, threads_table.c.assignee_id).where(
            threads_table.c.account_id == account, threads_table.c.thread_id == thread
        )

        async def reached() -> bool:
            async with self.service.kernel.session_factory() as session:
                row = (await session.execute(query)).first()
            return row is not None and row.state == wanted and assignee_id in (None, row.assignee_id)

        await eventually(reached, f"thread {thread} {wanted} {assignee_id or ''}")

    async def marks(self) -> dict[str, dict[int, int]]:
        """End offsets of routing's output topics, taken before producing."""
        return {topic: await end_offsets(self.servers, topic) for topic in OUTPUTS}

    async def read(
        self,
        topic: str,
        marks: dict[str, dict[int, int]],
        account: str,
        until: Callable[[list[Out]], bool],
        wait_seconds: float = 20.0,
    ) -> list[Out]:
        """Events on ``topic`` for ``account`` since ``marks`` until ``until`` holds (or the timeout)."""

        def mine(records: list[Any]) -> list[Out]:
            events, seen = [], set()
            for record in records:
                body = json.loads(record.value)
                # Only routing's events (conversation processes of other tests also write to these topics);
                # routing's event ids are stable, so a re-send is dropped.
                if body.get("accountid") == account and body["source"] == "routing" and body["id"] not in seen:
                    seen.add(body["id"])
                    events.append(Out(topic, (record.key or b"").decode(), body["type"], body["data"]))
            return events

        records = await collect_records(
            self.servers,
            topic,
            until=lambda rs: until(mine(rs)),
            timeout_seconds=wait_seconds,
            from_offsets=marks[topic],
        )
        return mine(records)


async def wait_until_assigned(broker: Any, timeout_seconds: float = 30.0) -> None:
    """Wait until every consumer of every subscriber, including each consumer of a concurrent
    subscriber's group (``consumer_subgroup``), has partitions."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        consumers: list[Any] = []
        for subscriber in broker.subscribers:
            consumers.extend(getattr(subscriber, "consumer_subgroup", None) or [getattr(subscriber, "consumer", None)])
        if consumers and all(consumer is not None and consumer.assignment() for consumer in consumers):
            return
        if time.monotonic() > deadline:
            raise TimeoutError("routing's consumers got no partitions")
        await asyncio.sleep(0.1)


def of_thread(events: list[Out], thread: str) -> list[Out]:
    return [event for event in events if event.data["thread_id"] == thread]


def count(events: list[Out], event_type: str, thread: str) -> int:
    return sum(1 for event in of_thread(events, thread) if event.type == event_type)
