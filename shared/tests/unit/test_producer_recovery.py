"""A producer whose idempotence state is lost is replaced, and the next batch goes through."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import OutOfOrderSequenceNumber
from customer_agent_shared.messaging import producer as producer_module
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.persistence.outbox import OutgoingMessage


class ScriptedProducer:
    """Stands in for AIOKafkaProducer: the first instance fails every send as a broker restart does."""

    instances: list[ScriptedProducer] = []

    def __init__(self, **_options: Any) -> None:
        self.broken = not ScriptedProducer.instances
        self.sent: list[bytes] = []
        self.stopped = False
        ScriptedProducer.instances.append(self)

    async def start(self) -> None:
        """Connect (nothing to do)."""

    async def stop(self) -> None:
        """Disconnect."""
        self.stopped = True

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        """Queue one message; its future fails on the broken instance."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.broken:
            future.set_exception(OutOfOrderSequenceNumber())
        else:
            self.sent.append(value)
            future.set_result(None)
        return future


async def test_lost_sequence_state_replaces_the_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    ScriptedProducer.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", ScriptedProducer)
    producer = KafkaEventProducer("kafka:9092", service="test")
    await producer.start()
    message = OutgoingMessage(topic="t", key=None, value=b"event", headers={})

    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.send_batch([message])
    await producer.send_batch([message])  # the caller's retry

    first, second = ScriptedProducer.instances
    assert first.stopped
    assert not second.stopped
    assert second.sent == [b"event"]
    await producer.stop()
    with pytest.raises(RuntimeError):
        await producer.send_batch([message])
