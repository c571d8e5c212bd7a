"""Routing on the real stack, as a help desk relies on it: a person's thread gets each later visitor message once,
in order; the inbox's own choices are applied as made; what routing cannot apply changes nothing, and what is
malformed is dead-lettered with the reason."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import partial
from typing import Any

import pytest
from customer_agent_shared.events.channels import Assignee
from customer_agent_shared.events.config import HandoffRule, HandoffSettings, HandoffTarget, HandoffTeam, HandoffUser
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    THREAD_RETURNED,
    ClosedBy,
    InboxEventData,
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
)
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CHANNELS_INBOUND, CONVERSATIONS_ASSIGNED, INBOX_EVENTS, INBOX_HANDOFFS
from routing_service.adapters.orm import assignee_load_table, inbox_table, threads_table
from sqlalchemy import func, select

from .routing_harness import MESSAGES, WEB_DEPLOYMENT, Harness, Out, count, of_thread

pytestmark = pytest.mark.integration

TRIGGER = "let me talk to a person"


def _forwarded(events: list[Out], thread: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (event.data["message"]["message_id"], event.data["assignee"])
        for event in of_thread(events, thread)
        if event.type == "message.forwarded"
    ]


async def _loads(harness: Harness, account: str) -> dict[str, int]:
    query = select(assignee_load_table.c.assignee_id, assignee_load_table.c.open_threads).where(
        assignee_load_table.c.account_id == account
    )
    async with harness.service.kernel.session_factory() as session:
        return {row.assignee_id: row.open_threads for row in await session.execute(query)}


async def _handled(harness: Harness, event_ids: list[str]) -> bool:
    """Whether routing claimed every one of these inbox events (handled them, or found them handled before)."""
    query = select(func.count()).where(inbox_table.c.event_id.in_(event_ids))
    async with harness.service.kernel.session_factory() as session:
        return await session.scalar(query) == len(event_ids)


async def _threads(harness: Harness, account: str) -> int:
    query = select(func.count()).select_from(threads_table).where(threads_table.c.account_id == account)
    async with harness.service.kernel.session_factory() as session:
        return int(await session.scalar(query) or 0)


async def test_a_persons_thread_gets_each_later_message_once_in_order_never_the_agent(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])
    users = [HandoffUser(id="ada", paid_seat=True), HandoffUser(id="bo", paid_seat=True)]
    handoff = HandoffSettings(messages=MESSAGES, triggers=["talk to a person"])
    await harness.configure(
        account, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=users, handoff=handoff
    )
    marks = await harness.marks()
    await harness.say(account, "t", "m1", TRIGGER)
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    await harness.say(account, "t", "m2", "first")
    again = harness.inbound(account, "t", "m3", "second")
    await harness.send(CHANNELS_INBOUND, f"{account}:t", again)
    await harness.say(account, "t", "m2", "first")  # the provider re-published m2 under a new event id
    await harness.send(CHANNELS_INBOUND, f"{account}:t", again)  # and redelivered m3's event
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(_forwarded(es, "t")) >= 2)
    await harness.inbox(
        THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id="t", assignee=Assignee(kind="user", id="bo"))
    )
    await harness.thread_state(account, "t", "human", assignee_id="bo")
    await harness.say(account, "t", "m4", "third")
    await harness.inbox(
        THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id="t", assignee=Assignee(kind="unassigned"))
    )
    await harness.thread_state(account, "t", "unassigned")
    await harness.say(account, "t", "m5", "fourth")

    # m4 and m5 share the repeats' partition and come after them: routing handled the repeats before it forwarded
    # them, and a forward of a repeat, to ada or bo, would stand in this list.
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(_forwarded(es, "t")) >= 4)
    ada, bo, nobody = ({"kind": "user", "id": "ada"}, {"kind": "user", "id": "bo"}, {"kind": "unassigned", "id": None})
    assert _forwarded(handoffs, "t") == [("m2", ada), ("m3", ada), ("m4", bo), ("m5", nobody)]
    assert {event.key for event in handoffs} == {f"{account}:t"}
    assigned = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: False, wait_seconds=1)
    assert assigned == []  # the agent never saw the thread
    assert await _loads(harness, account) == {"ada": 0, "bo": 0}


async def test_the_inbox_may_give_a_thread_to_a_full_team_or_a_user_routing_does_not_know(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="team", id="sales")])
    await harness.configure(
        account,
        paused=True,  # every new thread is handed off by the rule
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])],
        teams=[HandoffTeam(id="sales", member_ids=["ada"], max_capacity=1)],
    )
    marks = await harness.marks()
    await harness.say(account, "t1", "a1")  # the team's only place
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t1") == 1)
    await harness.say(account, "t2", "b1")  # at capacity: the unassigned view
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t2") == 1)
    to_sales = ThreadReassigned(account_id=account, thread_id="t2", assignee=Assignee(kind="team", id="sales"))
    await harness.inbox(THREAD_REASSIGNED, to_sales)  # a person's choice: applied, and counted
    await harness.thread_state(account, "t2", "human", assignee_id="sales")
    await harness.presence(account, "ada", available=False)
    closed = ThreadClosed(account_id=account, thread_id="t1", closed_by=ClosedBy(kind="user", id="ada"), resolved=True)
    await harness.inbox(THREAD_CLOSED, closed)
    await harness.thread_state(account, "t1", "closed")
    await harness.say(account, "t2", "b2")  # ada is away: her team's thread still goes to her team
    to_ghost = ThreadReassigned(account_id=account, thread_id="t2", assignee=Assignee(kind="user", id="ghost"))
    await harness.inbox(THREAD_REASSIGNED, to_ghost)
    await harness.thread_state(account, "t2", "human", assignee_id="ghost")
    await harness.say(account, "t2", "b3")

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(_forwarded(es, "t2")) == 2)
    sales, ghost = {"kind": "team", "id": "sales"}, {"kind": "user", "id": "ghost"}
    assert _forwarded(handoffs, "t2") == [("b2", sales), ("b3", ghost)]
    assert await _loads(harness, account) == {"sales": 0, "ghost": 1}


async def test_inbox_events_routing_cannot_apply_change_nothing_and_free_no_place_twice(harness: Harness) -> None:
    account, stranger = unique_name("acc"), unique_name("unknown")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])
    deployment = WEB_DEPLOYMENT.model_copy(update={"handoff": rule})
    await harness.configure(account, paused=True, channels=[deployment], users=[HandoffUser(id="ada", paid_seat=True)])
    marks = await harness.marks()
    for thread in ("t1", "t2"):
        await harness.say(account, thread, f"{thread}-m1")
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 2)
    assert await _loads(harness, account) == {"ada": 2}
    by_ada = ClosedBy(kind="user", id="ada")
    to_ada = Assignee(kind="user", id="ada")
    ignored: list[tuple[str, InboxEventData]] = [
        (THREAD_CLOSED, ThreadClosed(account_id=account, thread_id="never-seen", closed_by=by_ada, resolved=True)),
        (THREAD_REASSIGNED, ThreadReassigned(account_id=stranger, thread_id="t1", assignee=to_ada)),
        (THREAD_RETURNED, ThreadReturned(account_id=stranger, thread_id="t1")),
    ]
    closed = ThreadClosed(account_id=account, thread_id="t1", closed_by=by_ada, resolved=True)
    unapplied = [await harness.inbox(event_type, data) for event_type, data in ignored]
    await harness.inbox(THREAD_CLOSED, closed)
    await harness.thread_state(account, "t1", "closed")
    # After the close, as a help desk might send them: the close again (a new id), a reassignment, a return.
    after_close: tuple[tuple[str, InboxEventData], ...] = (
        (THREAD_CLOSED, closed),
        (THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id="t1", assignee=to_ada)),
        (THREAD_RETURNED, ThreadReturned(account_id=account, thread_id="t1")),
    )
    unapplied += [await harness.inbox(event_type, data) for event_type, data in after_close]
    await eventually(partial(_handled, harness, unapplied), "routing handled the inbox events it cannot apply")
    assert await _loads(harness, account) == {"ada": 1}  # t2's place only
    await harness.say(account, "t1", "t1-m2")  # a new conversation: the pause hands it to ada again
    reopened = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t1") == 2)

    assert [event.data["reason"] for event in of_thread(reopened, "t1")] == ["agent_paused", "agent_paused"]
    assert await _loads(harness, account) == {"ada": 2}  # t2's place, and t1's taken again by its new conversation
    assert (await _threads(harness, account), await _threads(harness, stranger)) == (2, 0)


async def test_a_malformed_inbox_event_is_dead_lettered_with_the_reason(harness: Harness) -> None:
    account = unique_name("acc")
    dead_letters = await end_offsets(harness.servers, INBOX_EVENTS + ".dlq")
    malformed: dict[str, tuple[str, dict[str, Any]]] = {
        "no id": ("thread.reassigned", {"thread_id": "t", "assignee": {"kind": "user"}}),
        "unknown type": ("thread.snoozed", {"thread_id": "t"}),
        "no resolved": ("thread.closed", {"thread_id": "t", "closed_by": {"kind": "user", "id": "ada"}}),
    }
    ids = {}
    for case, (event_type, data) in malformed.items():
        ids[case] = f"inbox-{uuid.uuid4().hex}"
        event = {
            "specversion": "1.0",
            "id": ids[case],
            "source": "help-desk",
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "accountid": account,
            "data": {"account_id": account, **data},
        }
        await harness.producer.send_and_wait(INBOX_EVENTS, json.dumps(event).encode(), key=f"{account}:t".encode())
    ours = harness.service.kernel.settings.service_name

    def errors(records: list[Any]) -> dict[str, str]:
        found = {}
        for record in records:
            if record.headers.get("dlq-consumer") == ours:
                event_id = json.loads(record.value)["id"]
                found.update({case: record.headers["dlq-error"] for case, sent in ids.items() if sent == event_id})
        return found

    records = await collect_records(
        harness.servers,
        INBOX_EVENTS + ".dlq",
        until=lambda rs: len(errors(rs)) == len(ids),
        timeout_seconds=20,
        from_offsets=dead_letters,
    )
    reasons = errors(records)
    assert "user's id" in reasons["no id"]
    assert "thread.snoozed" in reasons["unknown type"]
    assert "resolved" in reasons["no resolved"]
