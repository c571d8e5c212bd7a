"""Routing's retention on real PostgreSQL: transcripts of threads closed or idle go, open ones stay whole up to
the hard cap; threads closed that long go too, and a message on one starts a new thread; threads left open and
untouched up to the cap go, freeing the places people held."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.channels import AssigneeKind, ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import AgentConfigSnapshot, ChannelDeployment
from customer_agent_shared.events.envelope import RawCloudEvent, make_event
from customer_agent_shared.events.inbox import THREAD_CLOSED, ClosedBy, CloserKind, ThreadClosed
from customer_agent_shared.persistence.retention import RetentionSweep
from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.orm import (
    threads_table,
    transcript_table,
    transitions_table,
)
from routing_service.domain.decisions import Outcome
from routing_service.domain.handoff import LoadKey
from routing_service.domain.ownership import ThreadState, Transition
from routing_service.handlers.inbound import RouteInboundMessage
from routing_service.handlers.inbox_events import HandleInboxEvent
from routing_service.handlers.retention import retentions
from routing_service.handlers.types import RetentionUnitOfWork
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from .assignment_support import Sessions, Units, statements, units_of

pytestmark = pytest.mark.integration

ACCOUNT = "acc-1"
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
DAYS = 30
MAX_DAYS = 365
WEB_DEPLOYMENT = ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web")


@pytest.fixture
def units(sessions: Sessions) -> Units:
    """Units of work over a freshly migrated scratch schema."""
    return units_of(sessions)


def _visitor(thread_id: str, message_id: str, at: datetime, account_id: str = ACCOUNT) -> MessageReceived:
    return MessageReceived(
        account_id=account_id,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread_id,
        message_id=message_id,
        sender=Sender(id="v1"),
        text=f"visitor says {message_id}",
        sent_at=at,
    )


async def _message(units: Units, thread_id: str, message_id: str, at: datetime, account_id: str = ACCOUNT) -> None:
    """What a channel provider's message leaves: its transcript entry and the thread, changed at ``at``."""
    message = _visitor(thread_id, message_id, at, account_id)
    async with units() as uow:
        assert await uow.threads.receive(message, sent_at=at, now=at) is not None
        await uow.transcripts.record(
            account_id, thread_id, entry_key=f"answer:{message_id}", role="agent", text="an answer", at=at
        )
        await uow.commit()


async def _held(units: Units, thread_id: str, holder: LoadKey, at: datetime, account_id: str = ACCOUNT) -> None:
    """A visitor's thread handed to ``holder`` at ``at``, taking one of its places."""
    await _message(units, thread_id, "m1", at, account_id)
    async with units() as uow:
        thread = await uow.threads.lock(account_id, thread_id)
        assert thread is not None
        thread.state, (thread.assignee_kind, thread.assignee_id) = ThreadState.HUMAN, holder
        await uow.threads.save(thread, at)
        await uow.loads.change(account_id, holder, +1)
        await uow.commit()


async def _loads(units: Units, account_id: str) -> dict[str, int]:
    async with units() as uow:
        return {assignee_id: load for (_, assignee_id), load in (await uow.loads.loads(account_id)).items()}


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


async def _closed(units: Units, thread_id: str, at: datetime) -> None:
    """A thread the agent answered and conversation resolved, all at ``at``."""
    await _message(units, thread_id, "m1", at)
    await _move(units, thread_id, ThreadState.AGENT, at)
    await _move(units, thread_id, ThreadState.CLOSED, at)


def _sweep(units: Units, schema: str) -> RetentionSweep[RetentionUnitOfWork]:
    policy = retentions(transcript_days=DAYS, transcript_max_days=MAX_DAYS, transition_days=DAYS)
    return RetentionSweep("routing-test", units, policy, schema=schema, interval_seconds=0)


async def _threads(units: Units) -> set[str]:
    async with units() as uow:
        return set((await uow.session.execute(select(threads_table.c.thread_id))).scalars())


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
    # The abandoned thread goes at the cap with its two entries (counted as a thread).
    assert deleted == {"transcript_entries": 2 + 2 + 1, "threads": 2, "thread_transitions": 2 + 1 + 2 + 1 + 2}
    assert await sweep.run_once(NOW) == {"transcript_entries": 0, "threads": 0, "thread_transitions": 0}
    assert await _threads(units) == {"agent-idle", "with-a-person", "written-again", "closed-lately"}


