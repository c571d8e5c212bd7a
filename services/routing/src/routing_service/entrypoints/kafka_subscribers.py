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
from customer_agent_shared.events.replay import (
    REPLAY_ROUTING_REQUESTED,
    ReplayRoutingRequested,
    is_request_for,
    replay_event,
)
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.subscriptions import Subscriptions
from customer_agent_shared.topics import (
    AGENT_CONFIG,
    AGENT_REPLAY,
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
from routing_service.handlers.replay import ReplayRouting


@dataclass(frozen=True)
class RoutingUseCases:
    """The use cases the subscribers call."""

    inbound: RouteInboundMessage
    conversation_events: HandleConversationEvent
    account_state: FoldAccountState
    inbox_events: HandleInboxEvent
    preview: PreviewRouting
    replay: ReplayRouting


def register_subscribers(
    broker: KafkaBroker,
    use_cases: RoutingUseCases,
    group_id: str,
    batches: BatchConsumer,
    offset_reset: str = "earliest",
) -> None:
    """Subscribe routing to every topic it consumes (the busiest in batches, see ``BatchConsumer``)."""
    subscribe = Subscriptions(broker, "routing", group_id, offset_reset, batches)
    _subscribe_thread_events(subscribe, use_cases, batches)
    _subscribe_account_events(subscribe, use_cases)


def _subscribe_thread_events(subscribe: Subscriptions, use_cases: RoutingUseCases, batches: BatchConsumer) -> None:
    """The events that decide or change who owns a thread, in batches."""

    @subscribe.batch(
        CHANNELS_INBOUND,
        CloudEvent[MessageReceived],
        event_types=(MESSAGE_RECEIVED,),
        description="Decide who owns the thread of each inbound visitor message.",
    )
    async def on_messages_received(events: list[CloudEvent[MessageReceived]]) -> None:
        inbound = use_cases.inbound
        await batches.run(events, inbound.handle, inbox_consumer=inbound.inbox_consumer, prepare=inbound.prepare)

    @subscribe.batch(
        CONVERSATIONS_EVENTS,
        CloudEvent[ConversationEvent],
        description="Hand off threads the agent cannot answer or where the visitor asks for a person.",
    )
    async def on_conversation_events(events: list[CloudEvent[ConversationEvent]]) -> None:
        handoffs = use_cases.conversation_events
        await batches.run(events, handoffs.handle, inbox_consumer=handoffs.inbox_consumer, prepare=handoffs.prepare)

    @subscribe.batch(
        INBOX_EVENTS,
        # Each type has its own data model: the use case validates the data (a bad one is dead-lettered).
        RawCloudEvent,
        event_types=INBOX_EVENT_TYPES,
        description="Free capacity and change ownership when people close, reassign or return threads; "
        "keep users' presence.",
    )
    async def on_inbox_events(events: list[RawCloudEvent]) -> None:
        inbox = use_cases.inbox_events
        await batches.run(events, inbox.handle, inbox_consumer=inbox.inbox_consumer, prepare=inbox.prepare)


def _subscribe_account_events(subscribe: Subscriptions, use_cases: RoutingUseCases) -> None:
    """An account's configuration and credits folded into routing's view, and read-only questions about it."""

    @subscribe.each(AGENT_CONFIG, description="Fold each account's agent configuration snapshot into routing's view.")
    async def on_agent_config(event: CloudEvent[AgentConfigSnapshot]) -> None:
        await use_cases.account_state.fold_config(AGENT_CONFIG, event)

    @subscribe.each(
        BILLING_CREDIT_STATE,
        description="Pause or resume new assignments when credits are exhausted or restored.",
    )
    async def on_credit_state(event: CloudEvent[CreditState]) -> None:
        await use_cases.account_state.fold_credit_state(BILLING_CREDIT_STATE, event)

    @subscribe.each(
        CONVERSATIONS_PREVIEW,
        description="Tell an admin's preview what routing would do with the question (read only).",
    )
    async def on_preview_requested(event: CloudEvent[PreviewRequested]) -> None:
        await use_cases.preview.handle(event)

    @subscribe.each(
        AGENT_REPLAY,
        description="Tell a draft replay what routing would do with each question, live and draft "
        "(replay.routing_requested; conversation's requests on the topic are skipped, other types "
        "dead-lettered).",
    )
    async def on_replay_requested(event: RawCloudEvent) -> None:
        if is_request_for(event, REPLAY_ROUTING_REQUESTED):
            await use_cases.replay.handle(replay_event(event, ReplayRoutingRequested))
