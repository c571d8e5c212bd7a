"""Per-resolution billing over real Kafka and PostgreSQL: a thread a person closed is the agent's again once
the agent answers the visitor's next conversation, whichever topic billing hears first."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import partial
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED, CONVERSATION_RESOLVED
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.inbox import THREAD_CLOSED, ClosedBy, ThreadClosed, inbox_event_key
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_COMMANDS, INBOX_EVENTS
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    conversation_event,
    from_inbox,
    handed_off,
    handled_all,
    has_entry,
    kafka_producer,
    ledger,
    per_resolution_billing,
    plan_is_per_resolution,
    send,
    send_conversation,
    wait_until_consuming,
)

pytestmark = pytest.mark.integration


async def test_the_agents_resolution_after_a_persons_close_is_charged_and_the_persons_never(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    billing = per_resolution_billing(schema)
    service, clock, account, now = billing.service, billing.clock, billing.account, billing.clock.now

    def minutes(count: int) -> datetime:
        return now + timedelta(minutes=count)

    def closed(thread: str, at: datetime) -> CloudEvent[Any]:
        data = ThreadClosed(
            account_id=account, thread_id=thread, closed_by=ClosedBy(kind="user", id="ada"), resolved=True
        )
        return from_inbox(THREAD_CLOSED, data, at=at)

    def answered(thread: str, at: datetime) -> CloudEvent[Any]:
        return conversation_event(account, thread, CONVERSATION_ANSWERED, at)

    # Each thread: answered, handed off (1 min), closed by the person (10 min). "reopened": the visitor writes
    # again, the agent answers (20 min) and conversation resolves it (30 min), a close sent again under a new id
    # in between. "close-first": the close heard before the handoff, the agent answers again (40 min), then quiet.
    # "persons": no answer after the close; conversation resolves the person's conversation (30 min).
    steps: list[list[CloudEvent[Any]]] = [
        [
            closed("close-first", minutes(10)),
            *[event for thread in ("reopened", "persons") for event in _handed_off_after(account, thread, now)],
        ],
        [
            closed("reopened", minutes(10)),
            closed("persons", minutes(10)),
            *_handed_off_after(account, "close-first", now),
            answered("close-first", minutes(40)),
        ],
        [answered("reopened", minutes(20)), conversation_event(account, "persons", CONVERSATION_RESOLVED, minutes(30))],
        [closed("reopened", minutes(21))],  # the inbox sends its close again, after the agent's answer
        [conversation_event(account, "reopened", CONVERSATION_RESOLVED, minutes(30))],
    ]
    async with service.kernel.lifecycle.running(), kafka_producer(infrastructure.kafka_bootstrap_servers) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send(producer, BILLING_COMMANDS, billing.plan_set, account)
        await eventually(lambda: plan_is_per_resolution(engine, schema, account), "the plan")
        for number, step in enumerate(steps):
            # The two topics are not ordered with each other: each step is heard whole before the next is sent.
            await _send_all(producer, step)
            await eventually(partial(handled_all, engine, schema, [event.id for event in step]), f"step {number}")
        await eventually(lambda: has_entry(engine, schema, account, "usage", "thread:reopened"), "the resolution")
        # Past the quiet period of every thread: the pass meets "persons" (quiet since 30 min) before "close-first"
        # (quiet since 40 min), so by the time "close-first" is charged "persons" was passed over.
        clock.now = minutes(40) + timedelta(hours=2, minutes=5)
        await eventually(lambda: has_entry(engine, schema, account, "usage", "thread:close-first"), "the quiet charge")

    moves = [(e.kind, e.cause_id) for e in await ledger(engine, schema, account) if e.kind in ("usage", "refund")]
    assert sorted(moves) == [("usage", "thread:close-first"), ("usage", "thread:reopened")]


def _handed_off_after(account: str, thread: str, now: datetime) -> list[CloudEvent[Any]]:
    """The agent's answer, then routing's handoff a minute later."""
    return [
        conversation_event(account, thread, CONVERSATION_ANSWERED, now),
        handed_off(account, thread, now + timedelta(minutes=1)),
    ]


async def _send_all(producer: AIOKafkaProducer, events: list[CloudEvent[Any]]) -> None:
    for event in events:
        if event.type == THREAD_CLOSED:
            await send(producer, INBOX_EVENTS, event, inbox_event_key(event.data))
        else:
            await send_conversation(producer, event)
