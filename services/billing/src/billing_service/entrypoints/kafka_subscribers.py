"""Billing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.billing import BillingCommand
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import BILLING_COMMANDS, CONVERSATIONS_EVENTS
from faststream.kafka import KafkaBroker

from billing_service.handlers.event_intake import EventIntake


def register_subscribers(
    broker: KafkaBroker, intake: EventIntake, group_id: str, offset_reset: str = "earliest"
) -> None:
    """Subscribe billing to every topic it consumes."""
    options = subscriber_options(offset_reset)

    @broker.subscriber(
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=decode_json_body,
        title=f"billing/{CONVERSATIONS_EVENTS}",
        description="Meter credits for conversations the agent handled.",
        **options,
    )
    async def on_conversation_event(event: CloudEvent[ConversationEvent]) -> None:
        await intake.record(CONVERSATIONS_EVENTS, event)

    @broker.subscriber(
        BILLING_COMMANDS,
        group_id=f"{group_id}.{BILLING_COMMANDS}",
        decoder=decode_json_body,
        title=f"billing/{BILLING_COMMANDS}",
        description="Apply purchases, plan changes and adjustments.",
        **options,
    )
    async def on_billing_command(event: CloudEvent[BillingCommand]) -> None:
        await intake.record(BILLING_COMMANDS, event)
