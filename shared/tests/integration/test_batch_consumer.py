"""Batch subscribers on the real broker and PostgreSQL: one transaction per fetch, split on failure."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.events.envelope import CloudEvent, make_event, parse_envelope, serialize_event
from customer_agent_shared.messaging.batches import POLL_WAIT_MS, BatchConsumer
from customer_agent_shared.messaging.broker import SUBSCRIBER_DEFAULTS, create_kafka_broker
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, RetryPolicy
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings, KafkaSecuritySettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import (
    client_options,
    collect_records,
    produce_raw,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.testing.plumbing import eventually

from .greeting_store import CONSUMER, Greeting, Store

pytestmark = pytest.mark.integration


@dataclass
class Consumer:
    """A broker with one batch subscriber whose use case writes a greeting and stages an event."""

    topic: str
    store: Store
    servers: str
    attempts: dict[str, int] = field(default_factory=dict)
    prepared: list[list[str]] = field(default_factory=list)
    """The texts each call of the batch's ``prepare`` was given."""
    counted: list[str] = field(default_factory=list)
    """Texts of greetings counted after their commit (as a service counts a metric)."""
    greeted_at: dict[str, float] = field(default_factory=dict)
    """When (event loop time) each greeting's use case ran."""
    concurrency: int = 1
    gather_ms: int = 0
    prepare_seconds: float = 0.0
    """How long each ``prepare`` waits, as a batch waiting on a database would."""
    handler_timeout_seconds: float = 60.0
    parallel_by_key: int | None = None
    """Run batches with ``run_by_key`` (one transaction per event, keys at once) instead of ``run``."""
    greet_seconds: float = 0.0
    """How long each greeting waits before writing, as a use case waiting on a hosted model would."""
    greeting_now: int = 0
    most_greeting: int = 0
    """The most greetings waiting at one time."""
    in_flight: int = 0
    most_in_flight: int = 0
    """The most batches seen between ``prepare`` and the end of their handling at one time."""
    producer: KafkaEventProducer | None = None
    broker: Any = None

    async def start(self) -> None:
        self.producer = KafkaEventProducer(self.servers, service="batch-test", security=KafkaSecuritySettings())
        await self.producer.start()
        config = ReliableConsumerConfig(
            service="batch-test",
            send_batch=self.producer.send_batch,
            retry=RetryPolicy(max_attempts=3, first_delay_seconds=0.05),
            handler_timeout_seconds=self.handler_timeout_seconds,
        )
        self.broker = create_kafka_broker(
            self.servers, service="batch-test", reliable=config, security=KafkaSecuritySettings()
        )
        batches = BatchConsumer(
            config,
            lambda: shared_transaction(self.store.unit_of_work),
            batch_size=100,
            concurrency=self.concurrency,
            gather_ms=self.gather_ms,
        )

        @batches.subscriber(
            self.broker,
            self.topic,
            title="greetings",
            group_id=unique_name("g"),
            decoder=batches.decoder(CloudEvent[Greeting], event_types=("greeting.sent",)),
            **SUBSCRIBER_DEFAULTS,
        )
        async def on_greetings(events: list[CloudEvent[Greeting]]) -> None:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            try:
                if self.parallel_by_key is not None:
                    await batches.run_by_key(events, self.greet, parallel=self.parallel_by_key)
                else:
                    await batches.run(events, self.greet, inbox_consumer=CONSUMER, prepare=self.prepare)
            finally:
                self.in_flight -= 1

        await self.broker.start()

    async def prepare(self, events: Sequence[CloudEvent[Greeting]]) -> None:
        """Set-wise work ahead of the batch: here, one row in the batch's transaction."""
        self.prepared.append([event.data.text for event in events])
        await asyncio.sleep(self.prepare_seconds)
        async with self.store.unit_of_work() as uow:
            await uow.session.execute(self.store.greetings.insert().values(text=f"prepared {len(events)}"))

    async def greet(self, event: CloudEvent[Greeting]) -> None:
        """The use case: claim, write, stage an event, commit (fails for 'always-fails')."""
        self.greeting_now += 1
        self.most_greeting = max(self.most_greeting, self.greeting_now)
        try:
            await asyncio.sleep(self.greet_seconds)
        finally:
            self.greeting_now -= 1
        async with self.store.unit_of_work() as uow:
            if not await uow.claim_event(CONSUMER, event.id):
                return
            self.attempts[event.data.text] = self.attempts.get(event.data.text, 0) + 1
            self.greeted_at.setdefault(event.data.text, asyncio.get_running_loop().time())
            await uow.session.execute(self.store.greetings.insert().values(text=event.data.text))
            if event.data.text == "always-fails":
                raise RuntimeError("cannot greet")
            await uow.publish(self.topic + ".out", None, event)
            text = event.data.text
            uow.after_commit(lambda: self.counted.append(text))
            await uow.commit()

    async def wait_for_rows(self, count: int, limit_seconds: float = 20.0) -> list[tuple[str, str]]:
        """The greetings table once it has at least ``count`` rows."""

        async def enough() -> list[tuple[str, str]] | None:
            rows = await self.store.rows()
            return rows if len(rows) >= count else None

        return await eventually(enough, f"{count} rows written", within=limit_seconds, every=0.1)

    async def stop(self) -> None:
        if self.broker is not None:
            await self.broker.stop()
        if self.producer is not None:
            await self.producer.stop()


