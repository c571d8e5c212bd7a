"""Conversation in-process on the real stack over a small three-language corpus, for the answering tests.

Each test module starts one service (start-up is the slow part); each test uses its own account or
thread ids and reads only its own records.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conversation_service.bootstrap import ConversationService, build_service
from conversation_service.settings import ConversationSettings
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import (
    collect_records,
    end_offsets,
    produce_raw,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.topics import (
    CHANNELS_OUTBOUND,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW_REPLIES,
    TOPICS_BY_NAME,
)
from sqlalchemy import text

from .corpus import create_index

ACCOUNT = unique_name("conv-acc")
OTHER_ACCOUNT = unique_name("conv-other")
AGENT_NAME = "Ada"


@dataclass
class Stack:
    """The running service and how to reach the topics."""

    service: ConversationService
    bootstrap: str
    partitions: dict[str, int]


def partitions_of(infrastructure: InfrastructureSettings, topic: str) -> int:
    """How many partitions ``topic`` has on this stack."""
    return TOPICS_BY_NAME[topic].partitions(infrastructure.topic_partitions)


@asynccontextmanager
async def running_stack(infrastructure: InfrastructureSettings, **overrides: Any) -> AsyncIterator[Stack]:
    """Conversation in-process over a scratch schema and a throwaway index holding the corpus (``overrides``:
    more settings)."""
    schema = unique_name("conv_test").replace("-", "_")
    index = unique_name("conv-test-chunks")
    client = create_opensearch_client(infrastructure.opensearch_url)
    await create_index(client, index, [ACCOUNT, OTHER_ACCOUNT])
    settings = ConversationSettings(
        # A unique service name keeps the Redis dedup keys apart from any other conversation process.
        service_name=unique_name("conversation-test"),
        database_schema=schema,
        consumer_group=unique_name("conversation.test"),
        consumer_offset_reset="latest",
        content_index=index,
        resolution_sweep_seconds=0,
        config_cache_seconds=0,
        send_handoff_notice=True,  # exercised here; off by default because routing tells the visitor
        **overrides,
    )
    service = build_service(settings)
    partitions = {
        topic: partitions_of(infrastructure, topic)
        for topic in (CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS, CONVERSATIONS_PREVIEW_REPLIES)
    }
    try:
        async with service.kernel.lifecycle.running():
            await wait_for_assignment(service.kernel.broker)
            await resolve_positions(service.kernel.broker)
            yield Stack(service, infrastructure.kafka_bootstrap_servers, partitions)
    finally:
        await client.indices.delete(index=index, ignore_unavailable=True)
        await client.close()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def resolve_positions(broker: Any) -> None:
    """Make each consumer look up its 'latest' offset now, so nothing produced next is skipped."""
    for subscriber in broker.subscribers:
        consumer = subscriber.consumer
        for partition in consumer.assignment():
            await consumer.position(partition)


def record_data(record_value: bytes) -> tuple[str, dict[str, Any]]:
    """A record's event type and data."""
    envelope = json.loads(record_value)
    return envelope["type"], envelope["data"]


async def ask(
    stack: Stack,
    text_: str,
    *,
    account: str = ACCOUNT,
    thread: str | None = None,
    locale: str | None = None,
    new_thread: bool = True,
    expect_events: int = 1,
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Send one assigned message; return the outbound messages and conversation events for it."""
    thread = thread or unique_name("thread")
    message_id = unique_name("msg")
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread,
        message_id=message_id,
        sender=Sender(id="visitor", locale=locale),
        text=text_,
        sent_at=datetime.now(UTC),
    )
    assigned = ConversationAssigned(
        account_id=account, thread_id=thread, channel=message.channel, message=message, new_thread=new_thread
    )
    outbound_from = await end_offsets(stack.bootstrap, CHANNELS_OUTBOUND, stack.partitions[CHANNELS_OUTBOUND])
    events_from = await end_offsets(stack.bootstrap, CONVERSATIONS_EVENTS, stack.partitions[CONVERSATIONS_EVENTS])
    event = make_event("conversation.assigned", assigned, source="test", account_id=account)
    await produce_raw(
        stack.bootstrap, CONVERSATIONS_ASSIGNED, serialize_event(event), key=f"{account}:{thread}".encode()
    )

    def mine(value: bytes) -> tuple[str, dict[str, Any]] | None:
        kind, data = record_data(value)
        return (kind, data) if data.get("message_id", data.get("reply_to")) == message_id else None

    events_raw = await collect_records(
        stack.bootstrap,
        CONVERSATIONS_EVENTS,
        from_offsets=events_from,
        until=lambda records: sum(1 for r in records if mine(r.value)) >= expect_events,
        timeout_seconds=20,
    )
    events = [found for record in events_raw if (found := mine(record.value))]
    outbound_raw = await collect_records(
        stack.bootstrap,
        CHANNELS_OUTBOUND,
        from_offsets=outbound_from,
        until=lambda records: any(mine(r.value) for r in records),
        timeout_seconds=20,  # every message asked gets one: the wait ends when it is read
    )
    outbound = [data for record in outbound_raw if (found := mine(record.value)) for data in [found[1]]]
    return outbound, events


def urls(message: dict[str, Any]) -> list[str]:
    """The cited URLs of an outbound message."""
    return [citation["url"] for citation in message["citations"]]
