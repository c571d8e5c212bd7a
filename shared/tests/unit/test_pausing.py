"""Tasks of one consumer waiting at once share its pause: one polls at a time, the last one resumes."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import TopicPartition
from customer_agent_shared.messaging.pausing import current_consumer, pause_current_consumer

PARTITIONS = {TopicPartition("t", 0), TopicPartition("t", 1)}


class ConsumerDouble:
    """The part of AIOKafkaConsumer a pause uses; counts concurrent polls."""

    def __init__(self) -> None:
        self.paused_partitions: set[TopicPartition] = set()
        self.polling = 0
        self.most_polling = 0

    def assignment(self) -> set[TopicPartition]:
        return set(PARTITIONS)

    def paused(self) -> set[TopicPartition]:
        return set(self.paused_partitions)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused_partitions |= set(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused_partitions -= set(partitions)

    async def getmany(self, *partitions: TopicPartition, timeout_ms: int) -> dict[Any, Any]:
        self.polling += 1
        self.most_polling = max(self.most_polling, self.polling)
        await asyncio.sleep(0.01)
        self.polling -= 1
        return {}


async def test_two_waiting_tasks_share_one_pause_and_the_last_resumes() -> None:
    consumer = ConsumerDouble()
    current_consumer.set(consumer)
    first, second = pause_current_consumer(), pause_current_consumer()
    assert first is not None
    assert second is not None
    assert consumer.paused_partitions == PARTITIONS

    await asyncio.gather(first.keep_alive(), second.keep_alive(), first.keep_alive())
    assert consumer.most_polling == 1

    first.resume()
    first.resume()  # releasing twice counts once
    assert consumer.paused_partitions == PARTITIONS  # the second task still waits
    second.resume()
    assert consumer.paused_partitions == set()
