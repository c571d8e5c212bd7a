"""The accounts' assignment locks on real PostgreSQL are taken only where assignments need them: a message
forwarded to a person takes none, a thread whose state changes after it was read still gets its account, and
an inbox action that frees a place waits for a handoff batch of its account before it locks any row."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from functools import partial
from typing import Any, TypeVar

import pytest
from customer_agent_shared.events.channels import MessageReceived
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    USER_AVAILABILITY,
    ClosedBy,
    CloserKind,
    ThreadClosed,
    UserAvailability,
)
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from routing_service.adapters.orm import inbox_table, outbox_table
from routing_service.adapters.repositories import ThreadRepository
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.domain.decisions import Decision, Outcome
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.inbox_events import HandleInboxEvent
from sqlalchemy.ext.asyncio import AsyncSession

from .assignment_support import (
    TRIGGER,
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

# Far longer than routing a few messages takes when nothing makes it wait.
UNBLOCKED_SECONDS = 10
Change = Callable[[Collection[tuple[str, str]]], Awaitable[None]]
E = TypeVar("E")


@pytest.fixture
def other_sessions(sessions: Sessions) -> Sessions:
    """Other sessions over the same scratch schema: a unit of work of these opened inside a batch of ``sessions``
    has a transaction of its own (as another consumer's would)."""
    return create_session_factory(sessions.kw["bind"])


async def _paused_with_a_thread_of_the_team(units: Units, account: str, thread: str) -> None:
    """The account paused; a visitor's first message hands the new thread to the team."""
    await configure(units, account, paused=True)
    inbound, _ = use_cases(units)
    first = await inbound.handle(message(account, thread, f"{thread}-m1", "hello"))
    assert first is not None
    assert first.outcome is Outcome.HANDED_OFF


async def test_messages_forwarded_to_a_person_take_no_assignment_lock_while_the_account_is_paused(
    sessions: Sessions,
) -> None:
    units = units_of(sessions)
    account = unique_name("acc")
    await _paused_with_a_thread_of_the_team(units, account, "t1")
    inbound, _ = use_cases(units)
    consumer, service = batch_consumer(units)
    decisions: list[Decision | None] = []

    async def route(event: CloudEvent[MessageReceived]) -> None:
        decisions.append(await inbound.handle(event))

    async with units() as holder:  # another transaction assigning in the account all along
        await holder.loads.wait_for_assignments([account])
        batch = [message(account, "t1", "t1-m2", "hello"), message(account, "t1", "t1-m3", TRIGGER)]
        run = consumer.run(batch, route, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare)
        await asyncio.wait_for(run, timeout=UNBLOCKED_SECONDS)
        await asyncio.wait_for(route(message(account, "t1", "t1-m4", "hello")), timeout=UNBLOCKED_SECONDS)

    assert [decision.outcome if decision else None for decision in decisions] == [Outcome.FORWARDED_TO_INBOX] * 3
    assert (batch_count(service, "split"), batch_count(service, "committed")) == (0, 1)


class ChangedOnceRead(ThreadRepository):
    """The real repository; right after it reads threads' states, ``change`` runs."""

    def __init__(self, session: AsyncSession, *, kept: dict[Any, Any], change: Change) -> None:
        super().__init__(session, kept=kept)
        self._change = change

    async def states(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], ThreadState]:
        """The states as read, before ``change``."""
        found = await super().states(keys)
        await self._change(keys)
        return found


class ChangedOnceReadUnitOfWork(RoutingUnitOfWork):
    """Routing's unit of work with ``ChangedOnceRead``."""

    def __init__(self, sessions: Sessions, change: Change) -> None:
        super().__init__(sessions, outbox=outbox_table, inbox=inbox_table)
        self._change = change

    def on_begin(self) -> None:
        """The repositories; the threads' changed once read."""
        super().on_begin()
        self.threads = ChangedOnceRead(self.session, kept=self.transaction_cache("threads"), change=self._change)


def _closing_once(inbox: HandleInboxEvent, then: Callable[[], Awaitable[None]] | None) -> Change:
    """Closes the threads from the inbox the first time it is called, then calls ``then``."""
    done: list[bool] = []

    async def close(keys: Collection[tuple[str, str]]) -> None:
        if done:
            return
        done.append(True)
        for account, thread in keys:
            closed = ThreadClosed(
                account_id=account, thread_id=thread, closed_by=ClosedBy(kind=CloserKind.USER, id="ada"), resolved=True
            )
            event = make_event(THREAD_CLOSED, closed, source="inbox", account_id=account)
            assert await inbox.handle(RawCloudEvent.model_validate(event.model_dump(mode="json")))
        if then is not None:
            await then()

    return close


