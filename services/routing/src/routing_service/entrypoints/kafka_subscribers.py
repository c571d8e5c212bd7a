"""Routing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import MESSAGE_RECEIVED, MessageReceived
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import INBOX_EVENT_TYPES
from customer_agent_shared.events.preview import PreviewRequested
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    BILLING_CREDIT_STATE,
    CHANNELS_INBOUND,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW,
    INBOX_EVENTS,
)
from faststream.kafka import KafkaBroker

from routing_service.handlers.account_state import FoldAccountState
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from routing_service.handlers.inbox_events import HandleInboxEvent
from routing_service.handlers.preview import PreviewRouting


@dataclass(frozen=True)
class RoutingUseCases:
    """The use cases the subscribers call."""

    inbound: RouteInboundMessage
    conversation_events: HandleConversationEvent
    account_state: FoldAccountState
    inbox_events: HandleInboxEvent
    preview: PreviewRouting


def register_subscribers(
    broker: KafkaBroker,
    use_cases: RoutingUseCases,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe routing to every topic it consumes (the two busiest in batches, see ``BatchConsumer``)."""
    options = subscriber_options(offset_reset)

    @batches.subscriber(
        broker,
        CHANNELS_INBOUND,
        group_id=f"{group_id}.{CHANNELS_INBOUND}",
        decoder=batches.decoder(CloudEvent[MessageReceived], event_types=(MESSAGE_RECEIVED,)),
        title="routing/channels.inbound.v1",
        description="Decide who owns the thread of each inbound visitor message.",
        **options,
    )
    async def on_messages_received(events: list[CloudEvent[MessageReceived]]) -> None:
        await batches.run(
            events,
            use_cases.inbound.handle,
            inbox_consumer=use_cases.inbound.inbox_consumer,
            prepare=use_cases.inbound.prepare,
        )

    @broker.subscriber(
        AGENT_CONFIG,
        group_id=f"{group_id}.{AGENT_CONFIG}",
        decoder=decode_json_body,
        title="routing/agent.config.v1",
        description="Fold each account's agent configuration snapshot into routing's view.",
        **options,
    )
    async def on_agent_config(event: CloudEvent[AgentConfigSnapshot]) -> None:
        await use_cases.account_state.fold_config(AGENT_CONFIG, event)

    @broker.subscriber(
        CONVERSATIONS_PREVIEW,
        group_id=f"{group_id}.{CONVERSATIONS_PREVIEW}",
        decoder=decode_json_body,
        title="routing/conversations.preview.v1",
        description="Tell an admin's preview what routing would do with the question (read only).",
        **options,
    )
    async def on_preview_requested(event: CloudEvent[PreviewRequested]) -> None:
        await use_cases.preview.handle(event)

    @broker.subscriber(
        BILLING_CREDIT_STATE,
        group_id=f"{group_id}.{BILLING_CREDIT_STATE}",
        decoder=decode_json_body,
        title="routing/billing.credit-state.v1",
        description="Pause or resume new assignments when credits are exhausted or restored.",
        **options,
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await use_cases.account_state.fold_credit_state(BILLING_CREDIT_STATE, event)

    @batches.subscriber(
        broker,
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=batches.decoder(CloudEvent[ConversationEvent]),
        title="routing/conversations.events.v1",
        description="Hand off threads the agent cannot answer or where the visitor asks for a person.",
        **options,
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        await batches.run(
            events, use_cases.conversation_events.handle, inbox_consumer=use_cases.conversation_events.inbox_consumer
        )

    @batches.subscriber(
        broker,
        INBOX_EVENTS,
        group_id=f"{group_id}.{INBOX_EVENTS}",
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        decoder=batches.decoder(RawCloudEvent, event_types=INBOX_EVENT_TYPES),
        title=f"routing/{INBOX_EVENTS}",
        description="Free capacity and change ownership when people close, reassign or return threads; "
        "keep users' presence.",
        **options,
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        await batches.run(events, use_cases.inbox_events.handle, inbox_consumer=use_cases.inbox_events.inbox_consumer)
