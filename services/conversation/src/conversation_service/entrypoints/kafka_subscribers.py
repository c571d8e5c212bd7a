"""Conversation's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.preview import PreviewRequested
from customer_agent_shared.events.replay import REPLAY_REQUESTED, ReplayRequested, is_request_for, replay_event
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.subscriptions import Subscriptions
from customer_agent_shared.topics import AGENT_CONFIG, AGENT_REPLAY, CONVERSATIONS_ASSIGNED, CONVERSATIONS_PREVIEW
from faststream.kafka import KafkaBroker

from conversation_service.handlers.conversations import ConversationHandler
from conversation_service.handlers.profiles import ConfigFolder
from conversation_service.handlers.replay import DraftReplay


def register_subscribers(
    broker: KafkaBroker,
    conversations: ConversationHandler,
    config: ConfigFolder,
    replay: DraftReplay,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
    *,
    parallel_answers: int | None = None,
) -> None:
    """Subscribe conversation to every topic it consumes (assigned messages in batches, see ``BatchConsumer``;
    with ``parallel_answers``, each message in its own transaction, threads answered at once)."""
    subscribe = Subscriptions(broker, "conversation", group_id, offset_reset, batches)

    @subscribe.batch(
        CONVERSATIONS_ASSIGNED,
        CloudEvent[ConversationAssigned],
        description="Answer messages routing assigned to the agent.",
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

    @subscribe.each(AGENT_CONFIG, description="Fold each account's agent configuration snapshot.")
    async def on_agent_config(event: CloudEvent[AgentConfigSnapshot]) -> None:
        await config.handle(event)

    @subscribe.each(
        CONVERSATIONS_PREVIEW,
        description="Answer preview questions from admin-api (never billed, never sent to a channel).",
    )
    async def on_preview_requested(event: CloudEvent[PreviewRequested]) -> None:
        await conversations.handle_preview(event)

    @subscribe.each(
        AGENT_REPLAY,
        description="Replay the account's latest real questions against its live and draft configuration "
        "(replay.requested; routing's requests on the topic are skipped, other types dead-lettered).",
    )
    async def on_replay_requested(event: RawCloudEvent) -> None:
        if is_request_for(event, REPLAY_REQUESTED):
            await replay.handle(replay_event(event, ReplayRequested))
