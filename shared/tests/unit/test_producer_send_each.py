"""``send_each`` reports each message's outcome and never lets a message overtake one that may be retried."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError, UnknownTopicOrPartitionError
from customer_agent_shared.messaging import producer as producer_module
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.persistence.outbox import OutgoingMessage


class RefusingProducer:
    """Stands in for AIOKafkaProducer: ``send`` raises what ``refusals`` holds for a value, else queues it."""

    refusals: dict[bytes, BaseException] = {}
    sent: list[bytes] = []

    def __init__(self, **_options: Any) -> None:
        RefusingProducer.sent = []

    async def start(self) -> None:
        """Connect (nothing to do)."""

    async def stop(self) -> None:
        """Disconnect (nothing to do)."""

    async def send(self, topic: str, value: bytes, key: bytes | None, headers: Any) -> asyncio.Future[None]:
        """Refuse or queue one message."""
        if value in self.refusals:
            raise self.refusals[value]
        RefusingProducer.sent.append(value)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


def message(topic: str, value: bytes) -> OutgoingMessage:
    return OutgoingMessage(topic=topic, key=b"k", value=value, headers={})


async def outcomes(monkeypatch: pytest.MonkeyPatch, messages: list[OutgoingMessage]) -> list[str | None]:
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", RefusingProducer)
    producer = KafkaEventProducer("kafka:9092", service="test")
    await producer.start()
    try:
        return [None if error is None else type(error).__name__ for error in await producer.send_each(messages)]
    finally:
        await producer.stop()


async def test_a_record_refusal_skips_only_that_record(monkeypatch: pytest.MonkeyPatch) -> None:
    RefusingProducer.refusals = {b"big": MessageSizeTooLargeError()}
    got = await outcomes(monkeypatch, [message("t", b"a"), message("t", b"big"), message("t", b"b")])
    assert got == [None, "MessageSizeTooLargeError", None]
    assert RefusingProducer.sent == [b"a", b"b"]


async def test_a_missing_topic_skips_that_topic_only(monkeypatch: pytest.MonkeyPatch) -> None:
    RefusingProducer.refusals = {b"m1": UnknownTopicOrPartitionError()}
    got = await outcomes(monkeypatch, [message("missing", b"m1"), message("t", b"a"), message("missing", b"m2")])
    assert got == ["UnknownTopicOrPartitionError", None, "UnknownTopicOrPartitionError"]
    assert RefusingProducer.sent == [b"a"]  # m2 was not tried: it would wait for the topic as long again


async def test_a_transient_error_stops_the_messages_behind_it(monkeypatch: pytest.MonkeyPatch) -> None:
    RefusingProducer.refusals = {b"b": KafkaTimeoutError()}
    got = await outcomes(monkeypatch, [message("t", b"a"), message("t", b"b"), message("other", b"c")])
    assert got == [None, "KafkaTimeoutError", "KafkaTimeoutError"]
    assert RefusingProducer.sent == [b"a"]
