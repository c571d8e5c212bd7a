"""The human inbox closes the loop (issue 29): a team at capacity gets a place back when the inbox closes a
thread, every handoff shows in the performance figures with its reason, and only the agent's threads cost
credits. The inbox's events are driven over Kafka only, as a help desk would publish them."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.testing.kafka import committed_offsets, end_offsets
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient, ChannelProvider

pytestmark = pytest.mark.e2e
T = TypeVar("T")

INBOX_EVENTS = "inbox.events.v1"
BOOTSTRAP_SERVERS = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
# The events billing meters, by the consumer group (its default prefix) that reads each.
METERED = {"conversations.events.v1": "billing.conversations.events.v1", INBOX_EVENTS: "billing.inbox.events.v1"}


class HelpDesk:
    """Publishes inbox.events.v1 exactly as the external contract pins them."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def publish(self, account_id: str, event_type: str, key: str, data: dict[str, Any]) -> None:
        """One CloudEvent on inbox.events.v1, keyed per thread (or per user for presence)."""
        event = {
            "specversion": "1.0",
            "id": f"inbox-{uuid.uuid4().hex}",
            "source": "e2e-help-desk",
            "type": event_type,
            "time": datetime.now(UTC).isoformat(),
            "datacontenttype": "application/json",
            "accountid": account_id,
            "data": {"account_id": account_id, **data},
        }
        await self._producer.send_and_wait(INBOX_EVENTS, json.dumps(event).encode(), key=key.encode())

    async def close(self, account_id: str, thread_id: str, *, by_user: str) -> None:
        """A person closes a thread, resolved."""
        closed_by = {"kind": "user", "id": by_user}
        data = {"thread_id": thread_id, "closed_by": closed_by, "resolved": True}
        await self.publish(account_id, "thread.closed", f"{account_id}:{thread_id}", data)

    async def reassign(self, account_id: str, thread_id: str, assignee: dict[str, Any]) -> None:
        """A person gives a thread to a user, a team or the unassigned view."""
        data = {"thread_id": thread_id, "assignee": assignee}
        await self.publish(account_id, "thread.reassigned", f"{account_id}:{thread_id}", data)

    async def give_back(self, account_id: str, thread_id: str) -> None:
        """A person hands a thread back to the agent."""
        await self.publish(account_id, "thread.returned", f"{account_id}:{thread_id}", {"thread_id": thread_id})


@pytest.fixture
async def help_desk() -> AsyncIterator[HelpDesk]:
    """A help desk with its own Kafka producer."""
    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP_SERVERS, acks="all")
    await producer.start()
    yield HelpDesk(producer)
    await producer.stop()


async def set_up_team_at_capacity_one(admin: AdminClient) -> None:
    """One user in a team that takes one thread at a time; the web channel hands off to the team; once routing
    has all of it."""
    await admin.call(
        "PUT",
        "/users",
        json=[{"id": "u-ada", "name": "Ada", "paid_seat": True, "available": True, "team_ids": ["t-sales"]}],
    )
    await admin.call(
        "PUT", "/teams", json=[{"id": "t-sales", "name": "Sales", "member_ids": ["u-ada"], "max_capacity": 1}]
    )
    handoff = {"mode": "handoff", "assign_to": [{"kind": "team", "id": "t-sales"}], "update_avatar": False}
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": "web", "handoff": handoff})
    await admin.call("PUT", "/handoff", json={"triggers": ["speak to a human"], "messages": {}})
    short = await admin.call(
        "POST",
        "/sources",
        json={"kind": "short_answer", "question": "Do you have a physical store?", "answer": "No, only online."},
    )
    await admin.wait_source_ready(short["id"])
    await admin.keep_credit_resets_away()  # the tests compare this period's credits used
    # The triggers came last: once routing hands off on one (to the team), it has the people and the channel too.
    await admin.wait_for_routing("trigger", text="I want to speak to a human")


