"""Routing on the real stack: order, duplicates and batches of inbound messages and conversation events."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.events.channels import HandoffReason, MessageReceived
from customer_agent_shared.events.config import HandoffMode, HandoffRule, HandoffSettings
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.topics import CHANNELS_INBOUND, CONVERSATIONS_ASSIGNED, INBOX_HANDOFFS
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.orm import threads_table, transcript_table
from routing_service.domain.decisions import Outcome
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from sqlalchemy import select

from .routing_harness import MESSAGES, WEB_DEPLOYMENT, Harness, count, of_thread

pytestmark = pytest.mark.integration


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


async def test_a_batch_decides_each_message_on_the_account_view_its_prepare_read(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])  # no trigger yet
    # A directory that keeps nothing: every read sees what is committed, so only the batch can keep a view.
    use_case = RouteInboundMessage(harness.service.unit_of_work, AccountDirectory(ttl_seconds=0), unique_name("in"))
    asked = harness.inbound(account, "t", "t1", "talk to a person")

    async with shared_transaction(harness.service.unit_of_work) as batch:
        await use_case.prepare([asked])
        triggers = HandoffSettings(messages=MESSAGES, triggers=["talk to a person"])
        await harness.configure(account, channels=[WEB_DEPLOYMENT], handoff=triggers)  # committed meanwhile
        decision = await use_case.handle(asked)
        await batch.commit()
    alone = await use_case.handle(harness.inbound(account, "u", "u1", "talk to a person"))

    assert decision is not None
    assert decision.outcome is Outcome.ASSIGNED_TO_AGENT  # the view its holds were foreseen from
    assert alone is not None
    assert alone.outcome is Outcome.HANDED_OFF  # judged on its own: the trigger is there
