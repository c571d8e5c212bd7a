"""Routing's use cases in a batch (prepared together, then each handled in one transaction), on a fake unit of work:
what ``prepare`` works out once is what each event's ``handle`` uses."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.channels import Assignee, AssigneeKind
from customer_agent_shared.events.config import HandoffSettings, HandoffUser
from customer_agent_shared.events.conversations import CONVERSATION_HANDOFF_REQUESTED, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, EventParseError, RawCloudEvent, make_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    THREAD_RETURNED,
    USER_AVAILABILITY,
    ClosedBy,
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
    UserAvailability,
    inbox_event,
)
from routing_service.domain.decisions import Outcome
from routing_service.domain.ownership import ThreadState
from routing_service.handlers import inbox_events

from .harness import ACCOUNT, ADA, BO, NOW, Routing, conversation, message, raw_inbox_event, routing, to

PEOPLE = [HandoffUser(id="ada", paid_seat=True)]
PAIR = [HandoffUser(id="ada", paid_seat=True), HandoffUser(id="bo", paid_seat=True)]
TRIGGERS = HandoffSettings(triggers=["talk to a person"])


async def test_a_batch_reads_each_messages_account_once_and_decides_as_event_by_event() -> None:
    batched, alone = routing(), routing()
    for service in (batched, alone):
        await service.configure(to(ADA), users=PEOPLE, handoff=TRIGGERS)
    texts = ["talk to a person" if index % 10 == 0 else "hello" for index in range(100)]
    events = [message(f"t{index % 20}", f"m{index}", text) for index, text in enumerate(texts)]

    outcomes = await batched.route_batch(events)

    assert batched.directory.reads == 100  # once per message: prepare's read serves its handle
    assert outcomes == [await alone.say(f"t{index % 20}", f"m{index}", text) for index, text in enumerate(texts)]
    assert alone.directory.reads == 100
    assert {Outcome.HANDED_OFF, Outcome.FORWARDED_TO_INBOX, Outcome.ASSIGNED_TO_AGENT} <= set(outcomes)
    assert [(topic, key, event.type, event.data) for topic, key, event in batched.database.published] == [
        (topic, key, event.type, event.data) for topic, key, event in alone.database.published
    ]
    assert batched.loads() == alone.loads()


async def test_a_configuration_folded_between_prepare_and_handle_counts_from_the_next_batch() -> None:
    service = routing()
    await service.configure(to(ADA), users=PEOPLE)  # no trigger yet
    asked = message("t", "m1", "talk to a person")

    async with service.batch():
        await service.inbound.prepare([asked])
        # Folded by its own consumer meanwhile (in the fake, on the batch's tables).
        await service.configure(to(ADA), version=2, users=PEOPLE, handoff=TRIGGERS)
        decision = await service.inbound.handle(asked)

    assert decision is not None
    assert decision.outcome is Outcome.ASSIGNED_TO_AGENT  # on the view prepare read, as its holds were foreseen
    assert await service.route_batch([message("t", "m2", "talk to a person")]) == [Outcome.HANDED_OFF]


async def test_a_message_redone_on_its_own_after_its_batch_failed_is_judged_afresh() -> None:
    service = routing()
    await service.configure(to(ADA), users=PEOPLE)
    asked = message("t", "m1", "talk to a person")

    async def failing_batch() -> None:
        async with service.batch():
            await service.inbound.prepare([asked])
            raise RuntimeError("another event of the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    await service.configure(to(ADA), version=2, users=PEOPLE, handoff=TRIGGERS)

    decision = await service.inbound.handle(asked)

    assert decision is not None
    assert decision.outcome is Outcome.HANDED_OFF
    assert service.directory.reads == 2  # prepare's, rolled back with its batch, and its own


async def _people_hold(threads: list[str]) -> Routing:
    """Routing with ada and bo taking the account's new threads (paused), each of ``threads`` handed off."""
    service = routing()
    await service.configure(to(ADA, BO), paused=True, users=PAIR)
    for thread in threads:
        assert await service.say(thread, f"{thread}-1") is Outcome.HANDED_OFF
    return service


