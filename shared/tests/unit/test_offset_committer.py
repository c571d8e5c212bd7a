"""Deferred offset commits: what is committed, when, and after shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError
from customer_agent_shared.messaging.offsets import OffsetCommitter
from customer_agent_shared.testing.plumbing import eventually


class RecordingConsumer:
    """Records the offsets it is asked to commit; can be told to fail."""

    def __init__(self, *, fail: bool = False) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.fail = fail

    async def commit(self, offsets: Any = None) -> None:
        if self.fail:
            raise CommitFailedError("rebalanced")
        self.commits.append(dict(offsets))


async def test_offsets_are_committed_once_per_interval_as_next_offset_to_read() -> None:
    committer = OffsetCommitter("svc", interval_seconds=0.05)
    consumer = RecordingConsumer()
    for offset in range(5):
        await committer.handled(consumer, "t", 0, offset)
    await committer.handled(consumer, "t", 1, 7)
    assert consumer.commits == []

    async def committed() -> bool:
        return bool(consumer.commits)

    await eventually(committed, "the background commit")
    await asyncio.sleep(0.1)  # two more intervals: nothing new is handled, so nothing is committed again
    assert consumer.commits == [{TopicPartition("t", 0): 5, TopicPartition("t", 1): 8}]
    assert committer.pending_partitions == 0


async def test_each_consumer_commits_only_its_own_partitions() -> None:
    committer = OffsetCommitter("svc", interval_seconds=0.05)
    first, second = RecordingConsumer(), RecordingConsumer()
    await committer.handled(first, "t", 0, 1)
    await committer.handled(second, "t", 1, 2)
    await committer.flush()
    assert first.commits == [{TopicPartition("t", 0): 2}]
    assert second.commits == [{TopicPartition("t", 1): 3}]


async def test_close_flushes_then_commits_every_later_message_at_once() -> None:
    committer = OffsetCommitter("svc", interval_seconds=60)
    consumer = RecordingConsumer()
    await committer.handled(consumer, "t", 0, 3)
    await committer.close()
    assert consumer.commits == [{TopicPartition("t", 0): 4}]
    await committer.handled(consumer, "t", 0, 4)  # an in-flight handler finishing during shutdown
    assert consumer.commits[-1] == {TopicPartition("t", 0): 5}


async def test_a_failed_commit_is_dropped_not_raised() -> None:
    committer = OffsetCommitter("svc", interval_seconds=0)
    consumer = RecordingConsumer(fail=True)
    await committer.handled(consumer, "t", 0, 1)
    assert committer.pending_partitions == 0