async def test_closing_a_thread_in_the_inbox_frees_the_teams_place(
    admin: AdminClient, provider: ChannelProvider, help_desk: HelpDesk
) -> None:
    account = admin.account_id
    await set_up_team_at_capacity_one(admin)

    answered = await provider.send(account, "t-answered", "Do you have a physical store?")
    assert (await provider.reply_to(account, answered))["kind"] == "answer"

    await provider.send(account, "t-trigger", "I want to speak to a human")
    triggered = await provider.handoff(account, "t-trigger")
    assert (triggered["reason"], triggered["assignee"]) == ("trigger", {"kind": "team", "id": "t-sales"})

    await admin.call("POST", "/agent/pause")
    await wait_for_status(admin, "paused")
    full, agent_answered = await first_paused_handoff(provider, account)
    assert full["assignee"] == {"kind": "unassigned", "id": None}  # the team is at capacity

    await help_desk.close(account, "t-trigger", by_user="u-ada")
    # The close and the next visitor's message travel on different topics: try new threads until routing
    # has applied the close (each try is one more agent_paused handoff).
    place_back: dict[str, Any] | None = None
    tries = 0
    while place_back is None:
        tries += 1
        assert tries <= 20, "the team never got its place back after the inbox closed a thread"
        thread = f"t-after-close-{tries}"
        await provider.send(account, thread, "Hello again?")
        handoff = await provider.handoff(account, thread)
        assert handoff["reason"] == "agent_paused"
        if handoff["assignee"] == {"kind": "team", "id": "t-sales"}:
            place_back = handoff
        else:
            await asyncio.sleep(0.5)

    performance = await wait_for_performance(admin, lambda body: body["handoffs"] >= 2 + tries)
    assert performance["handoffs_by_reason"] == {"trigger": 1, "agent_paused": 1 + tries}
    # The threads the agent answered cost a credit each (per conversation); a thread it only asked to rephrase
    # (one it took before routing had the pause) and handed-off threads cost nothing.
    agent_answered += 1  # t-answered
    await eventually(lambda: charged_at_least(admin, agent_answered), f"billing charged {agent_answered}", every=0.5)
    assert (await credits_once_billing_read_all(admin))["used_this_period"] == agent_answered


async def test_a_help_desk_takes_gives_back_and_closes_a_thread(
    admin: AdminClient, provider: ChannelProvider, help_desk: HelpDesk
) -> None:
    account, team, nobody = admin.account_id, {"kind": "team", "id": "t-sales"}, {"kind": "unassigned", "id": None}
    await set_up_team_at_capacity_one(admin)
    await provider.send(account, "t-loop", "I want to speak to a human")
    assert (await provider.handoff(account, "t-loop"))["assignee"] == team  # the team's only place

    first = await provider.send(account, "t-loop", "Are you there?")
    second = await provider.send(account, "t-loop", "Hello?")
    await provider.send(account, "t-loop", "Are you there?", message_id=first)  # the provider publishes it again

    async def both_forwarded() -> bool:
        return len(forwarded(provider, account, "t-loop")) >= 2

    await eventually(both_forwarded, "both messages forwarded", every=0.1)

    await help_desk.reassign(account, "t-loop", {"kind": "unassigned"})
    # The inbox's events and the visitor's messages travel on different topics: write until routing applied it.
    _, written = await write_until(
        provider, account, "t-loop", "Still there?", forwarded_to(provider, account, "t-loop", nobody)
    )
    # Those messages came after the repeat on the thread's partition: a forward of the repeat would precede theirs.
    forwards = forwarded(provider, account, "t-loop")
    assert forwards[:2] == [(first, team), (second, team)]
    assert [sent for sent, _ in forwards[2:]] == written
    await provider.send(account, "t-next", "I want to speak to a human")
    assert (await provider.handoff(account, "t-next"))["assignee"] == team  # the team's place is free again

    await admin.call("POST", "/agent/pause")
    await wait_for_status(admin, "paused")
    # admin-api shows the pause at once; routing hears of it over Kafka, and t-next's new conversation below
    # must find it there (before, the agent would take it: neither a handoff nor a forward comes).
    await admin.wait_for_routing("agent_paused")
    await help_desk.give_back(account, "t-loop")
    answer, _ = await write_until(
        provider, account, "t-loop", "Do you have a physical store?", replied(provider, account)
    )
    assert answer["kind"] == "answer"  # the agent's again, though paused
    assert "No, only online." in answer["text"]
    # The agent answers a thread's messages in order: a reply to the forwarded ones would have come before.
    assert provider.replies(account, first) + provider.replies(account, second) == []

    await help_desk.close(account, "t-next", by_user="u-ada")
    # A message on the closed thread is a new conversation: the paused agent hands it to the team, whose place
    # the close freed at once.
    reopened, _ = await write_until(
        provider, account, "t-next", "Hello again?", handed_off_again(provider, account, "t-next")
    )
    assert (reopened["reason"], reopened["assignee"]) == ("agent_paused", team)

    performance = await wait_for_performance(admin, lambda body: body["handoffs_by_reason"].get("agent_paused"))
    assert performance["handoffs_by_reason"] == {"trigger": 2, "agent_paused": 1}
    await eventually(lambda: charged_at_least(admin, 1), "billing charged the answered thread", every=0.5)
    assert (await credits_once_billing_read_all(admin))["used_this_period"] == 1  # t-next cost nothing


