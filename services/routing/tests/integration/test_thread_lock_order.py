"""Batches of different topics that lock the same threads, on real PostgreSQL: each locks them in (account, thread)
order before its events, so two never wait for each other in a cycle (a deadlock PostgreSQL would end after a
second by rolling one back, to be redone event by event)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import pytest
from customer_agent_shared.events.conversations import CONVERSATION_RESOLVED, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.inbox import THREAD_CLOSED, ClosedBy, CloserKind, ThreadClosed
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from routing_service.adapters.orm import SCHEMA
from routing_service.bootstrap import MIGRATIONS_DIR
from routing_service.handlers.inbox_events import HandleInboxEvent
from sqlalchemy.ext.asyncio import AsyncEngine

from .assignment_support import (
    Pause,
    PausingUnitOfWork,
    Sessions,
    Units,
    batch_consumer,
    batch_count,
    configure,
    give_agent,
    handoff_request,
    inbox_event,
    message,
    owners_and_loads,
    units_of,
    use_cases,
)

pytestmark = pytest.mark.integration

# Far longer than a batch takes when nothing makes it wait, and than PostgreSQL's deadlock_timeout (1 s).
UNBLOCKED_SECONDS = 10
THREADS = ("t1", "t2")


@pytest.fixture
async def sessions(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> AsyncIterator[Sessions]:
    """Sessions over a freshly migrated scratch schema."""
    engine = create_database_engine(infrastructure.database_url, pool_size=6)
    yield await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=scratch_schema[1], service_schema=SCHEMA
    )
    await engine.dispose()


def _resolved(account: str, thread: str) -> CloudEvent[ConversationEvent]:
    """Conversation's quiet-period resolution of the thread."""
    data = ConversationEvent(account_id=account, thread_id=thread, occurred_at=datetime.now(UTC))
    return make_event(CONVERSATION_RESOLVED, data, source="conversation", account_id=account)


def _locking_t1_then_t2(units: Units, kind: str, account: str) -> tuple[Callable[[], Awaitable[None]], str]:
    """A batch of ``kind`` whose events come for t1, then t2 (and the name its batches are counted under): a
    visitor's message on each (which holds no account: a person's thread), or conversation's resolution of each
    (which changes nothing: a person's thread)."""
    inbound, conversation = use_cases(units)
    consumer, service = batch_consumer(units)
    if kind == "inbound":
        messages = [message(account, thread, f"{thread}-m2", "hello") for thread in THREADS]
        run = partial(
            consumer.run, messages, inbound.handle, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare
        )
        return run, service
    resolutions = [_resolved(account, thread) for thread in THREADS]
    run = partial(
        consumer.run,
        resolutions,
        conversation.handle,
        inbox_consumer=conversation.inbox_consumer,
        prepare=conversation.prepare,
    )
    return run, service


@pytest.mark.parametrize(("other", "owners"), [("inbound", ("agent", None)), ("conversation", ("closed", "support"))])
async def test_an_inbox_batch_and_another_whose_events_come_in_the_opposite_order_never_deadlock(
    sessions: Sessions, other: str, owners: tuple[str, str | None]
) -> None:
    units = units_of(sessions)
    account = unique_name("acc")
    await configure(units, account)
    inbound, conversation = use_cases(units)
    await give_agent(inbound, account, list(THREADS))
    for thread in THREADS:  # the team takes both
        assert await conversation.handle(handoff_request(account, thread))
    pause = Pause(units)
    pausing = partial(PausingUnitOfWork, sessions, pause, at="threads")
    inbox = HandleInboxEvent(pausing, "routing:inbox.events.v1")
    inbox_batches, inbox_service = batch_consumer(pausing)
    by_ada = ClosedBy(kind=CloserKind.USER, id="ada")
    closes = [
        inbox_event(
            THREAD_CLOSED, ThreadClosed(account_id=account, thread_id=thread, closed_by=by_ada, resolved=True), account
        )
        for thread in reversed(THREADS)
    ]

    # The inbox batch locks t2 for its first event, then pauses until the other batch waits for it; then it locks
    # t1 for its second. Had the other locked t1 before it waited for t2, each would wait for the other.
    closing = asyncio.create_task(
        inbox_batches.run(closes, inbox.handle, inbox_consumer=inbox.inbox_consumer, prepare=inbox.prepare)
    )
    await asyncio.wait_for(pause.reached.wait(), timeout=UNBLOCKED_SECONDS)
    run_other, other_service = _locking_t1_then_t2(units, other, account)
    await asyncio.wait_for(asyncio.gather(closing, run_other()), timeout=UNBLOCKED_SECONDS)

    services = (inbox_service, other_service)
    assert [(batch_count(service, "split"), batch_count(service, "committed")) for service in services] == [(0, 1)] * 2
    # The inbox went first: the team's places are free, and the visitor's messages opened new conversations.
    assert await owners_and_loads(units, account) == ({owners: 2}, {"support": 0})
