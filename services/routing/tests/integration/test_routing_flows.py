"""Routing on the real stack, through its topics only: config, credits, inbound and conversation events in;
assignments, handoffs and visitor messages out. One in-process service serves the whole module."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.events.billing import CREDITS_EXHAUSTED, CREDITS_RESTORED, CreditState
from customer_agent_shared.events.channels import (
    Assignee,
    ChannelRef,
    ChannelType,
    HandoffReason,
    MessageReceived,
    Sender,
)
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    AvailabilityMessages,
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffSettings,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    THREAD_RETURNED,
    USER_AVAILABILITY,
    ClosedBy,
    InboxEventData,
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
    UserAvailability,
    inbox_event_key,
)
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
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
    threads_table,
    transcript_table,
    user_presence_table,
)
from routing_service.bootstrap import RoutingService, build_service
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from routing_service.settings import RoutingSettings
from sqlalchemy import select, text

pytestmark = pytest.mark.integration

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
        await self.send(BILLING_CREDIT_STATE, account, make_event(kind, state, source="test", account_id=account))
        if wait:
            query = select(credit_state_table.c.version).where(credit_state_table.c.account_id == account)
            await self._wait_version(query, version)

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
                    await self._wait_version(query.limit(1), 0, attempts=20)
                    break
                except AssertionError:
                    continue
            else:
                raise AssertionError("routing consumed nothing in 30 attempts")

    async def _wait_version(self, query: Any, version: int, attempts: int = 200) -> None:
        async with self.service.kernel.session_factory() as session:
            for _ in range(attempts):
                stored = (await session.execute(query)).scalar()
                await session.rollback()
                if stored is not None and stored >= version:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"routing did not fold version {version}")

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

    async def thread_state(self, account: str, thread: str, wanted: str) -> None:
        """Wait until routing's row of the thread has the ``wanted`` state."""
        query = select(threads_table.c.state).where(
            threads_table.c.account_id == account, threads_table.c.thread_id == thread
        )
        async with self.service.kernel.session_factory() as session:
            for _ in range(200):
                state = (await session.execute(query)).scalar()
                await session.rollback()
                if state == wanted:
                    return
                await asyncio.sleep(0.05)
        raise AssertionError(f"thread {thread} never became {wanted} (last: {state})")

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


@pytest.fixture(scope="module")
async def harness(infrastructure: InfrastructureSettings) -> AsyncIterator[Harness]:
    schema = unique_name("test_routing").replace("-", "_")
    # Unique names keep this process's dedup keys, consumer groups and metrics apart from any other routing.
    settings = RoutingSettings(
        service_name=unique_name("routing-test"),
        database_schema=schema,
        consumer_group=unique_name("routing-test"),
        consumer_offset_reset="latest",
    )
    service = build_service(settings)
    producer = AIOKafkaProducer(bootstrap_servers=infrastructure.kafka_bootstrap_servers, acks="all", linger_ms=5)
    await producer.start()
    try:
        async with service.kernel.lifecycle.running():
            await wait_until_assigned(service.kernel.broker)
            harness = Harness(infrastructure.kafka_bootstrap_servers, service, producer)
            await harness.warm_up()
            yield harness
    finally:
        await producer.stop()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


def of_thread(events: list[Out], thread: str) -> list[Out]:
    return [event for event in events if event.data["thread_id"] == thread]


def count(events: list[Out], event_type: str, thread: str) -> int:
    return sum(1 for event in of_thread(events, thread) if event.type == event_type)


