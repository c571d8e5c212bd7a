"""Kafka helpers for tests: throwaway topics, producing raw messages, waiting for records.

Every client here is one of the tests' own: it connects as ``TESTS_KAFKA_*`` says when an integration suite
runs its service as the service's Kafka user (``testing.kafka_identity``), otherwise as ``KAFKA_*`` says.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from customer_agent_shared.messaging.security import kafka_client_options
from customer_agent_shared.settings import KafkaSecuritySettings
from customer_agent_shared.testing.kafka_identity import TESTS_PREFIX


def client_options() -> dict[str, Any]:
    """aiokafka keyword arguments of the tests' own clients (none for PLAINTEXT): ``TESTS_KAFKA_*`` if set."""
    prefix = TESTS_PREFIX + "KAFKA_"
    own = {name.removeprefix(TESTS_PREFIX): value for name, value in os.environ.items() if name.startswith(prefix)}
    return kafka_client_options(KafkaSecuritySettings.model_validate(own) if own else KafkaSecuritySettings())


@dataclass(frozen=True)
class ReceivedRecord:
    """A consumed record, decoded enough for assertions."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    offset: int
    partition: int


async def create_topics(
    bootstrap_servers: str, names: list[str], partitions: int = 1, configs: dict[str, str] | None = None
) -> None:
    """Create topics (used for throwaway test topics; the registry creates the real ones)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options())
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=partitions, replication_factor=1, topic_configs=configs or {})
                for name in names
            ]
        )
    finally:
        await admin.close()


async def delete_topics(bootstrap_servers: str, names: list[str]) -> None:
    """Delete throwaway test topics (those already gone are ignored)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        doomed = [name for name in names if name in existing]
        if doomed:
            await admin.delete_topics(doomed)
    finally:
        await admin.close()


def unique_name(prefix: str) -> str:
    """A name no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def produce_raw(bootstrap_servers: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Publish one message as a plain client would (no FastStream, no headers)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all", **client_options())
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def topic_partitions(bootstrap_servers: str, topic: str) -> list[int]:
    """The partition numbers of ``topic``, asked of the cluster."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = sorted(int(p["partition"]) for p in described[0]["partitions"])
    if not partitions:
        raise ValueError(f"topic {topic!r} has no partitions (does it exist?)")
    return partitions


async def end_offsets(bootstrap_servers: str, topic: str, partitions: int | None = None) -> dict[int, int]:
    """Current end offset of each partition of ``topic`` (all of them unless ``partitions`` is given)."""
    numbers = list(range(partitions)) if partitions is not None else await topic_partitions(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, **client_options())
    await consumer.start()
    try:
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in numbers])
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap_servers: str, group: str, topic: str) -> dict[int, int]:
    """The offset ``group`` committed on each partition of ``topic`` it has committed on (the next one it reads)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset >= 0}


async def collect_records(
    bootstrap_servers: str,
    topic: str,
    *,
    until: Callable[[list[ReceivedRecord]], bool],
    timeout_seconds: float = 20.0,
    from_offsets: dict[int, int] | None = None,
) -> list[ReceivedRecord]:
    """Read ``topic`` from the beginning (or given offsets) until ``until(records)`` or timeout."""
    partitions = await topic_partitions(bootstrap_servers, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **client_options())
    await consumer.start()
    records: list[ReceivedRecord] = []
    try:
        assignment = [TopicPartition(topic, p) for p in partitions]
        consumer.assign(assignment)
        for tp in assignment:
            if from_offsets is not None and tp.partition in from_offsets:
                consumer.seek(tp, from_offsets[tp.partition])
            else:
                await consumer.seek_to_beginning(tp)
        deadline = asyncio.get_running_loop().time() + timeout_seconds
        while not until(records):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for messages in batch.values():
                for message in messages:
                    records.append(
                        ReceivedRecord(
                            topic=message.topic,
                            key=message.key,
                            value=message.value or b"",
                            headers={k: v.decode() for k, v in (message.headers or [])},
                            offset=message.offset,
                            partition=message.partition,
                        )
                    )
        return records
    finally:
        await consumer.stop()


async def wait_for_assignment(broker: object, timeout_seconds: float = 30.0) -> None:
    """Wait until every subscriber of a started FastStream broker has partitions assigned.

    Tests whose consumer groups start at 'latest' call this before producing, so
    nothing they publish is skipped.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    subscribers = list(getattr(broker, "subscribers", []))

    def consumers_of(subscriber: Any) -> list[Any]:
        # A subscriber with several consumers (max_workers) keeps them in consumer_subgroup.
        group = getattr(subscriber, "consumer_subgroup", None)
        if group:
            return list(group)
        consumer = getattr(subscriber, "consumer", None)
        return [consumer] if consumer is not None else []

    while True:
        consumers = [consumer for sub in subscribers for consumer in consumers_of(sub)]
        started = all(consumers_of(sub) for sub in subscribers)
        # Every consumer holds partitions: this instance's part of the group is settled. (Not "all
        # partitions": other instances of the same group may hold the rest.)
        assigned = started and all(consumer.assignment() for consumer in consumers)
        if assigned:
            # With offset reset 'latest' a partition's start offset is fixed when its position is
            # first looked up; do it now so nothing produced after this call is skipped.
            for consumer in consumers:
                for partition in consumer.assignment():
                    await consumer.position(partition)
            return
        if loop.time() > deadline:
            raise TimeoutError(f"subscribers got no partitions in {timeout_seconds}s")
        await asyncio.sleep(0.1)