async def test_a_batch_parses_each_inbox_event_once_and_applies_it_as_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    parsed: list[str] = []

    def counted(raw: RawCloudEvent) -> CloudEvent[Any]:
        parsed.append(raw.id)
        return inbox_event(raw)

    monkeypatch.setattr(inbox_events, "inbox_event", counted)
    batched, alone = await _people_hold(["t1", "t2", "t3"]), await _people_hold(["t1", "t2", "t3"])
    closed_by_ada = ClosedBy(kind="user", id="ada")
    events = [
        raw_inbox_event(
            THREAD_CLOSED, ThreadClosed(account_id=ACCOUNT, thread_id="t1", closed_by=closed_by_ada, resolved=True)
        ),
        raw_inbox_event(
            THREAD_REASSIGNED,
            ThreadReassigned(account_id=ACCOUNT, thread_id="t2", assignee=Assignee(kind=AssigneeKind.USER, id="ada")),
        ),
        raw_inbox_event(THREAD_RETURNED, ThreadReturned(account_id=ACCOUNT, thread_id="t3")),
        raw_inbox_event(USER_AVAILABILITY, UserAvailability(account_id=ACCOUNT, user_id="bo", available=False)),
    ]

    assert await batched.inbox_batch(events) == [True] * 4
    assert parsed == [event.id for event in events]  # once each: prepare's parse serves its handle
    assert [await alone.inbox_events.handle(event) for event in events] == [True] * 4
    assert [batched.thread(thread) for thread in ("t1", "t2", "t3")] == [alone.thread(t) for t in ("t1", "t2", "t3")]
    assert batched.thread("t2") == (ThreadState.HUMAN, ADA)
    assert batched.loads() == alone.loads() == {ADA: 1}
    assert batched.database.tables.presence == alone.database.tables.presence


async def test_a_malformed_inbox_event_fails_its_batch_with_the_reason_it_has_on_its_own() -> None:
    service = await _people_hold(["t"])
    closed = ThreadClosed(account_id=ACCOUNT, thread_id="t", closed_by=ClosedBy(kind="user", id="ada"), resolved=True)
    closing = raw_inbox_event(THREAD_CLOSED, closed)
    returning = raw_inbox_event(THREAD_RETURNED, ThreadReturned(account_id=ACCOUNT, thread_id="t"))
    # As a help desk might send it: a reassignment to a user without the user's id.
    data = {"account_id": ACCOUNT, "thread_id": "t", "assignee": {"kind": "user"}}
    malformed = returning.model_copy(update={"type": THREAD_REASSIGNED, "data": data})

    with pytest.raises(EventParseError) as in_batch:
        await service.inbox_batch([closing, malformed])
    with pytest.raises(EventParseError) as alone:
        await service.inbox_events.handle(malformed)

    assert str(in_batch.value) == str(alone.value)  # the reason its dead letter carries
    assert "user's id" in str(alone.value)
    assert service.thread("t") == (ThreadState.HUMAN, ADA)  # nothing of the failed batch stayed
    assert await service.inbox_events.handle(closing)  # redone on its own, as the batch's events are
    assert service.thread("t")[0] is ThreadState.CLOSED


async def test_a_conversation_batch_holds_no_account_for_a_request_naming_another_in_its_data() -> None:
    service = routing()
    forged_data = ConversationEvent(account_id="acc-other", thread_id="t2", occurred_at=NOW)
    forged = make_event(CONVERSATION_HANDOFF_REQUESTED, forged_data, source="conversation", account_id=ACCOUNT)

    async with service.batch():
        await service.conversation.prepare([forged, conversation(CONVERSATION_HANDOFF_REQUESTED, "t1")])
        async with service.store() as uow:  # joined to the batch: its first hold
            foreseen = uow.loads.foreseen

    assert foreseen == {ACCOUNT}  # ``handle`` refuses the forged one: nothing is held for it
