"""Dead-letter topics on the real Kafka: read them to their current end, and replay from them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from customer_agent_shared.messaging.producer import event_message
from customer_agent_shared.messaging.security import kafka_client_options
from customer_agent_shared.operations.dead_letters import (
    REPLAY_MARKER_HEADER,
    DeadLetter,
    DeadLetterRef,
    Placement,
    ReplayMarker,
    replay_audit_event,
    replay_headers,
)
from customer_agent_shared.persistence.outbox import OutgoingMessage
from customer_agent_shared.settings import KafkaSecuritySettings
from customer_agent_shared.topics import AUDIT, LARGE_MESSAGE_BYTES

CLIENT_ID = "customer-agent-dlq"


@dataclass
class Scan:
    """What reading dead-letter topics found: dead letters, replay markers, and topics the cluster lacks."""

    letters: list[DeadLetter] = field(default_factory=list)
    markers: dict[DeadLetterRef, ReplayMarker] = field(default_factory=dict)
    missing_topics: list[str] = field(default_factory=list)

    def add(self, record: Any) -> None:
        """Keep one consumed record as a dead letter or, if it carries the marker header, as a marker."""
        headers = {name: value.decode("utf-8", errors="replace") for name, value in record.headers or ()}
        at = datetime.fromtimestamp(record.timestamp / 1000, UTC)
        marked = headers.get(REPLAY_MARKER_HEADER)
        if marked is None:
            ref = DeadLetterRef(record.topic, record.partition, record.offset)
            self.letters.append(DeadLetter(ref=ref, key=record.key, value=record.value or b"", headers=headers, at=at))
            return
        marker = ReplayMarker.read(record.value or b"")
        # The header alone means "replayed": a marker whose value is unreadable must still prevent a second send.
        self.markers[DeadLetterRef.parse(marked)] = marker or ReplayMarker(
            ref=marked, actor="?", at=at, topic="?", partition=-1, offset=-1, audit_event_id=""
        )


class DeadLetterStore:
    """Reads dead-letter topics and replays dead letters; use as ``async with``."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        known_topics: frozenset[str],
        audit_topic: str = AUDIT,
        idle_timeout_seconds: float = 30.0,
        security: KafkaSecuritySettings | None = None,
    ) -> None:
        self.known_topics = known_topics
        self.bootstrap_servers = bootstrap_servers
        self._client_options = kafka_client_options(security)
        self._audit_topic = audit_topic
        self._idle_timeout_seconds = idle_timeout_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def __aenter__(self) -> DeadLetterStore:
        self._admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, client_id=CLIENT_ID, **self._client_options
        )
        await self._admin.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            client_id=CLIENT_ID,
            group_id=None,
            enable_auto_commit=False,
            **self._client_options,
        )
        await self._consumer.start()
        # aiokafka 0.14: stopping a group-less consumer before its background task first ran raises
        # CancelledError; one turn of the loop lets the task start.
        await asyncio.sleep(0)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._producer is not None:
            await self._producer.stop()
        if self._consumer is not None:
            await self._consumer.stop()
        if self._admin is not None:
            await self._admin.close()

    @property
    def consumer(self) -> AIOKafkaConsumer:
        """The started consumer."""
        if self._consumer is None:
            raise RuntimeError("use the store as 'async with DeadLetterStore(...)'")
        return self._consumer

    async def scan(self, topics: Sequence[str], *, since: datetime | None = None) -> Scan:
        """Every dead letter and replay marker of ``topics`` up to their current end (from ``since`` if given)."""
        scan = Scan()
        partitions = await self._partitions(topics)
        scan.missing_topics = sorted(set(topics) - {tp.topic for tp in partitions})
        if not partitions:
            return scan
        starts = await self.consumer.beginning_offsets(partitions)
        if since is not None:
            # Markers always follow their dead letter, so starting at ``since`` still finds them.
            ends = await self.consumer.end_offsets(partitions)
            found = await self.consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in partitions})
            starts = {tp: found[tp].offset if found.get(tp) is not None else ends[tp] for tp in partitions}
        for record in await self._read(starts):
            scan.add(record)
        return scan

    async def fetch(self, ref: DeadLetterRef) -> tuple[DeadLetter, ReplayMarker | None]:
        """The dead letter at ``ref`` and its replay marker; ``LookupError`` says why there is none."""
        partition = TopicPartition(ref.topic, ref.partition)
        if partition not in await self._partitions([ref.topic]):
            raise LookupError(f"{ref}: the cluster has no partition {ref.partition} of topic {ref.topic!r}")
        first = (await self.consumer.beginning_offsets([partition]))[partition]
        end = (await self.consumer.end_offsets([partition]))[partition]
        if ref.offset < first:
            raise LookupError(f"{ref}: retention already deleted it (the partition now starts at {first})")
        if ref.offset >= end:
            raise LookupError(f"{ref}: no such record (the partition ends before offset {end})")
        scan = Scan()
        for record in await self._read({partition: ref.offset}):
            scan.add(record)
        letter = next((letter for letter in scan.letters if letter.ref == ref), None)
        if letter is None:
            raise LookupError(f"{ref}: this record is a replay marker, not a dead letter")
        return letter, scan.markers.get(ref)

    async def replay(self, letter: DeadLetter, *, actor: str) -> ReplayMarker:
        """Re-publish the original key and value, then audit it, then mark it replayed (each acknowledged).

        In this order a crash never leaves a replay unaudited: at worst the next run sends the event and
        its audit record again, with the same ids, and consumers drop the repeat.
        """
        original = letter.original_topic
        if original is None or original not in self.known_topics:
            raise ValueError(f"{letter.ref}: original topic {original!r} is not in the topic registry")
        sent = await self._send(
            OutgoingMessage(topic=original, key=letter.key, value=letter.value, headers=replay_headers(letter))
        )
        at = datetime.now(UTC)
        audit = replay_audit_event(letter, actor=actor, replayed_to=sent, at=at)
        await self._send(event_message(self._audit_topic, audit.accountid, audit))
        marker = ReplayMarker(
            ref=str(letter.ref),
            actor=actor,
            at=at,
            topic=sent.topic,
            partition=sent.partition,
            offset=sent.offset,
            audit_event_id=audit.id,
        )
        await self._send(
            OutgoingMessage(
                topic=letter.ref.topic,
                key=str(letter.ref).encode(),
                value=marker.model_dump_json().encode(),
                headers={REPLAY_MARKER_HEADER: str(letter.ref)},
            ),
            partition=letter.ref.partition,
        )
        return marker

    async def _partitions(self, topics: Iterable[str]) -> list[TopicPartition]:
        """Every partition of those of ``topics`` the cluster has."""
        if self._admin is None:
            raise RuntimeError("use the store as 'async with DeadLetterStore(...)'")
        described = await self._admin.describe_topics(list(topics))
        return [
            TopicPartition(topic["topic"], partition["partition"])
            for topic in described
            if topic["error_code"] == 0
            for partition in sorted(topic["partitions"], key=lambda partition: int(partition["partition"]))
        ]

    async def _send(self, message: OutgoingMessage, *, partition: int | None = None) -> Placement:
        """Send one message and wait for the broker's acknowledgement (all in-sync replicas)."""
        if self._producer is None:
            self._producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=CLIENT_ID,
                acks="all",
                enable_idempotence=True,
                max_request_size=LARGE_MESSAGE_BYTES,
                request_timeout_ms=30_000,
                **self._client_options,
            )
            await self._producer.start()
        metadata = await self._producer.send_and_wait(
            message.topic,
            value=message.value,
            key=message.key,
            partition=partition,
            headers=[(name, value.encode()) for name, value in message.headers.items()],
        )
        return Placement(metadata.topic, metadata.partition, metadata.offset)

    async def _read(self, starts: dict[TopicPartition, int]) -> list[Any]:
        """Records from ``starts`` up to each partition's end as it is now."""
        consumer = self.consumer
        ends = await consumer.end_offsets(list(starts))
        pending = {tp: end for tp, end in ends.items() if starts[tp] < end}
        if not pending:
            return []
        consumer.assign(list(pending))
        for tp in pending:
            consumer.seek(tp, starts[tp])
        records: list[Any] = []
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._idle_timeout_seconds
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, messages in batch.items():
                records.extend(message for message in messages if message.offset < ends[tp])
                give_up = loop.time() + self._idle_timeout_seconds
            for tp in list(pending):
                if await consumer.position(tp) >= pending[tp]:
                    del pending[tp]
            if pending and loop.time() > give_up:
                stuck = ", ".join(f"{tp.topic}:{tp.partition}" for tp in pending)
                raise TimeoutError(f"no progress reading {stuck} for {self._idle_timeout_seconds:.0f} s")
        return records