async def test_a_message_on_a_deleted_thread_starts_a_new_one(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    await _closed(units, "closed-long-ago", NOW - timedelta(days=MAX_DAYS + 1))
    async with units() as uow:  # an answer replayed long after the close: neither other retention reaches it
        await uow.transcripts.record(
            ACCOUNT, "closed-long-ago", entry_key="answer:late", role="agent", text="hi", at=NOW - timedelta(days=1)
        )
        await uow.accounts.save_config(
            AgentConfigSnapshot(account_id=ACCOUNT, version=1, updated_at=NOW, channels=[WEB_DEPLOYMENT])
        )
        await uow.commit()

    assert (await _sweep(units, scratch_schema[1]).run_once(NOW))["threads"] == 1
    assert await _kept(units) == (set(), set())  # the thread took its late answer along

    inbound = RouteInboundMessage(units, AccountDirectory(ttl_seconds=0), "routing:inbound", clock=lambda: NOW)
    message = _visitor("closed-long-ago", "m2", NOW)
    decision = await inbound.handle(make_event("message.received", message, source="provider", account_id=ACCOUNT))
    assert decision is not None
    assert (decision.outcome, decision.new_thread) == (Outcome.ASSIGNED_TO_AGENT, True)
    async with units() as uow:
        thread = await uow.threads.lock(ACCOUNT, "closed-long-ago")
    assert thread is not None
    assert (thread.state, thread.messages) == (ThreadState.AGENT, 1)


async def test_a_closed_thread_a_message_is_reopening_stays(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    await _closed(units, "reopened", NOW - timedelta(days=DAYS + 10))

    async with units() as routing:  # a visitor's new message holds the thread until its decision commits
        assert await routing.threads.receive(_visitor("reopened", "m2", NOW), sent_at=NOW, now=NOW) is not None
        sweeping = asyncio.create_task(_sweep(units, scratch_schema[1]).run_once(NOW))
        # Bounded: a sweep that waits for the thread finishes once the message commits, checked below.
        await asyncio.wait({sweeping}, timeout=10)
        waited = not sweeping.done()
        await routing.commit()
    deleted = await sweeping

    assert deleted["threads"] == 0
    assert await _threads(units) == {"reopened"}
    assert not waited  # it skipped the thread in use rather than hold up the sweep (and the table's lock)


async def test_threads_left_open_and_untouched_up_to_the_cap_go_freeing_the_places_people_held(
    units: Units, sessions: Sessions, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    ancient, within = NOW - timedelta(days=MAX_DAYS + 1), NOW - timedelta(days=MAX_DAYS - 1)
    team, ada = (AssigneeKind.TEAM, "support"), (AssigneeKind.USER, "ada")
    for thread_id in ("left-with-the-team", "left-with-the-team-too"):
        await _held(units, thread_id, team, ancient)
    await _held(units, "held-lately", team, within)
    for thread_id, state in (("left-unassigned", ThreadState.UNASSIGNED), ("left-with-the-agent", ThreadState.AGENT)):
        await _message(units, thread_id, "m1", ancient)
        await _move(units, thread_id, state, ancient)
    busy, other = "acc-busy", "acc-other"
    await _held(units, "left-with-ada", ada, ancient, busy)
    await _held(units, "left-with-ada", ada, ancient, other)
    sweep = _sweep(units, scratch_schema[1])

    async with units() as handing_off:  # another transaction assigning in the busy account meanwhile
        await handing_off.loads.wait_for_assignments([busy])
        with statements(sessions) as sent:
            first = await asyncio.wait_for(sweep.run_once(NOW), timeout=10)  # it never waits for the account
        await handing_off.commit()
    second = await sweep.run_once(NOW)

    assert (first["threads"], second["threads"]) == (5, 1)
    assert await _threads(units) == {"held-lately"}
    loads = [await _loads(units, account_id) for account_id in (ACCOUNT, other, busy)]
    assert loads == [{"support": 1}, {"ada": 0}, {"ada": 0}]  # the team's two places freed at once
    # The three accounts' assignments tried in one statement, the loads of both free ones changed in one.
    assert len([statement for statement in sent if "unnest" in statement and "pg_try_advisory" in statement]) == 1
    assert [statement.split()[0] for statement in sent if "assignee_load" in statement] == ["UPDATE"]
    # The inbox closing a forgotten thread at last frees no place twice.
    inbox = HandleInboxEvent(units, "routing:inbox.events.v1")
    closed = ThreadClosed(
        account_id=ACCOUNT,
        thread_id="left-with-the-team",
        closed_by=ClosedBy(kind=CloserKind.TEAM, id="support"),
        resolved=False,
    )
    event = make_event(THREAD_CLOSED, closed, source="inbox", account_id=ACCOUNT)
    assert not await inbox.handle(RawCloudEvent.model_validate(event.model_dump(mode="json")))
    assert await _loads(units, ACCOUNT) == {"support": 1}
