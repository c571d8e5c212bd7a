"""Visitors and admins of several accounts, through the external contract only, logging what was accepted."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
from aiokafka.errors import KafkaError

from tests.e2e.journey import AdminClient, ChannelProvider

logger = logging.getLogger(__name__)

QUESTION = "What are your opening hours?"
ANSWER = "We are open every weekday from 9 to 17."
MISS = "Can I pay with cryptocurrency?"
TRIGGER_WORD = "speak to a human"
TRIGGER = f"I want to {TRIGGER_WORD} please"
EXHAUSTION_ALLOTMENT = 2
"""Credits of the exhaustion account's plan: two answered threads use them up."""
PURCHASED_CREDITS = 2


class Expect(StrEnum):
    """What a visitor's message should get, the stack being healthy."""

    ANSWER = "answer"
    REPHRASE = "rephrase"
    CANNOT_ANSWER = "cannot_answer"
    TRIGGER = "trigger"
    ANSWER_OR_EXHAUSTED = "answer_or_exhausted"


class ThreadKind(StrEnum):
    """The kinds of conversations the harness starts."""

    ANSWERED = "answered"
    MISSED = "missed"
    TRIGGERED = "triggered"


SCRIPTS: dict[ThreadKind, list[tuple[str, Expect]]] = {
    ThreadKind.ANSWERED: [(QUESTION, Expect.ANSWER), (QUESTION, Expect.ANSWER)],
    ThreadKind.MISSED: [(MISS, Expect.REPHRASE), (MISS, Expect.CANNOT_ANSWER)],
    ThreadKind.TRIGGERED: [(TRIGGER, Expect.TRIGGER)],
}


@dataclass(frozen=True)
class SentMessage:
    """An inbound message the broker acknowledged (accepted), with what it should get."""

    account_id: str
    thread_id: str
    message_id: str
    event_id: str
    text: str
    expect: Expect
    index: int
    """Its position in its thread (order per thread)."""
    sent_at: float
    """Wall-clock seconds, comparable with Kafka record timestamps."""


@dataclass(frozen=True)
class Purchase:
    """A credit purchase an admin asked for: ``command_id`` is None when no 202 ever came back."""

    account_id: str
    credits: int
    command_id: str | None


@dataclass
class TrafficLog:
    """Everything the traffic did that the checker holds the system to."""

    sent: list[SentMessage] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)

    async def send(
        self, provider: ChannelProvider, account_id: str, thread_id: str, text: str, *, expect: Expect, index: int
    ) -> SentMessage | None:
        """Publish one visitor message; log it as accepted once the broker acknowledged it."""
        message_id = f"msg-{uuid.uuid4().hex[:12]}"
        event_id = f"evt-{uuid.uuid4().hex}"
        sent_at = time.time()
        try:
            await provider.send(account_id, thread_id, text, message_id=message_id, event_id=event_id)
        except KafkaError as error:
            self.refused.append(f"{account_id}/{thread_id}/{message_id}: {error!r}")
            return None
        sent = SentMessage(account_id, thread_id, message_id, event_id, text, expect, index, sent_at)
        self.sent.append(sent)
        return sent


async def retrying(
    admin: AdminClient,
    method: str,
    path: str,
    *,
    patience_seconds: float = 180,
    as_operator: bool = False,
    **kwargs: Any,
) -> dict[str, Any] | None:
    """Call admin-api until it answers 2xx (it may be restarting, or its database down); None if it never did."""
    client = admin.operator if as_operator else admin.http
    deadline = time.monotonic() + patience_seconds
    while time.monotonic() < deadline:
        try:
            response = await client.request(method, admin.base + path, **kwargs)
        except httpx.HTTPError:
            response = None
        if response is not None and response.is_success:
            return dict(response.json()) if response.content else {}
        if response is not None and 400 <= response.status_code < 500 and response.status_code != 429:
            raise AssertionError(f"{method} {path} → {response.status_code}: {response.text}")
        await asyncio.sleep(1.0)
    return None


async def set_up_account(admin: AdminClient, *, allotment: int | None = None) -> None:
    """A live-chat channel handing off to the unassigned view, a trigger word and one short answer."""
    await admin.call(
        "POST", "/channels", json={"type": "live_chat", "id": "web", "handoff": {"mode": "handoff", "assign_to": []}}
    )
    await admin.call("PUT", "/handoff", json={"triggers": [TRIGGER_WORD], "messages": {}})
    source = await admin.call("POST", "/sources", json={"kind": "short_answer", "question": QUESTION, "answer": ANSWER})
    await admin.wait_source_ready(source["id"])
    if allotment is not None:
        await admin.call("PUT", "/credits/plan", json={"monthly_allotment": allotment}, as_operator=True)


