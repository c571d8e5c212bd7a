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
from customer_agent_shared.messaging.subscriptions import Subscriptions
from customer_agent_shared.topics import (
    AGENT_REPLAY_RESULTS,
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
from admin_api.handlers.replays import ReplayUseCases
from admin_api.handlers.sources import SourceUseCases


@dataclass(frozen=True)
class Folds:
    """The use cases the subscribers feed."""

    sources: SourceUseCases
    insights: InsightUseCases
    credits: CreditUseCases
    audit: AuditIntake
    replays: ReplayUseCases


def register_subscribers(
    broker: KafkaBroker,
    folds: Folds,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe admin-api to every topic it folds (conversation events in batches, see ``BatchConsumer``)."""
    subscribe = Subscriptions(broker, "admin-api", group_id, offset_reset, batches)

    @subscribe.each(SOURCES_STATUS, description="Fold ingestion progress into each source's state and counts.")
    async def on_source_status(event: CloudEvent[SourceStatus]) -> None:
        await folds.sources.apply_status(f"{group_id}:{SOURCES_STATUS}", event.id, event.data)

    @subscribe.batch(
        CONVERSATIONS_EVENTS,
        CloudEvent[ConversationEvent],
        description="Count conversations for performance and collect knowledge gaps.",
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        consumer = f"{group_id}:{CONVERSATIONS_EVENTS}"

        async def apply(event: CloudEvent[ConversationEvent]) -> bool:
            return await folds.insights.apply_event(consumer, event.id, event.type, event.data)

        await batches.run(events, apply, inbox_consumer=consumer)

    @subscribe.batch(
        INBOX_EVENTS,
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        RawCloudEvent,
        event_types=INBOX_EVENT_TYPES,
        description="Threads people close in the inbox end their conversation in the performance figures.",
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        consumer = f"{group_id}:{INBOX_EVENTS}"

        async def apply(event: RawCloudEvent) -> bool:
            return await folds.insights.apply_inbox_event(consumer, event)

        await batches.run(events, apply, inbox_consumer=consumer)

    @subscribe.each(AUDIT, description="Keep the audit trail of changes made by any service.")
    async def on_audit_recorded(event: CloudEvent[AuditRecorded]) -> None:
        await folds.audit.record(event)

    @subscribe.each(
        BILLING_CREDIT_STATE, description="Keep each account's credit balance readable (older versions ignored)."
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await folds.credits.apply_state(f"{group_id}:{BILLING_CREDIT_STATE}", event.id, event.data)

    @subscribe.each(
        AGENT_REPLAY_RESULTS,
        description="Take in a draft replay's verdicts: conversation's (then ask routing), then routing's.",
    )
    async def on_replay_result(event: RawCloudEvent) -> None:
        await folds.replays.apply_result(f"{group_id}:{AGENT_REPLAY_RESULTS}", event)
