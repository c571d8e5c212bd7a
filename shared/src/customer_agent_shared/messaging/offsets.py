"""Deferred Kafka offset commits: one commit per consumer every interval instead of one per message.

Committing after every message costs a broker round trip per message. Every
handler claims its event id in PostgreSQL (``persistence.inbox``), so a message
handled but not yet committed when a process dies is redelivered and dropped as
a duplicate: delaying the commit trades a few redeliveries after a crash for
one round trip per interval. Only offsets of messages whose handling finished
are committed (explicit offsets, never the consumer's position, which may
already be past a message still in flight). On shutdown ``flush`` commits what
is pending and switches to committing at once, so in-flight handlers that
finish afterwards still commit before their consumer closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from customer_agent_shared.observability.metrics import OFFSET_COMMITS

logger = logging.getLogger(__name__)


class CommittingConsumer(Protocol):
    """The part of ``AIOKafkaConsumer`` the committer uses."""

    async def commit(self, offsets: Any = None) -> None:
        """Commit the given offsets of the group."""


class OffsetCommitter:
    """Collects the next offset to commit per consumer and partition; commits them periodically."""

    def __init__(self, service: str, *, interval_seconds: float = 0.2) -> None:
        self._service = service
        self._interval = interval_seconds
        # Keyed by the consumer object itself: a subscriber may run several consumers (subgroups).
        self._pending: dict[int, tuple[CommittingConsumer, dict[TopicPartition, int]]] = {}
        self._immediate = interval_seconds <= 0
        self._task: asyncio.Task[None] | None = None

    @property
    def pending_partitions(self) -> int:
        """How many partitions have a handled offset not yet committed."""
        return sum(len(offsets) for _, offsets in self._pending.values())

    async def handled(self, consumer: CommittingConsumer, topic: str, partition: int, offset: int) -> None:
        """Record that the message at ``offset`` is done; commit now when in immediate mode."""
        key = id(consumer)
        entry = self._pending.get(key)
        if entry is None:
            entry = (consumer, {})
            self._pending[key] = entry
        topic_partition = TopicPartition(topic, partition)
        # Messages of one partition finish in order (one handler at a time per consumer).
        entry[1][topic_partition] = max(offset + 1, entry[1].get(topic_partition, 0))
        if self._immediate:
            await self.flush()
        elif self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_soon(), name=f"offset-commits-{self._service}")

    async def _commit_soon(self) -> None:
        await asyncio.sleep(self._interval)
        await self.flush()

    async def flush(self) -> None:
        """Commit every pending offset now (a failed commit only means a deduplicated redelivery)."""
        pending, self._pending = self._pending, {}
        for consumer, offsets in pending.values():
            if not offsets:
                continue
            try:
                await consumer.commit(offsets)
                OFFSET_COMMITS.labels(service=self._service, outcome="committed").inc()
            except (KafkaError, AssertionError, RuntimeError) as error:
                # Partition revoked by a rebalance or consumer closing: its new owner resumes from the last
                # committed offset and the inbox drops what this process already handled.
                OFFSET_COMMITS.labels(service=self._service, outcome="failed").inc()
                logger.info("offset commit skipped", extra={"error": repr(error), "partitions": len(offsets)})

    async def close(self) -> None:
        """Commit what is pending and commit at once from now on (call before the consumers stop)."""
        self._immediate = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