async def test_a_paused_agent_keeps_its_open_thread_while_a_new_thread_goes_to_a_human(harness: Harness) -> None:
    account = unique_name("acc")
    user = HandoffUser(id="ada", paid_seat=True)
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")], update_avatar=False)
    await harness.configure(account, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=[user])
    marks = await harness.marks()
    await harness.say(account, "open", "m1")
    await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "open") == 1
    )

    await harness.configure(
        account, paused=True, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=[user]
    )
    await harness.say(account, "open", "m2")
    await harness.say(account, "fresh", "f1", locale="de-DE")
    await harness.say(account, "fresh", "f2", locale="de-DE")  # the human owns it now: forwarded

    handoffs = await harness.read(
        INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "fresh") == 1
    )
    handed = [e for e in of_thread(handoffs, "fresh") if e.type == "thread.handed_off"]
    assert len(handed) == 1
    assert handed[0].data["reason"] == "agent_paused"
    assert handed[0].data["assignee"] == {"kind": "user", "id": "ada"}
    assert handed[0].data["update_avatar"] is False
    assert [entry["text"] for entry in handed[0].data["transcript"]] == ["hello"]
    forwarded = [e for e in of_thread(handoffs, "fresh") if e.type == "message.forwarded"]
    assert forwarded[0].data["message"]["message_id"] == "f2"
    assert forwarded[0].data["assignee"] == {"kind": "user", "id": "ada"}
    assert forwarded[0].key == f"{account}:fresh"

    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "open") == 2
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "open")] == ["m1", "m2"]
    settled = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: False, wait_seconds=1.0)
    assert of_thread(settled, "fresh") == []  # the agent never saw the new thread

    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "fresh")) >= 1)
    notice = of_thread(outbound, "fresh")
    assert len(notice) == 1
    assert notice[0].data["kind"] == "availability"
    assert notice[0].data["text"] == "[de] available"
    assert notice[0].data["language"] == "de"
    assert notice[0].data["powered_by_ai"] is False
    assert notice[0].data["author"]["kind"] == "system"
    assert notice[0].data["reply_to"] == "f1"


async def test_exhausted_credits_pause_new_threads_and_restored_credits_resume(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])  # nobody named: the unassigned view
    marks = await harness.marks()
    await harness.credits(account, exhausted=True, version=5)
    await harness.say(account, "during", "d1")
    await harness.say(account, "during", "d2")
    handoffs = await harness.read(
        INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "during") == 1
    )
    handed = [e for e in of_thread(handoffs, "during") if e.type == "thread.handed_off"]
    assert [(e.data["reason"], e.data["assignee"]) for e in handed] == [
        ("credits_exhausted", {"kind": "unassigned", "id": None})
    ]

    await harness.credits(account, exhausted=False, version=6)
    await harness.credits(account, exhausted=True, version=4, wait=False)  # late, older state: ignored
    await harness.say(account, "after", "a1")
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "after") == 1
    )
    assert of_thread(assigned, "during") == []
    assert of_thread(assigned, "after")[0].data["new_thread"] is True
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "during")) >= 1)
    assert [e.data["powered_by_ai"] for e in of_thread(outbound, "during")] == [False]


async def test_a_trigger_hands_off_at_once_with_the_transcript(harness: Harness) -> None:
    account = unique_name("acc")
    team = HandoffTeam(id="support", member_ids=["ada"], max_capacity=5)
    rule = HandoffRule(assign_to=[HandoffTarget(kind="team", id="support")], update_avatar=True)
    await harness.configure(
        account,
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["support"])],
        teams=[team],
        handoff=HandoffSettings(triggers=["menneske", "talk to a person"], messages=MESSAGES),
    )
    marks = await harness.marks()
    await harness.say(account, "t", "q1", "Hvad koster det?", locale="da-DK")
    await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "t") == 1)
    await harness.conversation(CONVERSATION_ANSWERED, account, "t", message_id="q1", answer="Det koster 10 kr.")
    async with harness.service.kernel.session_factory() as session:
        for _ in range(100):
            rows = (
                await session.execute(select(transcript_table.c.role).where(transcript_table.c.account_id == account))
            ).all()
            await session.rollback()
            if len(rows) == 2:
                break
            await asyncio.sleep(0.05)
    await harness.say(account, "t", "q2", "Må jeg tale med et MENNESKE?", locale="da-DK")

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    handed = of_thread(handoffs, "t")[0].data
    assert handed["reason"] == "trigger"
    assert handed["assignee"] == {"kind": "team", "id": "support"}
    assert handed["update_avatar"] is True
    assert [(entry["role"], entry["text"]) for entry in handed["transcript"]] == [
        ("visitor", "Hvad koster det?"),
        ("agent", "Det koster 10 kr."),
        ("visitor", "Må jeg tale med et MENNESKE?"),
    ]
    assigned = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: False, wait_seconds=1.5)
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "t")] == ["q1"]  # not the trigger message
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "t")) >= 1)
    assert [(e.data["kind"], e.data["text"], e.data["powered_by_ai"]) for e in of_thread(outbound, "t")] == [
        ("availability", "[da] available", True)
    ]


