"""Admin-api's Kafka subscribers: thin adapters from topics to use cases."""

from __future__ import annotations

from customer_agent_shared.events.audit import AuditRecorded
from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.preview import PreviewAnswered
from customer_agent_shared.events.sources import SourceStatus
from customer_agent_shared.messaging.broker import subscriber_options
from customer_agent_shared.messaging.reliable import decode_json_body
from customer_agent_shared.topics import (
    AUDIT,
    BILLING_CREDIT_STATE,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW_REPLIES,
    SOURCES_STATUS,
)
from faststream.kafka import KafkaBroker

from admin_api.handlers.event_intake import EventIntake


def register_subscribers(
    broker: KafkaBroker, intake: EventIntake, group_id: str, offset_reset: str = "earliest"
) -> None:
    """Subscribe admin-api to every topic it consumes."""
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
        await intake.record(SOURCES_STATUS, event)

    @broker.subscriber(
        CONVERSATIONS_EVENTS,
        group_id=f"{group_id}.{CONVERSATIONS_EVENTS}",
        decoder=decode_json_body,
        title=f"admin-api/{CONVERSATIONS_EVENTS}",
        description="Count conversations for performance and collect knowledge gaps.",
        **options,
    )
    async def on_conversation_event(event: CloudEvent[ConversationEvent]) -> None:
        await intake.record(CONVERSATIONS_EVENTS, event)

    @broker.subscriber(
        AUDIT,
        group_id=f"{group_id}.{AUDIT}",
        decoder=decode_json_body,
        title=f"admin-api/{AUDIT}",
        description="Keep the audit trail of changes made by any service.",
        **options,
    )
    async def on_audit_recorded(event: CloudEvent[AuditRecorded]) -> None:
        await intake.record(AUDIT, event)

    @broker.subscriber(
        BILLING_CREDIT_STATE,
        group_id=f"{group_id}.{BILLING_CREDIT_STATE}",
        decoder=decode_json_body,
        title=f"admin-api/{BILLING_CREDIT_STATE}",
        description="Keep each account's credit balance readable.",
        **options,
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await intake.record(BILLING_CREDIT_STATE, event)

    @broker.subscriber(
        CONVERSATIONS_PREVIEW_REPLIES,
        group_id=f"{group_id}.{CONVERSATIONS_PREVIEW_REPLIES}",
        decoder=decode_json_body,
        title=f"admin-api/{CONVERSATIONS_PREVIEW_REPLIES}",
        description="Complete pending preview requests.",
        **options,
    )
    async def on_preview_answered(event: CloudEvent[PreviewAnswered]) -> None:
        await intake.record(CONVERSATIONS_PREVIEW_REPLIES, event)