@pytest.fixture
async def consumer(
    infrastructure: InfrastructureSettings, store: Store, throwaway_topics: CreateTopics
) -> AsyncIterator[Consumer]:
    topic = unique_name("test.batch")
    await throwaway_topics([topic, topic + ".dlq", topic + ".out"], partitions=1)
    consumer = Consumer(topic, store, infrastructure.kafka_bootstrap_servers)
    yield consumer
    await consumer.stop()


def greeting(text: str) -> bytes:
    return serialize_event(make_event("greeting.sent", Greeting(text=text), source="test", account_id="acc-1"))


async def test_a_fetched_batch_commits_in_one_transaction(consumer: Consumer) -> None:
    texts = [f"hello-{number}" for number in range(6)]
    for value in texts:  # all in the log before the consumer starts: its first fetch returns them together
        await produce_raw(consumer.servers, consumer.topic, greeting(value))
    await consumer.start()
    rows = await consumer.wait_for_rows(len(texts) + 1)
    await asyncio.sleep(0.5)  # a redelivery would add rows here
    rows = await consumer.store.rows()
    assert [row[0] for row in rows] == ["prepared 6", *texts]
    assert consumer.prepared == [texts]
    assert len({row[1] for row in rows}) == 1, "the batch and its preparation were written by one transaction"
    assert await consumer.store.outbox_transactions() == {rows[0][1]}  # staged events in that same one


async def test_a_failing_event_splits_the_batch_and_nothing_is_lost_or_doubled(consumer: Consumer) -> None:
    invalid = json.loads(greeting("x"))
    invalid["data"] = {"wrong": 1}
    other_type = serialize_event(make_event("greeting.retracted", Greeting(text="x"), source="t", account_id="a"))
    for value in (b"{not json", json.dumps(invalid).encode(), other_type, greeting("first"), greeting("always-fails")):
        await produce_raw(consumer.servers, consumer.topic, value)
    await produce_raw(consumer.servers, consumer.topic, greeting("second"))
    await consumer.start()
    await consumer.wait_for_rows(2)
    await asyncio.sleep(0.5)  # a redelivery would add rows here
    dead = await collect_records(consumer.servers, consumer.topic + ".dlq", until=lambda records: len(records) >= 4)
    rows = await consumer.store.rows()
    # The failed batch left nothing behind (its preparation included): each good event is written once,
    # by its own transaction, which has no preparation.
    assert consumer.prepared == [["first", "always-fails", "second"]]
    assert [row[0] for row in rows] == ["first", "second"]
    assert rows[0][1] != rows[1][1]
    assert consumer.attempts["always-fails"] == 1 + 3  # once in the batch, then the bounded retries alone
    assert consumer.counted == ["first", "second"]  # handled in the failed batch too, counted once
    assert [record.value for record in dead[:1]] == [b"{not json"]
    assert "wrong" in dead[1].headers["dlq-error"] or "text" in dead[1].headers["dlq-error"]
    assert "unexpected event type 'greeting.retracted'" in dead[2].headers["dlq-error"]
    assert dead[3].headers["dlq-error-type"] == "RuntimeError"
    assert parse_envelope(dead[3].value).data["text"] == "always-fails"
    assert await consumer.store.outbox_transactions() == {rows[0][1], rows[1][1]}  # staged with each write