async def test_cannot_answer_hands_off_and_stay_assigned_keeps_the_agent(harness: Harness) -> None:
    account = unique_name("acc")
    stay = ChannelDeployment(type=ChannelType.LIVE_CHAT, id="stay", handoff=HandoffRule(mode=HandoffMode.STAY_ASSIGNED))
    await harness.configure(account, channels=[WEB_DEPLOYMENT, stay])
    marks = await harness.marks()
    await harness.say(account, "t", "q1")
    stay_message = harness.inbound(account, "s", "s1").model_copy(deep=True)
    stay_message.data.channel = ChannelRef(type=ChannelType.LIVE_CHAT, id="stay")
    await harness.send(CHANNELS_INBOUND, f"{account}:s", stay_message)
    await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: len(es) == 2)
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "t", message_id="q1", language="en")
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "s", message_id="s1", language="en")
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "t", message_id="q1", language="en")  # late repeat

    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) >= 2)
    assert sorted((e.data["thread_id"], e.data["kind"]) for e in outbound) == [
        ("s", "handoff_unavailable"),
        ("t", "availability"),
    ]
    await harness.say(account, "s", "s2")  # still the agent's
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "s") == 2
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "s")] == ["s1", "s2"]
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) >= 1)
    assert [(e.data["thread_id"], e.data["reason"]) for e in handoffs] == [("t", "cannot_answer")]


async def test_outside_business_hours_the_visitor_gets_the_message_in_their_language(harness: Harness) -> None:
    account = unique_name("acc")
    weekdays = WorkingHours(
        timezone="Europe/Copenhagen", intervals=[WorkingInterval(day=d, start="09:00", end="17:00") for d in range(5)]
    )
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])
    await harness.configure(
        account,
        paused=True,
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, working_hours=weekdays)],
        default_language="de",
    )
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    tuesday = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # 10:30 in Copenhagen
    marks = await harness.marks()
    await harness.say(account, "weekend-da", "w1", "Hej", locale="da-DK", sent_at=saturday)
    await harness.say(account, "weekend-fr", "w2", "Bonjour", locale="fr-FR", sent_at=saturday)
    await harness.say(account, "weekday-da", "w3", "Hej", locale="da-DK", sent_at=tuesday)
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) >= 3)
    by_thread = {e.data["thread_id"]: (e.data["language"], e.data["text"]) for e in outbound}
    assert by_thread == {
        "weekend-da": ("da", "[da] outside hours"),
        "weekend-fr": ("de", "[de] outside hours"),  # French not configured: the account's default language
        "weekday-da": ("da", "[da] available"),
    }
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) >= 3)
    assert {e.data["thread_id"]: e.data["assignee"]["kind"] for e in handoffs} == {
        "weekend-da": "unassigned",
        "weekend-fr": "unassigned",
        "weekday-da": "user",
    }


async def test_a_burst_of_200_messages_on_one_thread_keeps_its_order(harness: Harness) -> None:
    account = unique_name("acc")
    # Conversation processes of other test runs may answer our assignments and, after two misses, ask
    # for a handoff; a stay_assigned rule keeps the thread with the agent so all 200 stay assignments.
    stay = WEB_DEPLOYMENT.model_copy(update={"handoff": HandoffRule(mode=HandoffMode.STAY_ASSIGNED)})
    await harness.configure(account, channels=[stay])
    marks = await harness.marks()
    ids = [f"m{index:03d}" for index in range(200)]
    futures = [
        await harness.producer.send(
            CHANNELS_INBOUND, serialize_event(harness.inbound(account, "burst", mid)), key=f"{account}:burst".encode()
        )
        for mid in ids
    ]
    await asyncio.gather(*futures)
    assigned = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: len(es) >= 200, wait_seconds=60)
    assert [e.data["message"]["message_id"] for e in assigned] == ids
    assert [e.data["new_thread"] for e in assigned[:2]] == [True, False]
    assert {e.key for e in assigned} == {f"{account}:burst"}


async def test_a_duplicated_inbound_event_never_assigns_twice(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    marks = await harness.marks()
    first = harness.inbound(account, "dup", "m1")
    await harness.send(CHANNELS_INBOUND, f"{account}:dup", first)
    await harness.send(CHANNELS_INBOUND, f"{account}:dup", first)  # the same event again
    republished = first.model_copy(update={"id": unique_name("evt")})  # same message, new event id
    await harness.send(CHANNELS_INBOUND, f"{account}:dup", republished)
    await harness.say(account, "dup", "m2")  # a marker: everything before it was routed
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: any(e.data["message"]["message_id"] == "m2" for e in es)
    )
    assert [e.data["message"]["message_id"] for e in assigned] == ["m1", "m2"]


