"""Batches of different topics that lock the same threads, on real PostgreSQL: each locks them in (account, thread)
order before its events, so two never wait for each other in a cycle (a deadlock PostgreSQL would end after a
second by rolling one back, to be redone event by event); its events take them as locked then, while an event
handled on its own locks its thread itself."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

import pytest
from customer_agent_shared.events.channels import Assignee, AssigneeKind
from customer_agent_shared.events.conversations import CONVERSATION_RESOLVED, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    ClosedBy,
    CloserKind,
    ThreadClosed,
    ThreadReassigned,
)
from customer_agent_shared.testing.kafka import unique_name
from routing_service.handlers.inbox_events import HandleInboxEvent

from . import assignment_support as support

pytestmark = pytest.mark.integration

# Far longer than a batch takes when nothing makes it wait, and than PostgreSQL's deadlock_timeout (1 s).
UNBLOCKED_SECONDS = 10
THREADS = ("t1", "t2")
INBOX_CONSUMER = "routing:inbox.events.v1"
THREAD_LOCK = re.compile(r"^SELECT .* FROM \S*\bthreads\b .*FOR UPDATE$")


def _to_the_team(account: str, thread: str) -> RawCloudEvent:
    """A person in the inbox gives the agent's thread to the team."""
    team = Assignee(kind=AssigneeKind.TEAM, id="support")
    return support.inbox_event(
        THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id=thread, assignee=team), account
    )


def _resolved(account: str, thread: str) -> CloudEvent[ConversationEvent]:
    """Conversation's quiet-period resolution of the thread."""
    data = ConversationEvent(account_id=account, thread_id=thread, occurred_at=datetime.now(UTC))
    return make_event(CONVERSATION_RESOLVED, data, source="conversation", account_id=account)


async def _with_the_agents_threads(units: support.Units) -> str:
    """A new account (its id) whose agent holds t1 and t2."""
    account = unique_name("acc")
    await support.configure(units, account)
    inbound, _ = support.use_cases(units)
    await support.give_agent(inbound, account, list(THREADS))
    return account


def _locking_t1_then_t2(units: support.Units, kind: str, account: str) -> tuple[Callable[[], Awaitable[None]], str]:
    """A batch of ``kind`` whose events come for t1, then t2 (and the name its batches are counted under): a
    visitor's message on each (which holds no account: a person's thread), or conversation's resolution of each
    (which changes nothing: conversation never heard that people took the threads, and resolved them once quiet,
    but only the inbox closes a person's thread)."""
    inbound, conversation = support.use_cases(units)
    consumer, service = support.batch_consumer(units)
    if kind == "inbound":
        messages = [support.message(account, thread, f"{thread}-m2", "hello") for thread in THREADS]
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
    sessions: support.Sessions, other: str, owners: tuple[str, str | None]
) -> None:
    units = support.units_of(sessions)
    account = await _with_the_agents_threads(units)
    reassigning = HandleInboxEvent(units, INBOX_CONSUMER)
    for thread in THREADS:  # people in the inbox give both to the team (conversation never hears of it)
        assert await reassigning.handle(_to_the_team(account, thread))
    pause = support.Pause(units)
    pausing = partial(support.PausingUnitOfWork, sessions, pause, at="threads")
    inbox = HandleInboxEvent(pausing, INBOX_CONSUMER)
    inbox_batches, inbox_service = support.batch_consumer(pausing)
    by_ada = ClosedBy(kind=CloserKind.USER, id="ada")
    closes = [
        support.inbox_event(
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
    counts = [
        (support.batch_count(service, "split"), support.batch_count(service, "committed")) for service in services
    ]
    assert counts == [(0, 1)] * 2
    # The inbox went first: the team's places are free, and the visitor's messages opened new conversations.
    assert await support.owners_and_loads(units, account) == ({owners: 2}, {"support": 0})


async def test_a_batch_locks_its_threads_once_and_an_event_on_its_own_locks_its_thread(
    sessions: support.Sessions,
) -> None:
    units = support.units_of(sessions)
    account = await _with_the_agents_threads(units)
    inbox = HandleInboxEvent(units, INBOX_CONSUMER)
    with support.statements(sessions) as alone:  # as each event of a batch that failed is redone
        assert await inbox.handle(_to_the_team(account, "t1"))
    batches, service = support.batch_consumer(units)
    by_ada = ClosedBy(kind=CloserKind.USER, id="ada")
    closed = ThreadClosed(account_id=account, thread_id="t1", closed_by=by_ada, resolved=True)
    batch = [_to_the_team(account, "t2"), support.inbox_event(THREAD_CLOSED, closed, account)]

    with support.statements(sessions) as batched:
        await batches.run(batch, inbox.handle, inbox_consumer=inbox.inbox_consumer, prepare=inbox.prepare)

    assert (support.batch_count(service, "split"), support.batch_count(service, "committed")) == (0, 1)
    assert [sum(1 for statement in sent if THREAD_LOCK.match(statement)) for sent in (alone, batched)] == [1, 1]
    owners = {("closed", "support"): 1, ("human", "support"): 1}  # t1 closed, t2 the team's
    assert await support.owners_and_loads(units, account) == (owners, {"support": 1})
