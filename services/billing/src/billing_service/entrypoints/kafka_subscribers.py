"""Billing's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.billing import BillingCommand
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import INBOX_EVENT_TYPES
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.subscriptions import Subscriptions
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
    subscribe = Subscriptions(broker, "billing", group_id, offset_reset, batches)

    @subscribe.batch(
        CONVERSATIONS_EVENTS,
        CloudEvent[ConversationEvent],
        description="Meter credits for conversations the agent handled (previews and tests are free).",
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        await batches.run(events, metering.handle, inbox_consumer=metering.inbox_consumer, prepare=metering.prepare)

    @subscribe.batch(
        INBOX_EVENTS,
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        RawCloudEvent,
        event_types=INBOX_EVENT_TYPES,
        description="A thread a person takes is no AI resolution until a person closes it and the agent answers again.",
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        await batches.run(events, inbox_metering.handle, inbox_consumer=inbox_metering.inbox_consumer)

    @subscribe.each(
        BILLING_COMMANDS,
        description="Open new accounts; apply purchases, plan changes, adjustments (billing alone writes the ledger).",
    )
    async def on_billing_command(event: CloudEvent[BillingCommand]) -> None:
        await commands.handle(event)