async def test_team_capacity_is_tracked_and_a_thread_the_inbox_closes_frees_a_place(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="team", id="sales")])
    await harness.configure(
        account,
        paused=True,
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])],
        teams=[HandoffTeam(id="sales", member_ids=["ada"], max_capacity=1)],
    )
    marks = await harness.marks()
    await harness.say(account, "first", "a1")
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 1)
    await harness.say(account, "second", "b1")  # the team is full now
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 2)
    await harness.conversation(CONVERSATION_RESOLVED, account, "second")  # conversation never closes a human's
    closed = ThreadClosed(
        account_id=account, thread_id="first", closed_by=ClosedBy(kind="user", id="ada"), resolved=True
    )
    await harness.inbox(THREAD_CLOSED, closed)
    await harness.thread_state(account, "first", "closed")
    await harness.say(account, "third", "c1")

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 3)
    # Different threads live on different partitions: compare per thread, not in reading order.
    assert {e.data["thread_id"]: e.data["assignee"] for e in handoffs} == {
        "first": {"kind": "team", "id": "sales"},
        "second": {"kind": "unassigned", "id": None},
        "third": {"kind": "team", "id": "sales"},
    }
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) == 3)
    assert {e.data["thread_id"]: e.data["text"] for e in outbound} == {
        "first": "[en] available",
        "second": "[en] at capacity",
        "third": "[en] available",
    }
    await harness.thread_state(account, "second", "unassigned")
    announced = await harness.read(CONVERSATIONS_EVENTS, marks, account, lambda es: len(es) == 3)
    assert {(e.data["thread_id"], e.type, e.data["reason"], e.key) for e in announced} == {
        (thread, "conversation.handed_off", "agent_paused", f"{account}:{thread}")
        for thread in ("first", "second", "third")
    }


async def test_a_reassigned_thread_moves_its_place_and_a_returned_thread_goes_back_to_the_agent(
    harness: Harness,
) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada"), HandoffTarget(kind="user", id="bo")])
    users = [HandoffUser(id="ada", paid_seat=True), HandoffUser(id="bo", paid_seat=True)]
    await harness.configure(
        account, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=users, paused=True
    )
    marks = await harness.marks()
    await harness.say(account, "t", "m1")  # paused: the least loaded of ada and bo, ada on a tie
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    await harness.inbox(
        THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id="t", assignee=Assignee(kind="user", id="bo"))
    )
    await harness.say(account, "t", "m2")  # bo owns it now
    forwarded = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "t") == 1)
    assert [e.data["assignee"] for e in forwarded if e.type == "message.forwarded"] == [{"kind": "user", "id": "bo"}]
    await harness.say(account, "u", "n1")  # ada's place is free again and bo holds one: ada gets it
    handed = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "u") == 1)
    assert [e.data["assignee"] for e in of_thread(handed, "u")] == [{"kind": "user", "id": "ada"}]

    await harness.inbox(THREAD_RETURNED, ThreadReturned(account_id=account, thread_id="t"))
    await harness.thread_state(account, "t", "agent")
    await harness.say(account, "t", "m3")  # the agent's again, even while paused
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "t") == 1
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "t")] == ["m3"]


async def test_presence_makes_a_user_away_without_a_new_user_list_and_survives_one(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])
    deployment = WEB_DEPLOYMENT.model_copy(update={"handoff": rule})
    await harness.configure(account, channels=[deployment], users=[HandoffUser(id="ada", paid_seat=True)], paused=True)
    marks = await harness.marks()
    await harness.inbox(USER_AVAILABILITY, UserAvailability(account_id=account, user_id="ada", available=False))
    await harness.configure(  # the admin saves the user list again: presence is not the config's field
        account, channels=[deployment], users=[HandoffUser(id="ada", paid_seat=True, available=True)], paused=True
    )
    await harness.say(account, "away", "a1")
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "away")) == 1)
    assert [e.data["text"] for e in of_thread(outbound, "away")] == ["[en] away"]
    await harness.inbox(USER_AVAILABILITY, UserAvailability(account_id=account, user_id="ada", available=True))
    async with harness.service.kernel.session_factory() as session:
        query = select(user_presence_table.c.available).where(user_presence_table.c.account_id == account)
        for _ in range(200):
            present = (await session.execute(query)).scalar()
            await session.rollback()
            if present:
                break
            await asyncio.sleep(0.05)
    await harness.say(account, "back", "b1")
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(of_thread(es, "back")) == 1)
    assert [e.data["assignee"] for e in of_thread(handoffs, "away") + of_thread(handoffs, "back")] == [
        {"kind": "unassigned", "id": None},
        {"kind": "user", "id": "ada"},
    ]


