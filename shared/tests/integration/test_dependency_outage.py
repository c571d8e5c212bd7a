"""A PostgreSQL outage while messages flow: consumers wait it out, nothing is dead-lettered, lost or doubled.

The handler writes to a throwaway PostgreSQL cluster of the test's own (never the
shared one), which the test stops for ~10 s and starts again, with real Kafka.
The consumer's ``max_poll_interval_ms`` is shorter than the outage: only a
consumer that keeps polling its paused partitions stays in its group. A hang
(the cluster frozen with SIGSTOP: connections open, no answer) outlasting the
handler timeouts that dead-letter a slow message is waited out too, because the
readiness checks say the database does not answer; without them it is not.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import SUBSCRIBER_DEFAULTS, create_kafka_broker
from customer_agent_shared.messaging.pausing import current_consumer
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, RetryPolicy
from customer_agent_shared.observability.health import Readiness
from customer_agent_shared.observability.metrics import TRANSIENT_RETRIES
from customer_agent_shared.persistence.database import (
    create_database_engine,
    create_session_factory,
    database_is_ready,
    ensure_schema,
)
from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork, shared_transaction
from customer_agent_shared.runtime import wait_until
from customer_agent_shared.settings import InfrastructureSettings, KafkaSecuritySettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import client_options, end_offsets, unique_name, wait_for_assignment
from customer_agent_shared.testing.postgres import ThrowawayPostgres
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

CONSUMER = "outage-test"
SCHEMA = "outage"
MESSAGES = 50
OUTAGE_SECONDS = 10.0
MAX_POLL_INTERVAL_MS = 5000
"""Half the outage: a consumer that stopped polling while it waited would be dropped from its group."""


class Greeting(BaseModel):
    """Test payload."""

    text: str = Field(description="What to say.")


class Revocations(ConsumerRebalanceListener):  # type: ignore[misc]
    """Partitions taken from the consumer (a rebalance), after its first assignment."""

    def __init__(self) -> None:
        self.revoked: list[set[TopicPartition]] = []

    async def on_partitions_revoked(self, revoked: Any) -> None:
        if revoked:
            self.revoked.append(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


@dataclass
class Outage:
    """A consumer whose handler writes each greeting to the throwaway database in its own transaction."""

    database: ThrowawayPostgres
    engine: AsyncEngine
    servers: str
    topic: str
    batched: bool
    service: str = field(init=False)
    greetings: Table = field(init=False)
    unit_of_work: Any = field(init=False)
    revocations: Revocations = field(default_factory=Revocations)
    consumers: set[Any] = field(default_factory=set)
    """The Kafka consumers the handler ran under (to see them paused)."""

    def __post_init__(self) -> None:
        self.service = f"outage-{'batch' if self.batched else 'single'}"
        metadata = MetaData(schema=SCHEMA)
        self.greetings = Table(
            "greetings", metadata, Column("id", Integer, primary_key=True), Column("text", String, nullable=False)
        )
        outbox, inbox = define_outbox_table(metadata), define_inbox_table(metadata)
        sessions = create_session_factory(self.engine)
        self.unit_of_work = lambda: SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox)
        self.metadata = metadata

    async def greet(self, event: CloudEvent[Greeting]) -> None:
        self.consumers.add(current_consumer.get())
        async with self.unit_of_work() as uow:
            if not await uow.claim_event(CONSUMER, event.id):
                return
            await uow.session.execute(self.greetings.insert().values(text=event.data.text))
            await uow.commit()

    async def texts(self) -> list[str]:
        async with self.engine.connect() as connection:
            return list((await connection.scalars(select(self.greetings.c.text).order_by(self.greetings.c.id))).all())

    async def handled(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.scalar(select(func.count()).select_from(self.greetings))) or 0)

    def subscribe(self, broker: Any, config: ReliableConsumerConfig) -> None:
        options = {
            **SUBSCRIBER_DEFAULTS,
            "group_id": unique_name("g"),
            "max_poll_interval_ms": MAX_POLL_INTERVAL_MS,
            "listener": self.revocations,
        }
        if not self.batched:
            broker.subscriber(self.topic, **options)(self.greet)
            return
        batches = BatchConsumer(config, lambda: shared_transaction(self.unit_of_work), batch_size=20)

        async def on_greetings(events: Sequence[CloudEvent[Greeting]]) -> None:
            await batches.run(events, self.greet, inbox_consumer=CONSUMER)

        decoder = batches.decoder(CloudEvent[Greeting], event_types=("greeting.sent",))
        batches.subscriber(broker, self.topic, title="greetings", decoder=decoder, **options)(on_greetings)


@pytest.fixture
def database() -> Iterator[ThrowawayPostgres]:
    cluster = ThrowawayPostgres()
    cluster.create()
    yield cluster
    cluster.destroy()


@pytest.fixture(params=[False, True], ids=["per-message", "batch"])
async def outage(
    request: pytest.FixtureRequest,
    database: ThrowawayPostgres,
    infrastructure: InfrastructureSettings,
    throwaway_topics: CreateTopics,
) -> AsyncIterator[Outage]:
    topic = unique_name("test.outage")
    await throwaway_topics([topic, topic + ".dlq"], partitions=1)
    engine = create_database_engine(database.url, pool_size=2)
    outage = Outage(database, engine, infrastructure.kafka_bootstrap_servers, topic, batched=request.param)
    await ensure_schema(engine, SCHEMA)
    async with engine.begin() as connection:
        await connection.run_sync(outage.metadata.create_all)
    yield outage
    await engine.dispose()


async def produce_slowly(servers: str, topic: str, texts: list[str], interval_seconds: float) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, acks="all", **client_options())
    await producer.start()
    try:
        for text in texts:
            event = make_event("greeting.sent", Greeting(text=text), source="test", account_id="acc-1")
            await producer.send_and_wait(topic, serialize_event(event))
            await asyncio.sleep(interval_seconds)
    finally:
        await producer.stop()


async def test_a_database_outage_delays_messages_and_never_dead_letters_them(outage: Outage) -> None:
    producer = KafkaEventProducer(outage.servers, service=outage.service, security=KafkaSecuritySettings())
    config = ReliableConsumerConfig(
        service=outage.service,
        send_batch=producer.send_batch,
        retry=RetryPolicy(first_delay_seconds=0.05, transient_max_delay_seconds=1.0, transient_jitter_seconds=0.2),
        handler_timeout_seconds=4.0,
    )
    readiness = Readiness(outage.service)
    readiness.add_condition("consumers", lambda: config.blocked.not_ready_reason(longer_than_seconds=1.0))
    broker = create_kafka_broker(
        outage.servers, service=outage.service, reliable=config, security=KafkaSecuritySettings()
    )
    outage.subscribe(broker, config)
    texts = [f"m{number:03d}" for number in range(MESSAGES)]
    await producer.start()
    await broker.start()
    try:
        await wait_for_assignment(broker)
        # Messages keep coming before, during and after the outage (about 15 s of traffic).
        traffic = asyncio.create_task(produce_slowly(outage.servers, outage.topic, texts, 0.3))

        async def some_handled() -> bool:
            return await outage.handled() >= 5

        await wait_until(some_handled, what="first messages handled", timeout_seconds=30)
        await asyncio.to_thread(outage.database.stop, "fast")
        stopped = asyncio.get_running_loop().time()

        async def waiting_paused_and_unready() -> bool:
            paused = any(consumer.paused() for consumer in outage.consumers)
            return paused and (await readiness.run()) == {"consumers": False}

        await wait_until(waiting_paused_and_unready, what="consumer paused and not ready", timeout_seconds=8)
        assert "postgres" in readiness.reasons()["consumers"] or "connection" in readiness.reasons()["consumers"]
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (asyncio.get_running_loop().time() - stopped)))
        await asyncio.to_thread(outage.database.start)
        await traffic

        async def all_handled() -> bool:
            return await outage.handled() >= MESSAGES

        await wait_until(all_handled, what=f"all {MESSAGES} messages handled", timeout_seconds=60)
    finally:
        await broker.stop()
        await producer.stop()
    assert await outage.texts() == texts  # each exactly once, in order
    assert await end_offsets(outage.servers, outage.topic + ".dlq") == {0: 0}
    assert outage.revocations.revoked == []  # polled while paused: never dropped from the group
    assert all(not consumer.paused() for consumer in outage.consumers)
    assert config.blocked.not_ready_reason(longer_than_seconds=0) is None
    retried = sum(
        TRANSIENT_RETRIES.labels(service=outage.service, topic=outage.topic, kind=kind)._value.get()
        for kind in ("postgres", "connection", "timeout", "handler_timeout")
    )
    assert retried > 0


HANG_SECONDS = 8.0
HANG_POLICY = RetryPolicy(
    first_delay_seconds=0.05, transient_max_delay_seconds=0.5, transient_jitter_seconds=0.1, max_timeouts=3
)
"""Three timeouts of 1 s in a row (with the waits between them, under 5 s) dead-letter a message: the hang
outlasts them."""


async def run_through_a_hang(outage: Outage, *, probe: bool) -> tuple[list[str], list[str]]:
    """Greetings flow while the database hangs for ``HANG_SECONDS``: (texts written, texts sent)."""
    producer = KafkaEventProducer(outage.servers, service=outage.service, security=KafkaSecuritySettings())
    config = ReliableConsumerConfig(
        service=outage.service, send_batch=producer.send_batch, retry=HANG_POLICY, handler_timeout_seconds=1.0
    )
    if probe:
        readiness = Readiness(outage.service, timeout_seconds=0.5)
        readiness.add("database", lambda: database_is_ready(outage.engine))
        config.dependencies_answer = readiness.dependencies_answer
    broker = create_kafka_broker(
        outage.servers, service=outage.service, reliable=config, security=KafkaSecuritySettings()
    )
    outage.subscribe(broker, config)
    texts = [f"h{number:03d}" for number in range(20)]
    await producer.start()
    await broker.start()
    try:
        await wait_for_assignment(broker)
        traffic = asyncio.create_task(produce_slowly(outage.servers, outage.topic, texts, 0.25))

        async def some_handled() -> bool:
            return await outage.handled() >= 3

        await wait_until(some_handled, what="first messages handled", timeout_seconds=30)
        await asyncio.to_thread(outage.database.freeze)
        try:
            await asyncio.sleep(HANG_SECONDS)
        finally:
            await asyncio.to_thread(outage.database.thaw)
        await traffic
        dead_lettered = await end_offsets(outage.servers, outage.topic + ".dlq")

        async def all_handled_or_dead_lettered() -> bool:
            return await outage.handled() + sum(dead_lettered.values()) >= len(texts)

        await wait_until(all_handled_or_dead_lettered, what="all handled or dead-lettered", timeout_seconds=60)
    finally:
        await broker.stop()
        await producer.stop()
    return await outage.texts(), texts


async def test_a_database_that_hangs_is_waited_out_when_readiness_says_it_does_not_answer(outage: Outage) -> None:
    written, sent = await run_through_a_hang(outage, probe=True)
    assert written == sent  # each exactly once, in order
    assert await end_offsets(outage.servers, outage.topic + ".dlq") == {0: 0}
    unresponsive = TRANSIENT_RETRIES.labels(service=outage.service, topic=outage.topic, kind="dependency_unresponsive")
    assert unresponsive._value.get() > 0


# Per message only: a batch that times out splits into the same per-message retries, so a batched run
# would show the same dead letter again at twice the cost.
@pytest.mark.parametrize("outage", [False], ids=["per-message"], indirect=True)
async def test_without_the_readiness_checks_the_same_hang_dead_letters_a_message(outage: Outage) -> None:
    written, sent = await run_through_a_hang(outage, probe=False)
    assert (await end_offsets(outage.servers, outage.topic + ".dlq"))[0] >= 1
    assert len(written) < len(sent)
