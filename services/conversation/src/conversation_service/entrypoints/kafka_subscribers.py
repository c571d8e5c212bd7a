"""Conversation's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.preview import PreviewRequested
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import AGENT_CONFIG, CONVERSATIONS_ASSIGNED, CONVERSATIONS_PREVIEW
from faststream.kafka import KafkaBroker

from conversation_service.handlers.conversations import ConversationHandler
from conversation_service.handlers.profiles import ConfigFolder


def register_subscribers(
    broker: KafkaBroker,
    conversations: ConversationHandler,
    config: ConfigFolder,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
    *,
    parallel_answers: int | None = None,
) -> None:
    """Subscribe conversation to every topic it consumes (assigned messages in batches, see ``BatchConsumer``;
    with ``parallel_answers``, each message in its own transaction, threads answered at once)."""
    options = subscriber_options(offset_reset)

    @batches.subscriber(
        broker,
        CONVERSATIONS_ASSIGNED,
        group_id=f"{group_id}.{CONVERSATIONS_ASSIGNED}",
        decoder=batches.decoder(CloudEvent[ConversationAssigned]),
        title=f"conversation/{CONVERSATIONS_ASSIGNED}",
        description="Answer messages routing assigned to the agent.",
        **options,
    )
    async def on_conversations_assigned(events: list[CloudEvent[ConversationAssigned]]) -> None:
        if parallel_answers is not None:
            await batches.run_by_key(events, conversations.handle_assigned, parallel=parallel_answers)
            return
        await batches.run(
            events,
            conversations.handle_assigned,
            inbox_consumer=conversations.assigned_inbox_consumer,
            prepare=conversations.prepare_assigned,
        )

    @broker.subscriber(
        AGENT_CONFIG,
        group_id=f"{group_id}.{AGENT_CONFIG}",
        decoder=decode_json_body,
        title=f"conversation/{AGENT_CONFIG}",
        description="Fold each account's agent configuration snapshot.",
        **options,
    )
    async def on_agent_config(event: CloudEvent[AgentConfigSnapshot]) -> None:
        await config.handle(event)

    @broker.subscriber(
        CONVERSATIONS_PREVIEW,
        group_id=f"{group_id}.{CONVERSATIONS_PREVIEW}",
        decoder=decode_json_body,
        title=f"conversation/{CONVERSATIONS_PREVIEW}",
        description="Answer preview questions from admin-api (never billed, never sent to a channel).",
        **options,
    )
    async def on_preview_requested(event: CloudEvent[PreviewRequested]) -> None:
        await conversations.handle_preview(event)
