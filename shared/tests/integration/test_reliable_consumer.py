"""A FastStream subscriber on the real broker: once-only handling, dedup and dead letters."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.messaging.broker import SUBSCRIBER_DEFAULTS, create_kafka_broker
from customer_agent_shared.messaging.dedup import ProcessedEventRegistry
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import (
    ReliableConsumerConfig,
    RetryPolicy,
    decode_json_body,
)
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.fixtures import CreateTopics
from customer_agent_shared.testing.kafka import (
    collect_records,
    produce_raw,
    unique_name,
)
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, Field
from redis.asyncio import Redis

pytestmark = pytest.mark.integration


class Greeting(BaseModel):
    """Test payload."""

    text: str = Field(description="What to say.")
    account_id: str | None = Field(default=None, description="The account, when the payload names one.")


class Harness:
    """A broker with one subscriber on a throwaway topic, recording what it handled."""

    def __init__(self, settings: InfrastructureSettings, redis: Redis, topic: str, fail_texts: set[str]) -> None:
        self.topic = topic
        self.handled: list[str] = []
        self.attempts: dict[str, int] = {}
        self.producer = KafkaEventProducer(settings.kafka_bootstrap_servers, service="shared-test", security=settings)
        self.broker: KafkaBroker = create_kafka_broker(
            settings.kafka_bootstrap_servers,
            service="shared-test",
            security=settings,
            reliable=ReliableConsumerConfig(
                service="shared-test",
                send_batch=self.producer.send_batch,
                registry=ProcessedEventRegistry(redis),
                retry=RetryPolicy(max_attempts=3, first_delay_seconds=0.05),
            ),
        )

        @self.broker.subscriber(topic, group_id=unique_name("g"), decoder=decode_json_body, **SUBSCRIBER_DEFAULTS)
        async def handle(event: CloudEvent[Greeting]) -> None:
            self.attempts[event.data.text] = self.attempts.get(event.data.text, 0) + 1
            if event.data.text in fail_texts:
                raise RuntimeError(f"cannot greet {event.data.text}")
            self.handled.append(event.data.text)

    async def wait_for(self, count: int, limit_seconds: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + limit_seconds
        while len(self.handled) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"handled {self.handled}, expected {count} messages")
            await asyncio.sleep(0.05)


@pytest.fixture
async def harness(
    infrastructure: InfrastructureSettings, redis_client: Redis, throwaway_topics: CreateTopics
) -> AsyncIterator[Harness]:
    topic = unique_name("test.greetings")
    await throwaway_topics([topic, topic + ".dlq"])
    harness = Harness(infrastructure, redis_client, topic, fail_texts={"always-fails"})
    await harness.producer.start()
    await harness.broker.start()
    yield harness
    await harness.broker.stop()
    await harness.producer.stop()


def greeting(text: str, event_id: str | None = None) -> CloudEvent[Greeting]:
    return make_event("greeting.sent", Greeting(text=text), source="test", account_id="acc-1", event_id=event_id)


async def test_event_from_a_real_producer_is_handled_once(
    harness: Harness, infrastructure: InfrastructureSettings
) -> None:
    await produce_raw(infrastructure.kafka_bootstrap_servers, harness.topic, serialize_event(greeting("hello")))
    await harness.wait_for(1)
    await asyncio.sleep(1.0)  # a second delivery would show up here
    assert harness.handled == ["hello"]


async def test_same_event_id_twice_is_handled_once(harness: Harness, infrastructure: InfrastructureSettings) -> None:
    first = greeting("once", event_id="evt-fixed-" + unique_name("id"))
    duplicate = first.model_copy()
    for event in (first, duplicate):
        await produce_raw(infrastructure.kafka_bootstrap_servers, harness.topic, serialize_event(event))
    await produce_raw(infrastructure.kafka_bootstrap_servers, harness.topic, serialize_event(greeting("after")))
    await harness.wait_for(2)
    await asyncio.sleep(0.5)  # a second delivery would show up here
    assert harness.handled == ["once", "after"]


async def test_unparseable_message_goes_to_dlq_and_consumer_goes_on(
    harness: Harness, infrastructure: InfrastructureSettings
) -> None:
    servers = infrastructure.kafka_bootstrap_servers
    await produce_raw(servers, harness.topic, b"{not json", key=b"k1")
    too_deep = b'{"id": "deep", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"  # recursion, not a ValueError
    await produce_raw(servers, harness.topic, too_deep, key=b"k1")
    invalid_data = json.loads(serialize_event(greeting("x")))
    invalid_data["data"] = {"wrong": 1}
    await produce_raw(servers, harness.topic, json.dumps(invalid_data).encode())
    await produce_raw(servers, harness.topic, serialize_event(greeting("always-fails")))
    await produce_raw(servers, harness.topic, serialize_event(greeting("still-flowing")))
    await harness.wait_for(1)
    assert harness.handled == ["still-flowing"]
    assert harness.attempts["always-fails"] == 3  # bounded retries, then dead-lettered

    dead = await collect_records(servers, harness.topic + ".dlq", until=lambda records: len(records) >= 4)
    assert dead[0].value == b"{not json"
    assert dead[0].key == b"k1"
    assert dead[0].headers["dlq-original-topic"] == harness.topic
    assert "not JSON" in dead[0].headers["dlq-error"]
    assert (dead[1].value, dead[1].headers["dlq-error"]) == (too_deep, "message body nests too deep to read")
    assert "text" in dead[2].headers["dlq-error"]  # names the missing field
    assert dead[3].headers["dlq-error-type"] == "RuntimeError"
    assert dead[3].headers["dlq-attempts"] == "3"
    assert len(dead) == 4


async def test_an_event_naming_another_account_in_its_data_is_dead_lettered(
    harness: Harness, infrastructure: InfrastructureSettings
) -> None:
    servers = infrastructure.kafka_bootstrap_servers
    forged = make_event("greeting.sent", Greeting(text="forged", account_id="acc-2"), source="x", account_id="acc-1")
    own = make_event("greeting.sent", Greeting(text="own", account_id="acc-1"), source="x", account_id="acc-1")
    for event in (forged, own):
        await produce_raw(servers, harness.topic, serialize_event(event))
    await harness.wait_for(1)
    dead = await collect_records(servers, harness.topic + ".dlq", until=lambda records: len(records) >= 1)
    assert harness.handled == ["own"]
    assert "differs from data.account_id" in dead[0].headers["dlq-error"]
