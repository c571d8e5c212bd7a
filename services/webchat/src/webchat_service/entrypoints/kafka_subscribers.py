"""Webchat's Kafka subscribers: thin adapters from topics to the deliveries use case."""

from __future__ import annotations

from customer_agent_shared.events.envelope import RawCloudEvent
from customer_agent_shared.messaging.subscriptions import Subscriptions
from customer_agent_shared.topics import CHANNELS_OUTBOUND, INBOX_HANDOFFS
from faststream.kafka import KafkaBroker

from webchat_service.handlers.deliveries import Deliveries


def register_subscribers(
    broker: KafkaBroker, deliveries: Deliveries, group_id: str, offset_reset: str = "earliest"
) -> None:
    """Subscribe webchat to replies and handoffs; one group shared by every replica (see ``bootstrap``)."""
    subscribe = Subscriptions(broker, "webchat", group_id, offset_reset)

    @subscribe.each(
        CHANNELS_OUTBOUND,
        description="Keep each reply to a live-chat thread webchat holds for the visitor's socket.",
    )
    async def on_outbound(event: RawCloudEvent) -> None:
        await deliveries.on_outbound(event)

    @subscribe.each(
        INBOX_HANDOFFS,
        description="Tell the visitor of a live-chat thread webchat holds that a person took over.",
    )
    async def on_handoff(event: RawCloudEvent) -> None:
        await deliveries.on_handoff(event)
