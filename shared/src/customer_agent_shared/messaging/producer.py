"""A raw Kafka producer with safe defaults: acks=all, idempotent, batched sends."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaProducer

from customer_agent_shared.events.envelope import CLOUDEVENTS_JSON, CloudEvent, serialize_event
from customer_agent_shared.observability.metrics import EVENTS_PUBLISHED
from customer_agent_shared.persistence.outbox import OutgoingMessage
from customer_agent_shared.topics import LARGE_MESSAGE_BYTES


class KafkaEventProducer:
    """Sends CloudEvents or raw messages; ``send_batch`` waits for every acknowledgement."""

    def __init__(self, bootstrap_servers: str, *, service: str, linger_ms: int = 2) -> None:
        self._service = service
        self._bootstrap_servers = bootstrap_servers
        self._linger_ms = linger_ms
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect to the cluster (the client must be created inside the running loop)."""
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap_servers,
                client_id=f"{self._service}-producer",
                acks="all",
                enable_idempotence=True,
                linger_ms=self._linger_ms,
                max_request_size=LARGE_MESSAGE_BYTES,
                request_timeout_ms=30_000,
            )
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        """Flush pending sends and disconnect."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def send_batch(self, messages: list[OutgoingMessage]) -> None:
        """Send messages (in order per partition) and wait until all are acknowledged."""
        if self._producer is None:
            raise RuntimeError("producer not started")
        futures: list[asyncio.Future[Any]] = []
        for message in messages:
            futures.append(
                await self._producer.send(
                    message.topic,
                    value=message.value,
                    key=message.key,
                    headers=[(name, value.encode()) for name, value in message.headers.items()],
                )
            )
            EVENTS_PUBLISHED.labels(service=self._service, topic=message.topic).inc()
        if futures:
            await asyncio.gather(*futures)

    async def send_event(self, topic: str, key: str | None, event: CloudEvent[Any]) -> None:
        """Send one CloudEvent and wait for its acknowledgement."""
        await self.send_batch([event_message(topic, key, event)])

    async def send_raw(
        self, topic: str, key: bytes | None, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        """Send raw bytes (dead letters, tests) and wait for the acknowledgement."""
        await self.send_batch([OutgoingMessage(topic=topic, key=key, value=value, headers=headers or {})])


def event_message(topic: str, key: str | None, event: CloudEvent[Any]) -> OutgoingMessage:
    """Turn a CloudEvent into a Kafka message (structured mode)."""
    return OutgoingMessage(
        topic=topic,
        key=key.encode() if key is not None else None,
        value=serialize_event(event),
        headers={"ce_id": event.id, "content-type": CLOUDEVENTS_JSON},
    )