async def test_a_hung_batch_is_cancelled_and_its_events_handled_one_at_a_time(consumer: Consumer) -> None:
    consumer.prepare_seconds = 600.0  # the batch's preparation hangs, as on a stuck dependency
    consumer.handler_timeout_seconds = 0.5
    texts = [f"hung-{number}" for number in range(3)]
    for value in texts:
        await produce_raw(consumer.servers, consumer.topic, greeting(value))
    await consumer.start()
    rows = await consumer.wait_for_rows(len(texts))
    assert consumer.prepared == [texts]
    assert [row[0] for row in rows] == texts  # the cancelled batch left nothing, its preparation included
    assert len({row[1] for row in rows}) == len(texts)  # each event in a transaction of its own


async def test_an_event_twice_in_one_batch_is_handled_once(consumer: Consumer) -> None:
    twice = make_event("greeting.sent", Greeting(text="once"), source="test", account_id="acc-1")
    for value in (serialize_event(twice), serialize_event(twice), greeting("after")):
        await produce_raw(consumer.servers, consumer.topic, value)
    await consumer.start()
    await consumer.wait_for_rows(3)
    await asyncio.sleep(0.5)  # a redelivery would add rows here
    rows = await consumer.store.rows()
    assert [row[0] for row in rows] == ["prepared 3", "once", "after"]
    assert len({row[1] for row in rows}) == 1  # claimed ahead together, handled in the one batch transaction


async def test_an_event_handled_before_is_left_out_of_the_batch_preparation(consumer: Consumer) -> None:
    handled_before = make_event("greeting.sent", Greeting(text="redelivered"), source="test", account_id="acc-1")
    async with consumer.store.unit_of_work() as uow:
        assert await uow.claim_event(CONSUMER, handled_before.id)
        await uow.commit()
    for value in (serialize_event(handled_before), greeting("new")):
        await produce_raw(consumer.servers, consumer.topic, value)
    await consumer.start()
    await consumer.wait_for_rows(2)
    await asyncio.sleep(0.5)  # a redelivery would add rows here
    assert consumer.prepared == [["new"]]
    assert [row[0] for row in await consumer.store.rows()] == ["prepared 1", "new"]


async def test_an_idle_batch_consumer_waits_in_one_long_poll_and_wakes_when_a_record_arrives(
    consumer: Consumer,
) -> None:
    await consumer.start()
    await wait_for_assignment(consumer.broker)
    polls = 0
    for subscriber in consumer.broker.subscribers:
        poll = subscriber.consumer.getmany

        async def counted_poll(*args: Any, poll: Any = poll, **kwargs: Any) -> Any:
            nonlocal polls
            polls += 1
            return await poll(*args, **kwargs)

        subscriber.consumer.getmany = counted_poll
    await asyncio.sleep(1.0)
    # FastStream's own loop polls 10 ms and sleeps 10 ms: ~50 polls a second.
    assert 1 <= polls <= 12
    await produce_raw(consumer.servers, consumer.topic, greeting("wake"))
    produced = asyncio.get_running_loop().time()
    await consumer.wait_for_rows(1)  # a batch of one is handled on its own, without a preparation
    # Handed over as it arrived, not when the poll it arrived in timed out.
    assert consumer.greeted_at["wake"] - produced < POLL_WAIT_MS / 1000 * 0.75


async def test_a_gathering_consumer_takes_records_that_trickle_in_as_one_batch(
    infrastructure: InfrastructureSettings, store: Store, throwaway_topics: CreateTopics
) -> None:
    async def batches_of_a_trickle(gather_ms: int) -> list[list[str]]:
        topic = unique_name("test.batch")
        await throwaway_topics([topic, topic + ".dlq", topic + ".out"], partitions=1)
        consumer = Consumer(topic, store, infrastructure.kafka_bootstrap_servers, gather_ms=gather_ms)
        try:
            await consumer.start()
            await wait_for_assignment(consumer.broker)
            await asyncio.sleep(gather_ms / 1000)  # a fetch begun before the first record has returned
            texts = [f"{topic}-{number}" for number in range(8)]
            for text in texts:  # 8 records over ~0.4 s, as a steady stream of events would arrive
                await produce_raw(consumer.servers, topic, greeting(text))
                await asyncio.sleep(0.05)
            deadline = asyncio.get_running_loop().time() + 20
            while sum(map(len, handled := _handled_batches(consumer, texts))) < len(texts):
                assert asyncio.get_running_loop().time() < deadline, handled
                await asyncio.sleep(0.05)
            return handled
        finally:
            await consumer.stop()

    # Without gathering every record is handled as soon as it arrives, in a transaction of its own.
    assert len(await batches_of_a_trickle(0)) >= 4
    # Gathering, the broker holds the fetch (a full batch is 100 events of ~1 KB): one or two batches.
    gathered = await batches_of_a_trickle(1500)
    assert len(gathered) <= 2, gathered


