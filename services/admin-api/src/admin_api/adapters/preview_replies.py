"""Reads every preview reply in every admin-api replica.

A consumer group would give each reply to one replica only, but the request
may be waiting in another; so each process reads all partitions itself (no
group, no committed offsets) from the end, and keeps the replies it waits for.
Replies are ephemeral: one missed while the process was down has no waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from customer_agent_shared.events.envelope import EventParseError, parse_envelope, parse_event
from customer_agent_shared.events.preview import PREVIEW_ANSWERED, PREVIEW_ROUTED, PreviewAnswered, PreviewRouted
from customer_agent_shared.messaging.security import kafka_client_options
from customer_agent_shared.settings import KafkaSecuritySettings

logger = logging.getLogger(__name__)


class PreviewReplyListener:
    """Background reader of the preview-replies topic."""

    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        deliver: Callable[[PreviewAnswered | PreviewRouted], bool],
        *,
        security: KafkaSecuritySettings | None = None,
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._client_options = kafka_client_options(security)
        self._topic = topic
        self._deliver = deliver
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._assignment_timeout = 30.0

    async def start(self) -> None:
        """Take every partition (no group: all of them) at its end, then read in the background."""
        consumer = AIOKafkaConsumer(
            self._topic,
            bootstrap_servers=self._bootstrap_servers,
            enable_auto_commit=False,
            group_id=None,
            auto_offset_reset="latest",
            **self._client_options,
        )
        await consumer.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._assignment_timeout
        while not consumer.assignment():
            if loop.time() > deadline:
                await consumer.stop()
                raise TimeoutError(f"no partitions of {self._topic} after {self._assignment_timeout:g}s")
            await asyncio.sleep(0.05)
        for partition in consumer.assignment():
            await consumer.position(partition)  # resolve now, so replies sent after start are seen
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="preview-replies")

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batch = await consumer.getmany(timeout_ms=500)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("reading preview replies failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    self.handle(record.value or b"")

    def handle(self, body: bytes) -> bool:
        """Deliver one reply to its waiting request; unreadable replies are logged and skipped."""
        try:
            if parse_envelope(body).type == PREVIEW_ROUTED:
                return self._deliver(parse_event(body, PreviewRouted, expected_types=(PREVIEW_ROUTED,)).data)
            return self._deliver(parse_event(body, PreviewAnswered, expected_types=(PREVIEW_ANSWERED,)).data)
        except EventParseError as error:
            logger.warning("unreadable preview reply skipped", extra={"error": str(error)[:300]})
            return False
