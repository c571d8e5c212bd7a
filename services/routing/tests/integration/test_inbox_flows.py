"""Routing on the real stack: what the human inbox's close, reassign, return and presence do to threads and places."""

from __future__ import annotations

import json

import pytest
from customer_agent_shared.events.channels import Assignee
from customer_agent_shared.events.config import HandoffRule, HandoffTarget, HandoffTeam, HandoffUser
from customer_agent_shared.events.conversations import CONVERSATION_RESOLVED
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    THREAD_RETURNED,
    ClosedBy,
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
)
from customer_agent_shared.testing.kafka import collect_records, end_offsets, unique_name
from customer_agent_shared.topics import (
    CHANNELS_OUTBOUND,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_EVENTS,
    INBOX_EVENTS,
    INBOX_HANDOFFS,
)

from .routing_harness import WEB_DEPLOYMENT, Harness, count, of_thread

pytestmark = pytest.mark.integration


async def test_team_capacity_is_tracked_and_a_thread_the_inbox_closes_frees_a_place(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="team", id="sales")])
    await harness.configure(
        account,
        paused=True,
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])],
        teams=[HandoffTeam(id="sales", member_ids=["ada"], max_capacity=1)],
    )
    marks = await harness.marks()
    await harness.say(account, "first", "a1")
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 1)
    await harness.say(account, "second", "b1")  # the team is full now
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 2)
    await harness.conversation(CONVERSATION_RESOLVED, account, "second")  # conversation never closes a human's
    closed = ThreadClosed(
        account_id=account, thread_id="first", closed_by=ClosedBy(kind="user", id="ada"), resolved=True
    )
    await harness.inbox(THREAD_CLOSED, closed)
    await harness.thread_state(account, "first", "closed")
    await harness.say(account, "third", "c1")

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) == 3)
    # Different threads live on different partitions: compare per thread, not in reading order.
    assert {e.data["thread_id"]: e.data["assignee"] for e in handoffs} == {
        "first": {"kind": "team", "id": "sales"},
        "second": {"kind": "unassigned", "id": None},
        "third": {"kind": "team", "id": "sales"},
    }
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) == 3)
    assert {e.data["thread_id"]: e.data["text"] for e in outbound} == {
        "first": "[en] available",
        "second": "[en] at capacity",
        "third": "[en] available",
    }
    await harness.thread_state(account, "second", "unassigned")
    announced = await harness.read(CONVERSATIONS_EVENTS, marks, account, lambda es: len(es) == 3)
    assert {(e.data["thread_id"], e.type, e.data["reason"], e.key) for e in announced} == {
        (thread, "conversation.handed_off", "agent_paused", f"{account}:{thread}")
        for thread in ("first", "second", "third")
    }


async def test_a_reassigned_thread_moves_its_place_and_a_returned_thread_goes_back_to_the_agent(
    harness: Harness,
) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada"), HandoffTarget(kind="user", id="bo")])
    users = [HandoffUser(id="ada", paid_seat=True), HandoffUser(id="bo", paid_seat=True)]
    await harness.configure(
        account, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=users, paused=True
    )
    marks = await harness.marks()
    await harness.say(account, "t", "m1")  # paused: the least loaded of ada and bo, ada on a tie
    await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    await harness.inbox(
        THREAD_REASSIGNED, ThreadReassigned(account_id=account, thread_id="t", assignee=Assignee(kind="user", id="bo"))
    )
    # Inbox events and messages come on different topics: only once bo holds the thread is m2 his.
    await harness.thread_state(account, "t", "human", assignee_id="bo")
    await harness.say(account, "t", "m2")
    forwarded = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "t") == 1)
    assert [e.data["assignee"] for e in forwarded if e.type == "message.forwarded"] == [{"kind": "user", "id": "bo"}]
    await harness.say(account, "u", "n1")  # ada's place is free again and bo holds one: ada gets it
    handed = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "u") == 1)
    assert [e.data["assignee"] for e in of_thread(handed, "u")] == [{"kind": "user", "id": "ada"}]

    await harness.inbox(THREAD_RETURNED, ThreadReturned(account_id=account, thread_id="t"))
    await harness.thread_state(account, "t", "agent")
    await harness.say(account, "t", "m3")  # the agent's again, even while paused
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "t") == 1
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "t")] == ["m3"]


async def test_presence_makes_a_user_away_without_a_new_user_list_and_survives_one(harness: Harness) -> None:
    account = unique_name("acc")
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])
    deployment = WEB_DEPLOYMENT.model_copy(update={"handoff": rule})
    await harness.configure(account, channels=[deployment], users=[HandoffUser(id="ada", paid_seat=True)], paused=True)
    marks = await harness.marks()
    await harness.presence(account, "ada", available=False)
    await harness.configure(  # the admin saves the user list again: presence is not the config's field
        account, channels=[deployment], users=[HandoffUser(id="ada", paid_seat=True, available=True)], paused=True
    )
    await harness.say(account, "away", "a1")
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "away")) == 1)
    assert [e.data["text"] for e in of_thread(outbound, "away")] == ["[en] away"]
    await harness.presence(account, "ada", available=True)
    await harness.say(account, "back", "b1")
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(of_thread(es, "back")) == 1)
    assert [e.data["assignee"] for e in of_thread(handoffs, "away") + of_thread(handoffs, "back")] == [
        {"kind": "unassigned", "id": None},
        {"kind": "user", "id": "ada"},
    ]


async def test_an_inbox_event_naming_another_account_in_its_data_is_dead_lettered(harness: Harness) -> None:
    account = unique_name("acc")
    victim = unique_name("victim")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    dead_letters = await end_offsets(harness.servers, INBOX_EVENTS + ".dlq")
    event_id = await harness.inbox(
        THREAD_RETURNED, ThreadReturned(account_id=victim, thread_id="t"), envelope_account=account
    )
    records = await collect_records(
        harness.servers,
        INBOX_EVENTS + ".dlq",
        until=lambda rs: any(json.loads(r.value)["id"] == event_id for r in rs),
        timeout_seconds=20,
        from_offsets=dead_letters,
    )
    assert any(json.loads(r.value)["id"] == event_id for r in records)