def _handled_batches(consumer: Consumer, texts: list[str]) -> list[list[str]]:
    """The batches that handled ``texts``: each prepared batch, and each event handled on its own."""
    batched = [batch for batch in consumer.prepared if set(batch) <= set(texts)]
    in_batches = {text for batch in batched for text in batch}
    return batched + [[text] for text in texts if text in consumer.attempts and text not in in_batches]


async def test_concurrent_consumers_share_the_partitions_and_keep_each_one_in_order(
    infrastructure: InfrastructureSettings, store: Store, throwaway_topics: CreateTopics
) -> None:
    servers = infrastructure.kafka_bootstrap_servers
    topic = unique_name("test.batch")
    await throwaway_topics([topic, topic + ".dlq", topic + ".out"], partitions=4)
    consumer = Consumer(topic, store, servers, concurrency=2, prepare_seconds=0.3)
    try:
        await consumer.start()
        assignments = await _stable_assignments(consumer.broker, partitions=4)
        assert len(assignments) == 2  # two consumers, each owning some of the partitions
        producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", **client_options())
        await producer.start()
        try:
            for number in range(10):
                for partition in range(4):
                    await producer.send(topic, greeting(f"p{partition}-{number}"), partition=partition)
            await producer.flush()
        finally:
            await producer.stop()
        await consumer.wait_for_rows(40 + len(consumer.prepared))
        await asyncio.sleep(0.5)  # a redelivery would add rows here
        texts = [row[0] for row in await consumer.store.rows() if not row[0].startswith("prepared")]
    finally:
        await consumer.stop()
    assert sorted(texts) == sorted(f"p{partition}-{number}" for partition in range(4) for number in range(10))
    for partition in range(4):  # each partition's events were handled in their order
        numbers = [int(text.split("-")[1]) for text in texts if text.startswith(f"p{partition}-")]
        assert numbers == list(range(10)), (partition, numbers)
    assert consumer.most_in_flight == 2  # the two consumers' batches overlapped
    for batch in consumer.prepared:  # a batch holds only partitions one consumer owns
        partitions = {int(text.split("-")[0][1:]) for text in batch}
        assert any(partitions <= owned for owned in assignments), (batch, assignments)


async def _stable_assignments(broker: Any, partitions: int, limit_seconds: float = 30.0) -> list[set[int]]:
    """The partitions each consumer of ``broker`` owns, once together they own all ``partitions``."""
    deadline = asyncio.get_running_loop().time() + limit_seconds
    while True:
        owned = [{tp.partition for tp in sub.consumer.assignment()} for sub in broker.subscribers]
        if sum(map(len, owned)) == partitions and all(owned):
            return owned
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"partitions never shared out: {owned}")
        await asyncio.sleep(0.1)


async def test_by_key_each_event_commits_alone_keys_run_at_once_and_each_key_in_order(consumer: Consumer) -> None:
    consumer.parallel_by_key, consumer.greet_seconds = 8, 0.4
    texts = [f"{thread}-{number}" for number in range(3) for thread in ("a", "b", "c")]
    for value in texts:
        await produce_raw(consumer.servers, consumer.topic, greeting(value), key=value[0].encode())
    await consumer.start()
    rows = await consumer.wait_for_rows(len(texts))

    assert sorted(row[0] for row in rows) == sorted(texts)
    assert len({row[1] for row in rows}) == len(texts), "one transaction per event"
    for thread in "abc":
        times = [consumer.greeted_at[f"{thread}-{number}"] for number in range(3)]
        assert times == sorted(times), f"thread {thread} out of order"
    assert consumer.most_greeting >= 2, "threads were answered one after another"