@pytest.mark.parametrize("held_elsewhere", [False, True])
async def test_a_thread_closed_after_its_state_was_read_is_handed_off_taking_its_account_then(
    sessions: Sessions, other_sessions: Sessions, held_elsewhere: bool
) -> None:
    units = units_of(sessions)
    account = unique_name("acc")
    await _paused_with_a_thread_of_the_team(units, account, "t1")
    decisions: list[Decision | None] = []
    batch = [message(account, "t1", "t1-m2", "hello"), message(account, "t1", "t1-m3", "hello")]
    async with units() as holder:
        # The batch reads t1's state (a person holds it: nothing to take), then the inbox closes t1 before the
        # batch locks it: the message opens a new conversation, which the pause hands off. Another transaction
        # may then take the account's assignments (the close, which frees a place, waits for none held).
        hold = partial(holder.loads.wait_for_assignments, [account]) if held_elsewhere else None
        close = _closing_once(HandleInboxEvent(units_of(other_sessions), "routing:inbox.events.v1"), hold)
        changing = partial(ChangedOnceReadUnitOfWork, sessions, close)
        inbound, _ = use_cases(changing)
        consumer, service = batch_consumer(changing)

        async def route(event: CloudEvent[MessageReceived]) -> None:
            decisions.append(await inbound.handle(event))

        run = asyncio.create_task(
            consumer.run(batch, route, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare)
        )
        if held_elsewhere:
            # Taken elsewhere: the batch, its thread's row locked by then, does not wait for it but is redone event
            # by event; the first message, reading its thread closed, waits for the account before locking it.
            await eventually(partial(_split, service), "the batch split")
            await holder.commit()
        await asyncio.wait_for(run, timeout=UNBLOCKED_SECONDS)

    assert [decision.outcome if decision else None for decision in decisions] == [
        Outcome.HANDED_OFF,
        Outcome.FORWARDED_TO_INBOX,
    ]
    assert (batch_count(service, "split"), batch_count(service, "committed")) == (
        int(held_elsewhere),
        int(not held_elsewhere),
    )
    assert await owners_and_loads(units, account) == ({("human", "support"): 1}, {"support": 1})


async def _split(service: str) -> float:
    return batch_count(service, "split")


def _recording(handle: Callable[[E], Awaitable[object]], errors: list[Exception]) -> Callable[[E], Awaitable[None]]:
    async def run(event: E) -> None:
        try:
            await handle(event)
        except Exception as error:
            errors.append(error)
            raise

    return run


@pytest.mark.parametrize("inbox_batch", [True, False])
async def test_an_inbox_event_freeing_a_place_waits_for_a_handoff_batch_of_its_account_without_deadlock(
    sessions: Sessions, inbox_batch: bool
) -> None:
    units = units_of(sessions)
    account = unique_name("acc")
    await configure(units, account)
    inbound, conversation = use_cases(units)
    await give_agent(inbound, account, ["t1", "t2"])
    assert await conversation.handle(handoff_request(account, "t1"))  # t1 is the team's: one place taken
    pause = Pause(units)
    pausing = partial(PausingUnitOfWork, sessions, pause, at="loads")
    _, handoffs = use_cases(pausing)
    handoff_batches, handoff_service = batch_consumer(pausing)
    inbox = HandleInboxEvent(units, "routing:inbox.events.v1")
    inbox_batches, inbox_service = batch_consumer(units)
    errors: list[Exception] = []
    closed = ThreadClosed(
        account_id=account, thread_id="t1", closed_by=ClosedBy(kind=CloserKind.USER, id="ada"), resolved=True
    )
    present = UserAvailability(account_id=account, user_id="ada", available=True)
    inbox_events = [inbox_event(THREAD_CLOSED, closed, account)]
    if inbox_batch:
        inbox_events.append(inbox_event(USER_AVAILABILITY, present, account))

    # The handoff batch takes the team's second place (t2), then pauses, holding the team's load row, until the
    # inbox's close of t1 waits for it; then it locks t1 (a late request for a thread a person holds, ignored).
    # Were the close to lock t1 before it waits, each would wait for the other.
    handing_off = asyncio.create_task(
        handoff_batches.run(
            [handoff_request(account, "t2"), handoff_request(account, "t1")],
            _recording(handoffs.handle, errors),
            inbox_consumer=handoffs.inbox_consumer,
            prepare=handoffs.prepare,
        )
    )
    await asyncio.wait_for(pause.reached.wait(), timeout=UNBLOCKED_SECONDS)
    closing = inbox_batches.run(
        inbox_events, _recording(inbox.handle, errors), inbox_consumer=inbox.inbox_consumer, prepare=inbox.prepare
    )
    await asyncio.wait_for(asyncio.gather(handing_off, closing), timeout=UNBLOCKED_SECONDS)

    assert errors == []
    assert [batch_count(service, "split") for service in (handoff_service, inbox_service)] == [0, 0]
    owners = {("human", "support"): 1, ("closed", "support"): 1}  # t2 the team's, t1 closed
    assert await owners_and_loads(units, account) == (owners, {"support": 1})