def forwarded(provider: ChannelProvider, account: str, thread: str) -> list[tuple[str, dict[str, Any]]]:
    """(message id, assignee) of each message.forwarded of the thread received so far, in order."""
    events = provider.received.get(account)
    return [
        (event["message"]["message_id"], event["assignee"])
        for event in (events.handoffs if events else [])
        if event["type"] == "message.forwarded" and event["thread_id"] == thread
    ]


async def write_until(
    provider: ChannelProvider, account: str, thread: str, text: str, awaited: Callable[[str], T | None]
) -> tuple[T, list[str]]:
    """Write ``text`` on the thread until ``awaited(message_id)`` finds what routing did with a message once it
    applied an inbox event (before, each message is forwarded to a person's inbox); that, and the ids written."""
    written: list[str] = []

    async def one_more() -> T | None:
        message_id = await provider.send(account, thread, text)
        written.append(message_id)

        async def outcome() -> tuple[T | None] | None:
            # Whichever comes first: what is awaited, or a forward (then one more message). Anything else (a reply
            # where a forward was awaited, say) is neither, and fails the test at the deadline.
            if (found := awaited(message_id)) is not None:
                return (found,)
            return (None,) if forward_of(provider, account, thread, message_id) else None

        (found,) = await eventually(outcome, f"what became of {message_id}", every=0.1)
        return found

    return await eventually(one_more, f"what {thread}'s messages awaited", every=0.5), written


def forwarded_to(
    provider: ChannelProvider, account: str, thread: str, assignee: dict[str, Any]
) -> Callable[[str], dict[str, Any] | None]:
    """Awaited: a message's forward to ``assignee`` (the assignee)."""
    return lambda message_id: assignee if forward_of(provider, account, thread, message_id) == assignee else None


def replied(provider: ChannelProvider, account: str) -> Callable[[str], dict[str, Any] | None]:
    """Awaited: the agent's reply to a message."""
    return lambda message_id: next(iter(agent_replies(provider, account, message_id)), None)


def agent_replies(provider: ChannelProvider, account: str, message_id: str) -> list[dict[str, Any]]:
    """The agent's own replies to a message received so far (routing's notices are the system's)."""
    return [reply for reply in provider.replies(account, message_id) if reply["author"]["kind"] == "ai_agent"]


def handed_off_again(provider: ChannelProvider, account: str, thread: str) -> Callable[[str], dict[str, Any] | None]:
    """Awaited: a handoff of the thread after those received so far."""
    before = len(handoffs_of(provider, account, thread))
    return lambda _: next(iter(handoffs_of(provider, account, thread)[before:]), None)


