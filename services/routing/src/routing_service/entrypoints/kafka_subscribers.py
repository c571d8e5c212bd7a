"""Routing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import MessageReceived
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    BILLING_CREDIT_STATE,
    CHANNELS_INBOUND,
    CONVERSATIONS_EVENTS,
)
from faststream.kafka import KafkaBroker

from routing_service.handlers.event_intake import EventIntake


def register_subscribers(
    broker: KafkaBroker, intake: EventIntake, group_id: str, offset_reset: str = "earliest"
) -> None:
    """Subscribe routing to every topic it consumes."""
    options = subscriber_options(offset_reset)

    @broker.subscriber(
        CHANNELS_INBOUND,
        group_id=f"{group_id}.{CHANNELS_INBOUND}",
        decoder=decode_json_body,
        title="routing/channels.inbound.v1",
        description="Decide who owns the thread of each inbound visitor message.",
        **options,
    )
    async def on_message_received(event: CloudEvent[MessageReceived]) -> None:
        await intake.record(CHANNELS_INBOUND, event)

    @broker.subscriber(
        AGENT_CONFIG,
        group_id=f"{group_id}.{AGENT_CONFIG}",
        decoder=decode_json_body,
        title="routing/agent.config.v1",
        description="Fold each account's agent configuration snapshot into routing's view.",
        **options,
    )
    async def on_agent_config(event: CloudEvent[AgentConfigSnapshot]) -> None:
        await intake.record(AGENT_CONFIG, event)

    @broker.subscriber(
        BILLING_CREDIT_STATE,
        group_id=f"{group_id}.{BILLING_CREDIT_STATE}",
        decoder=decode_json_body,
        title="routing/billing.credit-state.v1",
        description="Pause or resume new assignments when credits are exhausted or restored.",
        **options,
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await intake.record(BILLING_CREDIT_STATE, event)

    @broker.subscriber(
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=decode_json_body,
        title="routing/conversations.events.v1",
        description="Hand off threads the agent cannot answer or where the visitor asks for a person.",
        **options,
    )
    async def on_conversation_event(event: CloudEvent[ConversationEvent]) -> None:
        await intake.record(CONVERSATIONS_EVENTS, event)
