"""Billing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.billing import BillingCommand
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import INBOX_EVENT_TYPES
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import BILLING_COMMANDS, CONVERSATIONS_EVENTS, INBOX_EVENTS
from faststream.kafka import KafkaBroker

from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.metering import ConversationMetering, InboxMetering


def register_subscribers(
    broker: KafkaBroker,
    metering: ConversationMetering,
    inbox_metering: InboxMetering,
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

    @batches.subscriber(
        broker,
        INBOX_EVENTS,
        group_id=f"{group_id}.{INBOX_EVENTS}",
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        decoder=batches.decoder(RawCloudEvent, event_types=INBOX_EVENT_TYPES),
        title=f"billing/{INBOX_EVENTS}",
        description="A thread a person takes is no AI resolution; a closed thread creates no charge.",
        **options,
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        await batches.run(events, inbox_metering.handle, inbox_consumer=inbox_metering.inbox_consumer)

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
