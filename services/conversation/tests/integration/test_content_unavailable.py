"""With the content index unreachable, a live message waits for it, then goes to a person once, and the
visitor is told so once, with the default settings (no handoff notices of conversation's own)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from conversation_service.bootstrap import ConversationService, build_service
from conversation_service.handlers.conversations import AnswerDelayedError
from conversation_service.settings import ConversationSettings
from customer_agent_shared.events.channels import OutboundKind
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_EVENTS
from sqlalchemy import text

from .messages import assigned_event

pytestmark = pytest.mark.integration

ACCOUNT = unique_name("conv-down")


@pytest.fixture(scope="module")
async def service(infrastructure: InfrastructureSettings) -> AsyncIterator[ConversationService]:
    """Conversation over a scratch schema, its content index at an address where nothing listens."""
    schema = unique_name("conv_down").replace("-", "_")
    settings = ConversationSettings(
        service_name=unique_name("conversation-down"),
        database_schema=schema,
        consumer_group=unique_name("conversation.down"),
        consumer_offset_reset="latest",
        opensearch_url="http://127.0.0.1:9",  # the discard port: connection refused
        embeddings="off",
        resolution_sweep_seconds=0,
        unavailable_wait_seconds=30,
    )
    built = build_service(settings)
    try:
        async with built.kernel.lifecycle.running():
            yield built
    finally:
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def test_a_young_message_is_put_back_and_leaves_no_trace(service: ConversationService) -> None:
    event = assigned_event("How do I reset my password?", unique_name("thread"), account=ACCOUNT)

    with pytest.raises(AnswerDelayedError):
        await service.conversations.handle_assigned(event)

    # Nothing was claimed: once the index is back (or the wait is over) the same event is answered.
    late = event.model_copy(update={"time": datetime.now(UTC) - timedelta(seconds=31)})
    reply = await service.conversations.handle_assigned(late)
    assert reply is not None
    assert reply.outcome == "content_unavailable"


async def _records_of(
    infrastructure: InfrastructureSettings, topic: str, thread: str, offsets: dict[int, int]
) -> list[tuple[str, dict[str, object]]]:
    """The events of ``thread`` on ``topic`` after ``offsets``: once the first is there, and two seconds more
    for a duplicate to show up."""

    def of_thread(records: list[ReceivedRecord]) -> list[tuple[str, dict[str, object]]]:
        envelopes = [json.loads(record.value) for record in records]
        return [
            (envelope["type"], envelope["data"]) for envelope in envelopes if envelope["data"]["thread_id"] == thread
        ]

    bootstrap = infrastructure.kafka_bootstrap_servers
    await collect_records(bootstrap, topic, from_offsets=offsets, until=lambda records: bool(of_thread(records)))
    return of_thread(
        await collect_records(bootstrap, topic, from_offsets=offsets, until=lambda _: False, timeout_seconds=2)
    )


async def test_after_the_wait_the_visitor_is_told_and_handed_off_once(
    service: ConversationService, infrastructure: InfrastructureSettings
) -> None:
    thread = unique_name("thread")
    event = assigned_event("Wie kann ich mein Passwort zurücksetzen?", thread, account=ACCOUNT, locale="de-DE")
    old = event.model_copy(update={"time": datetime.now(UTC) - timedelta(minutes=5)})
    outbound_from = await end_offsets(infrastructure.kafka_bootstrap_servers, CHANNELS_OUTBOUND)
    events_from = await end_offsets(infrastructure.kafka_bootstrap_servers, CONVERSATIONS_EVENTS)

    reply = await service.conversations.handle_assigned(old)

    assert reply is not None
    assert reply.kind is OutboundKind.HANDOFF_NOTICE
    assert reply.language == "de"
    assert "nachschlagen" in reply.text
    assert await service.conversations.handle_assigned(old) is None  # a redelivery changes nothing
    async with service.unit_of_work() as uow:
        stored = await uow.threads.peek(ACCOUNT, thread)
    assert stored is not None
    assert stored.handed_off
    sent = await _records_of(infrastructure, CHANNELS_OUTBOUND, thread, outbound_from)
    assert [(kind, data["kind"], data["language"], data["text"]) for kind, data in sent] == [
        ("message.send", "handoff_notice", "de", reply.text)
    ]
    recorded = await _records_of(infrastructure, CONVERSATIONS_EVENTS, thread, events_from)
    assert [(kind, data["reason"]) for kind, data in recorded] == [("conversation.cannot_answer", "cannot_answer")]
