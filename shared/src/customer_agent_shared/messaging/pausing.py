"""Pause a Kafka consumer's partitions while its handler waits for a dependency, and keep it in its group.

A consumer handles one message at a time, so while a handler waits out an
outage nothing else is consumed anyway. aiokafka heartbeats from a background
task, but a consumer that has not polled for ``max_poll_interval_ms`` (300 s)
leaves its group: its partitions would move to another member, which would
then wait on the same outage and redeliver what this one is still retrying
(harmless with the inbox, but a rebalance each time). So the waiting consumer
pauses every partition it owns (nothing more is fetched for them, and what it
had prefetched is dropped and fetched again after resuming, from its position)
and polls those paused partitions without waiting between attempts, which
returns nothing but counts as a poll. Resuming touches only the partitions this
pause paused and the consumer still owns.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

logger = logging.getLogger(__name__)

current_consumer: ContextVar[Any] = ContextVar("current_consumer", default=None)
"""The ``AIOKafkaConsumer`` whose message the current task handles (set by the reliable middleware)."""


class PausedConsumer:
    """A consumer held paused while a handler of one of its messages waits (see the module)."""

    def __init__(self, consumer: Any) -> None:
        self._consumer = consumer
        self._paused: set[TopicPartition] = set()

    def pause(self) -> None:
        """Pause every partition the consumer owns and has not paused already."""
        fresh = set(self._consumer.assignment()) - set(self._consumer.paused())
        if fresh:
            self._consumer.pause(*fresh)
            self._paused |= fresh

    async def keep_alive(self) -> None:
        """Poll the paused partitions without waiting, so the consumer stays a member of its group."""
        # A rebalance may have handed over new partitions since the last poll: pause those too.
        self.pause()
        partitions = set(self._consumer.assignment()) & self._paused
        if not partitions:
            return  # an empty list would poll every partition
        try:
            records = await self._consumer.getmany(*partitions, timeout_ms=0)
        except ConsumerStoppedError:
            return  # stopping: the handler's task is cancelled soon, and its message redelivered
        except KafkaError as error:
            logger.info("poll of a paused consumer failed", extra={"error": repr(error)})
            return
        for partition, batch in records.items():
            # Only if a rebalance during the poll handed a partition back unpaused: rewind, so none is skipped.
            self._consumer.seek(partition, batch[0].offset)

    def resume(self) -> None:
        """Resume the partitions this pause paused that the consumer still owns."""
        owned = self._paused & set(self._consumer.assignment())
        if owned:
            self._consumer.resume(*owned)
        self._paused.clear()


def pause_current_consumer() -> PausedConsumer | None:
    """Pause the consumer of the message being handled (None outside a Kafka subscriber)."""
    consumer = current_consumer.get()
    if consumer is None or not callable(getattr(consumer, "pause", None)):
        return None
    paused = PausedConsumer(consumer)
    paused.pause()
    return paused
