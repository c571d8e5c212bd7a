"""Subscriptions: the group, title and options every service's subscribers get (no Kafka needed)."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.messaging.batches import BatchConsumer, CommittableTransaction
from customer_agent_shared.messaging.broker import create_kafka_broker
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig
from customer_agent_shared.messaging.subscriptions import Subscriptions
from faststream.specification import AsyncAPI


async def _send_nothing(messages: list[Any]) -> None:
    raise AssertionError("nothing is sent while subscribers are registered")


def _no_transaction() -> AbstractAsyncContextManager[CommittableTransaction]:
    raise AssertionError("no batch runs while subscribers are registered")


def _asyncapi(subscriptions: Subscriptions) -> dict[str, Any]:
    spec = AsyncAPI(subscriptions.broker, title="test", version="1.0.0")
    return dict(json.loads(spec.to_specification().to_json()))


def test_each_and_batch_subscribers_get_the_service_group_title_and_options() -> None:
    broker = create_kafka_broker("127.0.0.1:1", service="svc")
    batches = BatchConsumer(ReliableConsumerConfig("svc", _send_nothing), _no_transaction, batch_size=10, concurrency=2)
    subscribe = Subscriptions(broker, "svc", "svc-group", "latest", batches)

    @subscribe.each("one.topic.v1", description="One at a time.")
    async def on_one(event: RawCloudEvent) -> None: ...

    @subscribe.batch("many.topic.v1", CloudEvent[Any], description="In batches.")
    async def on_many(events: list[CloudEvent[Any]]) -> None: ...

    # The batch topic has ``concurrency`` consumers of one group; AsyncAPI lists the first.
    subscribers: list[Any] = list(broker.subscribers)  # FastStream types them as its base class
    topics = sorted(name for sub in subscribers for name in sub.topic_names)
    assert topics == ["many.topic.v1", "many.topic.v1", "one.topic.v1"]
    for sub in subscribers:
        assert sub.group_id == f"svc-group.{sub.topic_names[0]}"
        assert sub._connection_args["auto_offset_reset"] == "latest"
    document = _asyncapi(subscribe)
    assert set(document["operations"]) == {"svc/one.topic.v1", "svc/many.topic.v1"}
    described = {channel["address"]: channel["description"] for channel in document["channels"].values()}
    assert described == {"one.topic.v1": "One at a time.", "many.topic.v1": "In batches."}


def test_a_batch_subscriber_needs_a_batch_consumer() -> None:
    subscribe = Subscriptions(create_kafka_broker("127.0.0.1:1", service="svc"), "svc", "svc-group")
    with pytest.raises(ValueError, match="BatchConsumer"):
        subscribe.batch("many.topic.v1", CloudEvent[Any], description="In batches.")
