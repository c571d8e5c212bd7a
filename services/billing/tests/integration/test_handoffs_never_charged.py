"""Per-resolution billing over real Kafka and PostgreSQL, with handoffs heard from routing and the inbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.events.channels import Assignee
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    ClosedBy,
    ThreadClosed,
    ThreadReassigned,
    inbox_event_key,
)
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_COMMANDS, INBOX_EVENTS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    State,
    conversation_event,
    credit_state_offsets,
    credit_states,
    from_inbox,
    handed_off,
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


async def test_only_threads_the_agent_resolved_are_charged_whatever_order_handoffs_arrive_in(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    billing = per_resolution_billing(schema)
    service, clock, account, plan_set = billing.service, billing.clock, billing.account, billing.plan_set
    now = clock.now
    conversation_stream, inbox_stream = _conversation_stream(account, now), _inbox_stream(account)
    dead_letters = await end_offsets(bootstrap, INBOX_EVENTS + ".dlq", 1)
    states_from = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send(producer, BILLING_COMMANDS, plan_set, account)
        await eventually(lambda: plan_is_per_resolution(engine, schema, account), "the plan")
        for event in conversation_stream:
            await send_conversation(producer, event)
        for inbox in inbox_stream:
            await send(producer, INBOX_EVENTS, inbox, inbox_event_key(inbox.data))
        await eventually(lambda: has_entry(engine, schema, account, "refund", "thread:late"), "the late refund")
        # The inbox's topic is not ordered with the conversation's: its reassignment must be heard before the
        # quiet period ends for "taken" never to be charged (heard after, it is charged and refunded).
        await eventually(lambda: _handed_off(engine, schema, account, "taken"), "the reassignment heard")
        clock.now = now + timedelta(hours=2, minutes=5)  # past every thread's quiet period
        await eventually(lambda: has_entry(engine, schema, account, "usage", "thread:quiet"), "the quiet charge")
        refused = await collect_records(
            bootstrap,
            INBOX_EVENTS + ".dlq",
            until=lambda rs: any(inbox_stream[2].id.encode() in r.value for r in rs),
            timeout_seconds=20,
            from_offsets=dead_letters,
        )

    moves = [
        (e.kind, e.cause_id, e.amount) for e in await ledger(engine, schema, account) if e.kind in ("usage", "refund")
    ]
    assert sorted(moves) == [
        ("refund", "thread:late", 3),
        ("usage", "thread:agent", -3),
        ("usage", "thread:late", -3),
        ("usage", "thread:quiet", -3),
    ]
    assert any(inbox_stream[2].id.encode() in record.value for record in refused)
    await _states_count_the_refund_out(engine, schema, bootstrap, account, states_from)


async def _states_count_the_refund_out(
    engine: AsyncEngine, schema: str, bootstrap: str, account: str, offsets: dict[int, int]
) -> None:
    """Billing's states carry the credits used per day, the refund taken off: they add up to the period's use,
    up to the last state (three charges of 3, one refunded)."""
    async with engine.connect() as connection:
        version = await connection.scalar(
            text(f"""SELECT version FROM "{schema}".accounts WHERE account_id = :a"""), {"a": account}
        )

    def last_published(states: list[State]) -> bool:
        return any(state.version == version and "usage_by_day" in state.data for state in states)

    states = await credit_states(bootstrap, account, offsets, last_published)
    # The stack's own billing hears the same events for the account; one that predates the days sends none.
    counted = [
        (state.data["used_this_period"], sum(state.data["usage_by_day"].values()))
        for state in states
        if "usage_by_day" in state.data
    ]
    assert all(used == days for used, days in counted), counted
    assert (6, 6) in counted


def _conversation_stream(account: str, now: datetime) -> list[CloudEvent[ConversationEvent]]:
    """Threads the agent resolved (one whose handoff is heard late), handed off, taken in the inbox, quiet."""
    return [
        conversation_event(account, "agent", CONVERSATION_ANSWERED, now),
        conversation_event(account, "agent", CONVERSATION_RESOLVED, now + timedelta(minutes=1)),
        conversation_event(account, "late", CONVERSATION_ANSWERED, now),
        conversation_event(account, "late", CONVERSATION_RESOLVED, now + timedelta(minutes=2)),
        handed_off(account, "late", now + timedelta(minutes=1)),  # happened before the resolution, heard after
        conversation_event(account, "first", CONVERSATION_ANSWERED, now),
        handed_off(account, "first", now + timedelta(minutes=1)),
        conversation_event(account, "first", CONVERSATION_RESOLVED, now + timedelta(minutes=2)),
        conversation_event(account, "closed", CONVERSATION_ANSWERED, now),
        handed_off(account, "closed", now + timedelta(minutes=1)),
        conversation_event(account, "taken", CONVERSATION_ANSWERED, now),
        conversation_event(account, "quiet", CONVERSATION_ANSWERED, now),  # charged by the same quiet pass
    ]


def _inbox_stream(account: str) -> list[CloudEvent[Any]]:
    """A closing and a reassignment from the inbox, and a closing whose envelope names another account."""
    closed = ThreadClosed(
        account_id=account, thread_id="closed", closed_by=ClosedBy(kind="user", id="ada"), resolved=True
    )
    taken = ThreadReassigned(account_id=account, thread_id="taken", assignee=Assignee(kind="user", id="ada"))
    return [
        from_inbox(THREAD_CLOSED, closed),
        from_inbox(THREAD_REASSIGNED, taken),
        from_inbox(THREAD_CLOSED, closed.model_copy(update={"account_id": unique_name("other")}), account),
    ]


async def _handed_off(engine: AsyncEngine, schema: str, account: str, thread: str) -> bool:
    async with engine.connect() as connection:
        handed_off = await connection.scalar(
            text(f"""SELECT handed_off FROM "{schema}".threads WHERE account_id = :a AND thread_id = :t"""),
            {"a": account, "t": thread},
        )
    return bool(handed_off)
