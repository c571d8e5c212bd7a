"""Billing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.billing import BillingCommand
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import BILLING_COMMANDS, CONVERSATIONS_EVENTS
from faststream.kafka import KafkaBroker

from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.metering import ConversationMetering


def register_subscribers(
    broker: KafkaBroker,
    metering: ConversationMetering,
    commands: CreditCommands,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe billing to every topic it consumes (conversation events in batches, see ``BatchConsumer``)."""
    options = subscriber_options(offset_reset)

    @batches.subscriber(
        broker,
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=batches.decoder(CloudEvent[ConversationEvent]),
        title=f"billing/{CONVERSATIONS_EVENTS}",
        description="Meter credits for conversations the agent handled (previews and tests are free).",
        **options,
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        await batches.run(events, metering.handle, inbox_consumer=metering.inbox_consumer, prepare=metering.prepare)

    @broker.subscriber(
        BILLING_COMMANDS,
        group_id=f"{group_id}.{BILLING_COMMANDS}",
        decoder=decode_json_body,
        title=f"billing/{BILLING_COMMANDS}",
        description="Apply purchases, plan changes and adjustments; billing is the only ledger writer.",
        **options,
    )
    async def on_billing_command(event: CloudEvent[BillingCommand]) -> None:
        await commands.handle(event)
