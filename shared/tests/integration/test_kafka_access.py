"""The local Kafka's SCRAM listener: who may connect, and what the ACLs of ``kafka_acls`` let each user do.

The listener and each user's password are what ``deploy/local/kafka.sh client-env <user>`` prints.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError
from customer_agent_shared.events.channels import MESSAGE_RECEIVED, ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.events.inbox import THREAD_CLOSED, ClosedBy, CloserKind, ThreadClosed
from customer_agent_shared.kafka_acls import CHANNEL_PROVIDER, HUMAN_INBOX
from customer_agent_shared.messaging.security import kafka_client_options
from customer_agent_shared.settings import KafkaSecuritySettings
from customer_agent_shared.testing.kafka_identity import local_client_env
from customer_agent_shared.topics import (
    BILLING_COMMANDS,
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_EVENTS,
    INBOX_EVENTS,
    INBOX_HANDOFFS,
)

REPO = Path(__file__).resolve().parents[3]
TOPIC_AUTHORIZATION_FAILED = 29


def password(user: str) -> str:
    """The password deploy/local/kafka.sh generated for ``user``."""
    return local_client_env(user, REPO)["KAFKA_SASL_PASSWORD"]


def as_user(user: str, secret: str | None = None) -> dict[str, Any]:
    """Client keyword arguments for the secured listener as ``user`` (with ``secret`` as its password if given)."""
    environ = local_client_env(user, REPO)
    if secret is not None:
        environ["KAFKA_SASL_PASSWORD"] = secret
    settings = KafkaSecuritySettings.model_validate(environ)
    return {"bootstrap_servers": environ["KAFKA_BOOTSTRAP_SERVERS"], **kafka_client_options(settings)}


@asynccontextmanager
async def producer(user: str) -> AsyncIterator[AIOKafkaProducer]:
    """A started idempotent producer (as the services use) for ``user``."""
    client = AIOKafkaProducer(acks="all", enable_idempotence=True, request_timeout_ms=10_000, **as_user(user))
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


@asynccontextmanager
async def consumer(user: str, group: str) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer of ``group`` that assigns partitions itself."""
    client = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **as_user(user))
    await client.start()
    try:
        yield client
    finally:
        await client.stop()


def inbound_message() -> bytes:
    """A visitor's message for an account no one has, as a channel provider publishes it."""
    account = f"acl-test-{uuid.uuid4().hex[:12]}"
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id="t1",
        message_id="m1",
        sender=Sender(id="v1"),
        text="hello",
        sent_at=datetime.now(UTC),
    )
    return serialize_event(make_event(MESSAGE_RECEIVED, message, source="acl-test", account_id=account))


def closed_thread() -> bytes:
    """A person closing a thread of an account no one has, as the human inbox publishes it."""
    account = f"acl-test-{uuid.uuid4().hex[:12]}"
    closed = ThreadClosed(
        account_id=account, thread_id="t1", closed_by=ClosedBy(kind=CloserKind.USER, id="u1"), resolved=True
    )
    return serialize_event(make_event(THREAD_CLOSED, closed, source="acl-test", account_id=account))


async def topic_error(user: str, topic: str) -> int:
    """The error code the cluster gives ``user`` describing ``topic`` (0: visible)."""
    admin = AIOKafkaAdminClient(**as_user(user))
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return int(described["error_code"])
    finally:
        await admin.close()


async def test_a_channel_provider_publishes_inbound_messages_that_routing_reads() -> None:
    value = inbound_message()
    async with producer(CHANNEL_PROVIDER) as provider:
        sent = await provider.send_and_wait(CHANNELS_INBOUND, value, key=b"acl-test:t1")
    partition = TopicPartition(CHANNELS_INBOUND, sent.partition)
    # A group of routing's own prefix, never its live group (that would take partitions from the service).
    async with consumer("routing", f"routing.acl-test-{uuid.uuid4().hex[:8]}") as routing:
        routing.assign([partition])
        routing.seek(partition, sent.offset)
        batch = await routing.getmany(partition, timeout_ms=10_000)
        assert [record.value for record in batch.get(partition, [])][:1] == [value]
        await routing.commit({partition: sent.offset + 1})


async def test_a_channel_provider_cannot_command_billing() -> None:
    async with producer(CHANNEL_PROVIDER) as provider:
        with pytest.raises(TopicAuthorizationFailedError):
            await provider.send_and_wait(BILLING_COMMANDS, inbound_message(), key=b"acl-test")


async def test_only_the_human_inbox_publishes_inbox_events() -> None:
    async with producer(CHANNEL_PROVIDER) as provider:
        with pytest.raises(TopicAuthorizationFailedError):
            await provider.send_and_wait(INBOX_EVENTS, closed_thread(), key=b"acl-test:t1")
    async with producer(HUMAN_INBOX) as inbox:
        await inbox.send_and_wait(INBOX_EVENTS, closed_thread(), key=b"acl-test:t1")
    assert await topic_error(HUMAN_INBOX, INBOX_HANDOFFS) == 0
    assert await topic_error(HUMAN_INBOX, CHANNELS_OUTBOUND) == TOPIC_AUTHORIZATION_FAILED


async def test_a_channel_provider_cannot_read_conversations() -> None:
    assert await topic_error(CHANNEL_PROVIDER, CHANNELS_OUTBOUND) == 0
    assert await topic_error(CHANNEL_PROVIDER, CONVERSATIONS_EVENTS) == TOPIC_AUTHORIZATION_FAILED
    group = f"{CHANNEL_PROVIDER}.acl-test-{uuid.uuid4().hex[:8]}"
    allowed, refused = TopicPartition(CHANNELS_OUTBOUND, 0), TopicPartition(CONVERSATIONS_EVENTS, 0)
    async with consumer(CHANNEL_PROVIDER, group) as provider:
        provider.assign([allowed, refused])
        await provider.commit({allowed: 0})
        with pytest.raises(TopicAuthorizationFailedError):
            await provider.commit({refused: 0})


async def test_a_service_writes_only_what_it_publishes() -> None:
    async with producer("routing") as routing:
        with pytest.raises(TopicAuthorizationFailedError):
            await routing.send_and_wait(BILLING_COMMANDS, inbound_message(), key=b"acl-test")


async def test_a_wrong_password_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    client = AIOKafkaProducer(request_timeout_ms=5_000, **as_user(CHANNEL_PROVIDER, password(CHANNEL_PROVIDER) + "x"))
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        with pytest.raises(KafkaConnectionError):
            await client.start()
        await client.stop()
    assert "SaslAuthenticationFailed" in caplog.text