async def warm_up(provider: ChannelProvider, log: TrafficLog, admin: AdminClient) -> None:
    """One answered question: the account's configuration has reached routing and conversation."""
    sent = await log.send(provider, admin.account_id, "warm-up", QUESTION, expect=Expect.ANSWER, index=0)
    assert sent is not None, "the broker refused the warm-up message"
    await provider.reply_to(admin.account_id, sent.message_id, timeout_seconds=90)


async def purchase(admin: AdminClient, log: TrafficLog, credits: int) -> str | None:
    """Buy credits as the operator with an idempotency key, retried until admin-api accepts it; the command id."""
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"credits": credits}
    accepted = await retrying(admin, "POST", "/credits/purchases", json=body, headers=headers, as_operator=True)
    command_id = str(accepted["command_id"]) if accepted else None
    log.purchases.append(Purchase(admin.account_id, credits, command_id))
    return command_id


async def converse(provider: ChannelProvider, log: TrafficLog, account_id: str, kind: ThreadKind) -> None:
    """One visitor's conversation of ``kind``: its messages follow each other quickly, replies come later."""
    thread_id = f"{kind.value}-{uuid.uuid4().hex[:8]}"
    for index, (text, expect) in enumerate(SCRIPTS[kind]):
        await log.send(provider, account_id, thread_id, text, expect=expect, index=index)
        await asyncio.sleep(0.3)


async def drive_account(
    provider: ChannelProvider, log: TrafficLog, admin: AdminClient, rng: random.Random, *, until: float
) -> None:
    """Start conversations (mostly answered, some missed twice, some triggered) while buying credits now and then."""
    kinds = list(ThreadKind)
    conversations: list[asyncio.Task[None]] = [asyncio.create_task(buy_now_and_then(admin, log, rng, until=until))]
    while time.monotonic() < until:
        kind = rng.choices(kinds, weights=[6, 2, 2])[0]
        conversations.append(asyncio.create_task(converse(provider, log, admin.account_id, kind)))
        await asyncio.sleep(rng.uniform(1.0, 3.0))
    await asyncio.gather(*conversations)


async def buy_now_and_then(admin: AdminClient, log: TrafficLog, rng: random.Random, *, until: float) -> None:
    """A purchase every 15-30 s (each retried through admin-api's outages until it is accepted)."""
    while True:
        await asyncio.sleep(rng.uniform(10, 25))
        if time.monotonic() >= until:
            return
        await purchase(admin, log, PURCHASED_CREDITS)


async def drive_exhaustion(
    provider: ChannelProvider, log: TrafficLog, admin: AdminClient, rng: random.Random, *, until: float
) -> None:
    """New threads one after another until the credits run out (a thread goes to a person), then a purchase."""
    account_id = admin.account_id
    while time.monotonic() < until:
        thread_id = f"paid-{uuid.uuid4().hex[:8]}"
        sent = await log.send(provider, account_id, thread_id, QUESTION, expect=Expect.ANSWER_OR_EXHAUSTED, index=0)
        if sent is not None and await _handed_off_for_credits(provider, sent, until=until + 120):
            await purchase(admin, log, PURCHASED_CREDITS)
            await _wait_restored(admin, log, until=until + 120)
        await asyncio.sleep(rng.uniform(0.5, 2.0))


async def _handed_off_for_credits(provider: ChannelProvider, sent: SentMessage, *, until: float) -> bool:
    """Wait for the thread's outcome: True for a credits_exhausted handoff, False for a reply or no outcome."""
    while time.monotonic() < until:
        delivered = provider.received.get(sent.account_id)
        handoffs = [h for h in (delivered.handoffs if delivered else []) if h.get("thread_id") == sent.thread_id]
        if handoffs:
            return any(h.get("reason") == "credits_exhausted" for h in handoffs)
        replies = provider.replies(sent.account_id, sent.message_id)
        if any((reply.get("author") or {}).get("kind") == "ai_agent" for reply in replies):
            return False  # routing's notice of a handoff is a reply too, from the system
        await asyncio.sleep(0.2)
    logger.warning("no outcome for %s before the deadline", sent.message_id)
    return False


async def _wait_restored(admin: AdminClient, log: TrafficLog, *, until: float) -> None:
    """Poll GET /credits until the account is no longer exhausted (routing learns it from the same event); buy
    again when the balance stays at or below zero, which the faults cause: while they delay the news of the
    exhaustion, the agent takes more threads, and their late charges use up the purchase too."""
    bought_at = time.monotonic()
    while time.monotonic() < until:
        credits = await retrying(admin, "GET", "/credits", patience_seconds=30)
        if credits is not None and credits.get("exhausted") is False:
            return
        balance = credits.get("balance") if credits is not None else None
        if isinstance(balance, int) and balance <= 0 and time.monotonic() - bought_at > 20:
            await purchase(admin, log, 1 - balance)
            bought_at = time.monotonic()
        await asyncio.sleep(0.5)
