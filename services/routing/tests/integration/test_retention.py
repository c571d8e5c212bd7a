"""Routing's retention on real PostgreSQL: transcripts of threads closed or idle go, open ones stay whole up to
the hard cap."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.persistence.retention import RetentionSweep
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import migrated_sessions
from routing_service.adapters.orm import SCHEMA, inbox_table, outbox_table, transcript_table, transitions_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.bootstrap import MIGRATIONS_DIR
from routing_service.domain.ownership import ThreadState, Transition
from routing_service.handlers.retention import retentions
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

ACCOUNT = "acc-1"
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
DAYS = 30
MAX_DAYS = 365
Units = Callable[[], RoutingUnitOfWork]


@pytest.fixture
async def units(infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]) -> Units:
    """Units of work over a freshly migrated scratch schema."""
    engine, schema = scratch_schema
    sessions = await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=schema, service_schema=SCHEMA
    )
    return lambda: RoutingUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)


async def _message(units: Units, thread_id: str, message_id: str, at: datetime) -> None:
    """What a channel provider's message leaves: its transcript entry and the thread, changed at ``at``."""
    message = MessageReceived(
        account_id=ACCOUNT,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread_id,
        message_id=message_id,
        sender=Sender(id="v1"),
        text=f"visitor says {message_id}",
        sent_at=at,
    )
    async with units() as uow:
        assert await uow.threads.receive(message, sent_at=at, now=at) is not None
        await uow.transcripts.record(
            ACCOUNT, thread_id, entry_key=f"answer:{message_id}", role="agent", text="an answer", at=at
        )
        await uow.commit()


async def _move(units: Units, thread_id: str, state: ThreadState, at: datetime) -> None:
    """The thread's owner changes to ``state`` at ``at``, recorded as a transition."""
    async with units() as uow:
        thread = await uow.threads.lock(ACCOUNT, thread_id)
        assert thread is not None
        step = Transition(thread.state, state)
        thread.state = state
        await uow.threads.save(thread, at)
        await uow.threads.record_transitions(
            thread, (step,), cause_event_id=f"e-{thread_id}-{state}", cause_event_type="test", reason=None, at=at
        )
        await uow.commit()


async def _kept(units: Units) -> tuple[set[tuple[str, str]], set[str]]:
    """(thread, entry key) of every transcript entry, and the cause of every transition."""
    async with units() as uow:
        entries = await uow.session.execute(select(transcript_table.c.thread_id, transcript_table.c.entry_key))
        causes = await uow.session.execute(select(transitions_table.c.cause_event_id))
    return {(row.thread_id, row.entry_key) for row in entries}, set(causes.scalars())


async def test_transcripts_of_threads_closed_or_idle_go_open_threads_keep_every_entry_until_the_cap(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    old, ancient = NOW - timedelta(days=DAYS + 10), NOW - timedelta(days=MAX_DAYS + 1)
    for thread_id in ("closed-long-ago", "agent-idle", "with-a-person", "written-again", "closed-lately"):
        await _message(units, thread_id, "m1", old)
    await _move(units, "closed-long-ago", ThreadState.AGENT, old)
    await _move(units, "closed-long-ago", ThreadState.CLOSED, NOW - timedelta(days=DAYS + 1))
    await _move(units, "agent-idle", ThreadState.AGENT, old)
    await _move(units, "with-a-person", ThreadState.HANDOFF_PENDING, old)
    await _move(units, "with-a-person", ThreadState.HUMAN, old)
    await _message(units, "written-again", "m2", NOW - timedelta(days=1))
    await _move(units, "closed-lately", ThreadState.AGENT, old)
    await _move(units, "closed-lately", ThreadState.CLOSED, NOW - timedelta(days=DAYS - 1))
    await _message(units, "abandoned", "m1", ancient)  # handed to people who never closed it
    await _move(units, "abandoned", ThreadState.HANDOFF_PENDING, ancient)
    await _move(units, "abandoned", ThreadState.UNASSIGNED, ancient)
    async with units() as uow:  # answers on a thread routing never routed (a test's): they go at the cap
        await uow.transcripts.record(ACCOUNT, "unrouted", entry_key="answer:x", role="agent", text="hi", at=old)
        await uow.transcripts.record(ACCOUNT, "unrouted", entry_key="answer:y", role="agent", text="hi", at=ancient)
        await uow.commit()
    policy = retentions(transcript_days=DAYS, transcript_max_days=MAX_DAYS, transition_days=DAYS)
    sweep = RetentionSweep("routing-test", units, policy, schema=scratch_schema[1], interval_seconds=0, batch=3)

    deleted = await sweep.run_once(NOW)

    entries, causes = await _kept(units)
    open_or_recent = {
        ("with-a-person", "message:m1"),  # waiting for a person, within the cap
        ("with-a-person", "answer:m1"),
        ("written-again", "message:m1"),  # the thread's old entries stay while it is in use
        ("written-again", "answer:m1"),
        ("written-again", "message:m2"),
        ("written-again", "answer:m2"),
        ("closed-lately", "message:m1"),
        ("closed-lately", "answer:m1"),
        ("unrouted", "answer:x"),
    }
    assert entries == open_or_recent
    assert causes == {"e-closed-lately-closed"}  # every other change of owner is older than the retention
    assert deleted == {"transcript_entries": 2 + 2 + 2 + 1, "thread_transitions": 2 + 1 + 2 + 1 + 2}
    assert await sweep.run_once(NOW) == {"transcript_entries": 0, "thread_transitions": 0}
