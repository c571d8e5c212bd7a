"""Admin-api's Kafka subscribers: thin adapters from topics to use cases.

Preview replies are not here: every replica must see every reply, so they are
read by ``adapters.preview_replies.PreviewReplyListener`` outside any group.
"""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.events.audit import AuditRecorded
from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import INBOX_EVENT_TYPES
from customer_agent_shared.events.sources import SourceStatus
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import (
    AUDIT,
    BILLING_CREDIT_STATE,
    CONVERSATIONS_EVENTS,
    INBOX_EVENTS,
    SOURCES_STATUS,
)
from faststream.kafka import KafkaBroker

from admin_api.handlers.credits import CreditUseCases
from admin_api.handlers.event_intake import AuditIntake
from admin_api.handlers.insights import InsightUseCases
from admin_api.handlers.sources import SourceUseCases


@dataclass(frozen=True)
class Folds:
    """The use cases the subscribers feed."""

    sources: SourceUseCases
    insights: InsightUseCases
    credits: CreditUseCases
    audit: AuditIntake


def register_subscribers(
    broker: KafkaBroker,
    folds: Folds,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe admin-api to every topic it folds (conversation events in batches, see ``BatchConsumer``)."""
    options = subscriber_options(offset_reset)

    @broker.subscriber(
        SOURCES_STATUS,
        group_id=f"{group_id}.{SOURCES_STATUS}",
        decoder=decode_json_body,
        title=f"admin-api/{SOURCES_STATUS}",
        description="Fold ingestion progress into each source's state and counts.",
        **options,
    )
    async def on_source_status(event: CloudEvent[SourceStatus]) -> None:
        await folds.sources.apply_status(f"{group_id}:{SOURCES_STATUS}", event.id, event.data)

    @batches.subscriber(
        broker,
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=batches.decoder(CloudEvent[ConversationEvent]),
        title=f"admin-api/{CONVERSATIONS_EVENTS}",
        description="Count conversations for performance and collect knowledge gaps.",
        **options,
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        consumer = f"{group_id}:{CONVERSATIONS_EVENTS}"

        async def apply(event: CloudEvent[ConversationEvent]) -> bool:
            return await folds.insights.apply_event(consumer, event.id, event.type, event.data)

        await batches.run(events, apply, inbox_consumer=consumer)

    @batches.subscriber(
        broker,
        INBOX_EVENTS,
        group_id=f"{group_id}.{INBOX_EVENTS}",
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        decoder=batches.decoder(RawCloudEvent, event_types=INBOX_EVENT_TYPES),
        title=f"admin-api/{INBOX_EVENTS}",
        description="Threads people close in the inbox end their conversation in the performance figures.",
        **options,
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        consumer = f"{group_id}:{INBOX_EVENTS}"

        async def apply(event: RawCloudEvent) -> bool:
            return await folds.insights.apply_inbox_event(consumer, event)

        await batches.run(events, apply, inbox_consumer=consumer)

    @broker.subscriber(
        AUDIT,
        group_id=f"{group_id}.{AUDIT}",
        decoder=decode_json_body,
        title=f"admin-api/{AUDIT}",
        description="Keep the audit trail of changes made by any service.",
        **options,
    )
    async def on_audit_recorded(event: CloudEvent[AuditRecorded]) -> None:
        await folds.audit.record(event)

    @broker.subscriber(
        BILLING_CREDIT_STATE,
        group_id=f"{group_id}.{BILLING_CREDIT_STATE}",
        decoder=decode_json_body,
        title=f"admin-api/{BILLING_CREDIT_STATE}",
        description="Keep each account's credit balance readable (older versions ignored).",
        **options,
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await folds.credits.apply_state(f"{group_id}:{BILLING_CREDIT_STATE}", event.id, event.data)
