"""Kafka helpers for tests: throwaway topics, producing raw messages, waiting for records."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic


@dataclass(frozen=True)
class ReceivedRecord:
    """A consumed record, decoded enough for assertions."""

    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    offset: int


async def create_topics(bootstrap_servers: str, names: list[str], partitions: int = 1) -> None:
    """Create topics (used for throwaway test topics; the registry creates the real ones)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1) for name in names])
    finally:
        await admin.close()


def unique_name(prefix: str) -> str:
    """A name no other test run uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def produce_raw(bootstrap_servers: str, topic: str, value: bytes, key: bytes | None = None) -> None:
    """Publish one message as a plain client would (no FastStream, no headers)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def end_offsets(bootstrap_servers: str, topic: str, partitions: int) -> dict[int, int]:
    """Current end offset of each of the ``partitions`` partitions of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers)
    await consumer.start()
    try:
        offsets = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return {tp.partition: offset for tp, offset in offsets.items()}
    finally:
        await consumer.stop()


async def collect_records(
    bootstrap_servers: str,
    topic: str,
    *,
    until: Callable[[list[ReceivedRecord]], bool],
    timeout_seconds: float = 20.0,
    from_offsets: dict[int, int] | None = None,
) -> list[ReceivedRecord]:
    """Read ``topic`` from the beginning (or given offsets) until ``until(records)`` or timeout."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    records: list[ReceivedRecord] = []
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await consumer.topics()
            partitions = consumer.partitions_for_topic(topic) or {0}
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
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
    while True:
        pending = [sub for sub in subscribers if not (getattr(sub, "consumer", None) and sub.consumer.assignment())]
        if not pending:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{len(pending)} subscribers got no partitions in {timeout_seconds}s")
        await asyncio.sleep(0.1)
