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
pause paused and the consumer still owns. When several tasks of one consumer wait
at once (``BatchConsumer.run_by_key``), they share one pause: one task polls at a
time, and the partitions resume when the last of them stops waiting.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import ContextVar
from typing import Any

from aiokafka import TopicPartition
from aiokafka.errors import ConsumerStoppedError, KafkaError

logger = logging.getLogger(__name__)

current_consumer: ContextVar[Any] = ContextVar("current_consumer", default=None)
"""The ``AIOKafkaConsumer`` whose message the current task handles (set by the reliable middleware)."""


class _SharedPause:
    """One consumer's pause, shared by every task of it that waits (``BatchConsumer.run_by_key`` runs several)."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer
        self.paused: set[TopicPartition] = set()
        self.holders = 0
        self.polling = asyncio.Lock()


_pauses: dict[int, _SharedPause] = {}


class PausedConsumer:
    """A waiting task's hold on its consumer's pause (see the module): the first hold pauses, one task at a
    time polls, and the last hold released resumes."""

    def __init__(self, shared: _SharedPause) -> None:
        self._shared = shared
        self._released = False

    def pause(self) -> None:
        """Pause every partition the consumer owns and has not paused already."""
        consumer = self._shared.consumer
        fresh = set(consumer.assignment()) - set(consumer.paused())
        if fresh:
            consumer.pause(*fresh)
            self._shared.paused |= fresh

    async def keep_alive(self) -> None:
        """Poll the paused partitions without waiting, so the consumer stays a member of its group."""
        if self._shared.polling.locked():
            return  # another waiting task is polling this consumer right now: one poll serves them all
        async with self._shared.polling:
            await self._poll()

    async def _poll(self) -> None:
        consumer = self._shared.consumer
        # A rebalance may have handed over new partitions since the last poll: pause those too.
        self.pause()
        partitions = set(consumer.assignment()) & self._shared.paused
        if not partitions:
            return  # an empty list would poll every partition
        try:
            records = await consumer.getmany(*partitions, timeout_ms=0)
        except ConsumerStoppedError:
            return  # stopping: the handler's task is cancelled soon, and its message redelivered
        except KafkaError as error:
            logger.info("poll of a paused consumer failed", extra={"error": repr(error)})
            return
        for partition, batch in records.items():
            # Only if a rebalance during the poll handed a partition back unpaused: rewind, so none is skipped.
            consumer.seek(partition, batch[0].offset)

    def resume(self) -> None:
        """Release this hold; the last one resumes the partitions the pause paused that the consumer still owns."""
        if self._released:
            return
        self._released = True
        shared = self._shared
        shared.holders -= 1
        if shared.holders > 0:
            return
        _pauses.pop(id(shared.consumer), None)
        owned = shared.paused & set(shared.consumer.assignment())
        if owned:
            shared.consumer.resume(*owned)
        shared.paused.clear()


def pause_current_consumer() -> PausedConsumer | None:
    """Pause the consumer of the message being handled (None outside a Kafka subscriber)."""
    consumer = current_consumer.get()
    if consumer is None or not callable(getattr(consumer, "pause", None)):
        return None
    shared = _pauses.setdefault(id(consumer), _SharedPause(consumer))
    shared.holders += 1
    paused = PausedConsumer(shared)
    paused.pause()
    return paused