async def test_an_inbox_event_naming_another_account_in_its_data_is_dead_lettered(harness: Harness) -> None:
    account = unique_name("acc")
    victim = unique_name("victim")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    dead_letters = await end_offsets(harness.servers, INBOX_EVENTS + ".dlq")
    event_id = await harness.inbox(
        THREAD_RETURNED, ThreadReturned(account_id=victim, thread_id="t"), envelope_account=account
    )
    records = await collect_records(
        harness.servers,
        INBOX_EVENTS + ".dlq",
        until=lambda rs: any(json.loads(r.value)["id"] == event_id for r in rs),
        timeout_seconds=20,
        from_offsets=dead_letters,
    )
    assert any(json.loads(r.value)["id"] == event_id for r in records)


async def test_an_answer_and_a_handoff_in_one_batch_give_the_human_the_whole_transcript(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    marks = await harness.marks()
    await harness.say(account, "t", "q1", "How much is it?")
    await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "t") == 1)
    use_case = HandleConversationEvent(harness.service.unit_of_work, harness.service.directory, unique_name("events"))

    def event(event_type: str, **fields: Any) -> CloudEvent[ConversationEvent]:
        data = ConversationEvent(
            account_id=account, thread_id="t", occurred_at=datetime.now(UTC), message_id="q1", **fields
        )
        return make_event(event_type, data, source="test", account_id=account)

    async with shared_transaction(harness.service.unit_of_work) as batch:
        await use_case.handle(event(CONVERSATION_ANSWERED, answer="It costs 10 kr."))  # its entry waits for the commit
        await use_case.handle(event(CONVERSATION_CANNOT_ANSWER, reason=HandoffReason.CANNOT_ANSWER))
        await batch.commit()

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    transcript = of_thread(handoffs, "t")[0].data["transcript"]
    assert [(entry["role"], entry["text"]) for entry in transcript] == [
        ("visitor", "How much is it?"),
        ("agent", "It costs 10 kr."),
    ]


async def _message_counts(harness: Harness, account: str) -> dict[str, int]:
    async with harness.service.kernel.session_factory() as session:
        rows = await session.execute(
            select(threads_table.c.thread_id, threads_table.c.messages).where(threads_table.c.account_id == account)
        )
        return {str(row[0]): int(row[1]) for row in rows}


async def test_a_batch_receives_the_first_message_of_each_thread_in_one_statement(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    marks = await harness.marks()
    use_case = RouteInboundMessage(harness.service.unit_of_work, harness.service.directory, unique_name("inbound"))

    async def run_batch(events: list[CloudEvent[MessageReceived]]) -> list[bool]:
        async with shared_transaction(harness.service.unit_of_work) as batch:
            await use_case.prepare(events)
            decisions = [await use_case.handle(event) for event in events]
            await batch.commit()
        return [decision is not None for decision in decisions]

    first = [
        harness.inbound(account, "a", "a1"),
        harness.inbound(account, "b", "b1"),
        harness.inbound(account, "a", "a2"),  # a later message of a thread: received by its own handle
        harness.inbound(account, "b", "b1"),  # the same message re-published under a new event id
    ]
    assert await run_batch(first) == [True, True, True, False]
    assert await _message_counts(harness, account) == {"a": 2, "b": 1}
    second = [harness.inbound(account, "a", "a3"), harness.inbound(account, "c", "c1")]
    assert await run_batch([*second, first[0]]) == [True, True, False]  # first[0]: an event handled before

    assigned = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: len(es) >= 5)
    assert sorted((e.data["message"]["message_id"], e.data["new_thread"]) for e in assigned) == [
        ("a1", True),
        ("a2", False),
        ("a3", False),
        ("b1", True),
        ("c1", True),
    ]
    assert await _message_counts(harness, account) == {"a": 3, "b": 1, "c": 1}
    async with harness.service.kernel.session_factory() as session:
        entries = await session.execute(
            select(transcript_table.c.entry_key).where(transcript_table.c.account_id == account)
        )
        assert sorted(entries.scalars()) == ["message:a1", "message:a2", "message:a3", "message:b1", "message:c1"]