def forward_of(provider: ChannelProvider, account: str, thread: str, message_id: str) -> dict[str, Any] | None:
    """The assignee a message was forwarded to, once it was."""
    return next((assignee for sent, assignee in forwarded(provider, account, thread) if sent == message_id), None)


def handoffs_of(provider: ChannelProvider, account: str, thread: str) -> list[dict[str, Any]]:
    """The thread.handed_off events of the thread received so far, in order."""
    return [handoff for handoff in provider.handoffs(account) if handoff["thread_id"] == thread]


async def first_paused_handoff(provider: ChannelProvider, account: str, tries: int = 20) -> tuple[dict[str, Any], int]:
    """The first handoff for the paused agent, and how many of the threads the agent still took before it got an
    answer: new threads until routing has the paused configuration (the agent replies to those, no handoff)."""
    answered = 0
    for attempt in range(1, tries + 1):
        thread = f"t-full-{attempt}"
        message_id = await provider.send(account, thread, "Hello?")

        async def outcome(thread: str = thread, message_id: str = message_id) -> tuple[str, dict[str, Any]] | None:
            # Whichever comes: a slow handoff must not pass for a thread the agent took (it is not charged), nor
            # routing's availability notice, sent with the handoff on another topic, for the agent's reply.
            handoffs = handoffs_of(provider, account, thread)
            if handoffs:
                return "handoff", handoffs[0]
            replies = agent_replies(provider, account, message_id)
            return ("reply", replies[0]) if replies else None

        kind, event = await eventually(outcome, f"a reply to or a handoff of {thread}", every=0.1)
        if kind == "handoff":
            assert event["reason"] == "agent_paused"
            return event, answered
        if event["kind"] == "answer":
            answered += 1
    raise AssertionError("routing never handed a thread off for the paused agent")


async def credits_once_billing_read_all(admin: AdminClient) -> dict[str, Any]:
    """GET /credits once billing has handled every event it meters published so far (a charge for any of them
    included): its groups have committed past them; then one credit bought, whose state, billing's snapshot of
    the account after all of them, admin-api shows once it has folded it."""
    for topic, group in METERED.items():
        ends = await end_offsets(BOOTSTRAP_SERVERS, topic)
        await eventually(partial(read_up_to, group, topic, ends), f"billing past what {topic} holds now", 60)
    bought = (await admin.call("GET", "/credits"))["purchased_this_period"] + 1
    await admin.call("POST", "/credits/purchases", json={"credits": 1}, as_operator=True)

    async def folded() -> dict[str, Any] | None:
        credits = dict(await admin.call("GET", "/credits"))
        return credits if credits["purchased_this_period"] == bought else None

    return await eventually(folded, "the purchase in admin-api's credits", every=0.5)


async def read_up_to(group: str, topic: str, ends: dict[int, int]) -> bool:
    """Whether ``group`` has committed at or past ``ends`` on every partition of ``topic`` that holds events."""
    committed = await committed_offsets(BOOTSTRAP_SERVERS, group, topic)
    return all(committed.get(partition, 0) >= end for partition, end in ends.items())


async def charged_at_least(admin: AdminClient, credits: int) -> bool:
    """Whether this period's usage has reached ``credits``."""
    return bool((await admin.call("GET", "/credits"))["used_this_period"] >= credits)


async def wait_for_status(admin: AdminClient, wanted: str) -> None:
    """Poll GET /agent/status until the agent's status starts with ``wanted``."""

    async def has_status() -> bool:
        return str((await admin.call("GET", "/agent/status")).get("status", "")).startswith(wanted)

    await eventually(has_status, f"the agent {wanted}", every=0.5)


async def wait_for_performance(admin: AdminClient, ready: Any) -> dict[str, Any]:
    """Poll GET /performance until ``ready(body)`` holds; return that body."""

    async def settled() -> dict[str, Any] | None:
        body = dict(await admin.call("GET", "/performance"))
        return body if ready(body) else None

    return await eventually(settled, "the performance figures settled", every=0.5)
