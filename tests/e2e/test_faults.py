"""Faults survived: after each one, every inbound message has exactly one reply (no loss, no duplicate)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, committed_offsets, end_offsets
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e import stack_control
from tests.e2e.journey import AdminClient, ChannelProvider

pytestmark = pytest.mark.e2e

QUESTION = "What are your opening hours?"
ANSWER = "We are open every weekday from 9 to 17."
# The consumer groups (default prefixes) that read a thread's events after its reply is out.
LATE_READERS = {
    "conversations.events.v1": ("admin-api", "billing", "routing"),
    "channels.outbound.v1": ("webchat",),
}


@pytest.fixture
async def ready_account(admin: AdminClient) -> AsyncIterator[AdminClient]:
    """An account whose agent answers QUESTION from a short answer; the stack is restored afterwards."""
    await admin.call(
        "POST", "/channels", json={"type": "live_chat", "id": "web", "handoff": {"mode": "handoff", "assign_to": []}}
    )
    source = await admin.call("POST", "/sources", json={"kind": "short_answer", "question": QUESTION, "answer": ANSWER})
    await admin.wait_source_ready(source["id"])
    await admin.call("POST", "/credits/purchases", json={"credits": 100_000}, as_operator=True)
    await eventually(lambda: answered_on_the_channel(admin), "the channel in routing, the answer found", 60, every=1.0)
    yield admin
    await stack_control.ensure_everything_up()


async def answered_on_the_channel(admin: AdminClient) -> bool:
    """Whether the preview answers QUESTION and routing has the channel (the configuration reached it)."""
    reply = await admin.call("POST", "/agent/preview", json={"text": QUESTION})
    channel = (reply.get("routing") or {}).get("channel")
    return bool(reply["kind"] == "answer" and channel == {"type": "live_chat", "id": "web"})


async def stream_through_fault(
    provider: ChannelProvider,
    account: str,
    fault: Callable[[], Awaitable[None]],
    *,
    messages: int = 60,
    threads: int = 12,
    reply_timeout: float = 120,
) -> list[str]:
    """Send messages on several threads while ``fault`` runs; return the message ids."""
    sent: list[str] = []

    async def send_all() -> None:
        for index in range(messages):
            sent.append(await provider.send(account, f"thread-{index % threads}", QUESTION))
            await asyncio.sleep(0.05)

    await asyncio.gather(send_all(), fault())
    for message_id in sent:
        await provider.reply_to(account, message_id, timeout_seconds=reply_timeout)
    await asyncio.sleep(2.0)  # a duplicate would arrive here
    return sent


def assert_one_answer_each(provider: ChannelProvider, account: str, sent: list[str]) -> None:
    """Exactly one reply per inbound message, and it is the answer."""
    for message_id in sent:
        replies = provider.replies(account, message_id)
        assert len(replies) == 1, f"{message_id}: {len(replies)} replies"
        assert replies[0]["kind"] == "answer"


@pytest.mark.parametrize("service", ["routing", "conversation", "billing", "admin-api", "ingestion"])
async def test_kill_9_a_service_mid_stream(service: str, ready_account: AdminClient, provider: ChannelProvider) -> None:
    async def fault() -> None:
        await asyncio.sleep(1.0)
        stack_control.kill_service(service)
        await asyncio.sleep(1.0)
        await stack_control.start_service(service)

    sent = await stream_through_fault(provider, ready_account.account_id, fault)
    assert_one_answer_each(provider, ready_account.account_id, sent)


async def test_kafka_broker_restart(ready_account: AdminClient, provider: ChannelProvider) -> None:
    async def fault() -> None:
        await asyncio.sleep(1.0)
        await stack_control.run_script("kafka.sh", "down")
        await stack_control.run_script("kafka.sh", "up")

    sent = await stream_through_fault(provider, ready_account.account_id, fault)
    assert_one_answer_each(provider, ready_account.account_id, sent)


async def test_redis_stopped_for_ten_seconds(ready_account: AdminClient, provider: ChannelProvider) -> None:
    async def fault() -> None:
        await asyncio.sleep(0.5)
        await stack_control.run_script("redis.sh", "down")
        await asyncio.sleep(10)
        await stack_control.run_script("redis.sh", "up")

    sent = await stream_through_fault(provider, ready_account.account_id, fault, messages=80)
    assert_one_answer_each(provider, ready_account.account_id, sent)


async def test_opensearch_stopped_agent_hands_off_then_recovers(
    ready_account: AdminClient, provider: ChannelProvider
) -> None:
    account = ready_account.account_id
    await stack_control.run_script("opensearch.sh", "down")
    try:
        during = await provider.send(account, f"os-down-{uuid.uuid4().hex[:6]}", QUESTION)
        # Conversation retries the message while the index is down, up to CONVERSATION_UNAVAILABLE_WAIT_SECONDS
        # (60) plus one backoff (at most 30 s); then a person takes the thread and the visitor is told.
        handoff_or_notice = await provider.reply_to(account, during, timeout_seconds=150)
        assert handoff_or_notice["kind"] in {"handoff_notice", "availability"}
    finally:
        await stack_control.run_script("opensearch.sh", "up")
    await stack_control.ensure_everything_up()
    after = await provider.send(account, f"os-up-{uuid.uuid4().hex[:6]}", QUESTION)
    assert (await provider.reply_to(account, after, timeout_seconds=60))["kind"] == "answer"


async def test_poison_message_goes_to_dlq_and_stream_goes_on(
    ready_account: AdminClient, provider: ChannelProvider
) -> None:
    from customer_agent_shared.testing.kafka import produce_raw

    account = ready_account.account_id
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    await produce_raw(
        bootstrap, "channels.inbound.v1", b'{"specversion": "1.0", "id": "broken"', key=f"{account}:p".encode()
    )
    after = await provider.send(account, "p", QUESTION)
    assert (await provider.reply_to(account, after))["kind"] == "answer"


async def test_a_message_with_control_characters_is_answered_and_nothing_is_dead_lettered(
    ready_account: AdminClient, provider: ChannelProvider
) -> None:
    account = ready_account.account_id
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    # Where the visitor's text travels: routing keeps it, conversation answers it, the channel gets the reply.
    path = ["channels.inbound.v1", "conversations.assigned.v1", "conversations.events.v1", "channels.outbound.v1"]
    before = {topic: await end_offsets(bootstrap, f"{topic}.dlq") for topic in path}
    starts = {topic: await end_offsets(bootstrap, topic) for topic in LATE_READERS}
    sent = await provider.send(account, "nul", "What are your opening hours?\x00\x1b")  # PostgreSQL refuses NUL
    assert (await provider.reply_to(account, sent, timeout_seconds=60))["kind"] == "answer"
    # Routing and conversation handled it before the reply went out; the others read it after: wait until
    # each has committed past the thread's last event (handled, or dead-lettered first).
    thread = f"{account}:nul".encode()
    ends = {topic: await end_of_thread(bootstrap, topic, starts[topic], thread) for topic in LATE_READERS}

    async def read_by_everyone() -> bool:
        for topic, (partition, end) in ends.items():
            for group in LATE_READERS[topic]:
                committed = await committed_offsets(bootstrap, f"{group}.{topic}", topic)
                if committed.get(partition, -1) < end:
                    return False
        return True

    await eventually(read_by_everyone, "admin-api, billing, routing and webchat past the thread's events", 60)
    for topic, offsets in before.items():
        after = await end_offsets(bootstrap, f"{topic}.dlq")
        added = sum(after[partition] - offsets.get(partition, 0) for partition in after)
        if added:  # other tests' dead letters may be among them
            dead = await collect_records(bootstrap, f"{topic}.dlq", from_offsets=offsets, until=read_all(added))
            assert not [record for record in dead if account.encode() in (record.key or b"")], topic


async def end_of_thread(bootstrap: str, topic: str, starts: dict[int, int], key: bytes) -> tuple[int, int]:
    """(partition, offset just past its last record) of the thread ``key`` on ``topic`` from ``starts`` to now."""
    ends = await end_offsets(bootstrap, topic)
    records = await collect_records(bootstrap, topic, from_offsets=starts, until=read_up_to(starts, ends))
    assert read_up_to(starts, ends)(records), f"{topic} not read up to {ends}"
    last = max((record for record in records if record.key == key), key=lambda record: record.offset, default=None)
    assert last is not None, f"no event of the thread on {topic}"
    return last.partition, last.offset + 1


def read_up_to(starts: dict[int, int], ends: dict[int, int]) -> Callable[[list[ReceivedRecord]], bool]:
    """``collect_records``'s stop condition once every partition is read up to ``ends`` (no transactions here)."""
    pending = {partition: end for partition, end in ends.items() if end > starts.get(partition, 0)}

    def done(records: list[ReceivedRecord]) -> bool:
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = max(last.get(record.partition, -1), record.offset)
        return all(last.get(partition, -1) >= end - 1 for partition, end in pending.items())

    return done


def read_all(count: int) -> Callable[[list[ReceivedRecord]], bool]:
    """``collect_records``'s stop condition once ``count`` records are read."""
    return lambda records: len(records) >= count


async def test_two_conversation_instances_through_a_rebalance(
    ready_account: AdminClient, provider: ChannelProvider
) -> None:
    port = os.environ.get("E2E_SECOND_CONVERSATION_PORT", "8012")
    second = await asyncio.create_subprocess_exec(
        str(stack_control.REPO / ".venv" / "bin" / "conversation-service"),
        "serve",
        env={**os.environ, "CONVERSATION_HTTP_PORT": port},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:

        async def fault() -> None:
            await asyncio.sleep(3.0)  # the second instance joins: rebalance
            second.terminate()  # it leaves: rebalance again

        sent = await stream_through_fault(provider, ready_account.account_id, fault, messages=80)
    finally:
        if second.returncode is None:
            second.terminate()
        await second.wait()
    assert_one_answer_each(provider, ready_account.account_id, sent)
