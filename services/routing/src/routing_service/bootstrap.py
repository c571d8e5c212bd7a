"""Wires routing: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from customer_agent_shared.topics import (
    AGENT_REPLAY,
    CHANNELS_INBOUND,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW,
    INBOX_EVENTS,
)
from fastapi import FastAPI

from routing_service.adapters.account_cache import AccountDirectory
from routing_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.entrypoints.kafka_subscribers import RoutingUseCases, register_subscribers
from routing_service.handlers.account_state import FoldAccountState
from routing_service.handlers.conversation_events import HandleConversationEvent
from routing_service.handlers.inbound import RouteInboundMessage
from routing_service.handlers.inbox_events import HandleInboxEvent
from routing_service.handlers.preview import PreviewRouting
from routing_service.handlers.replay import ReplayRouting
from routing_service.handlers.retention import retentions
from routing_service.settings import RoutingSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent routing"
DESCRIPTION = "Thread ownership, handoff rules, availability and pause."


@dataclass
class RoutingService:
    """Everything one routing process holds."""

    kernel: ServiceKernel
    directory: AccountDirectory

    def unit_of_work(self) -> RoutingUnitOfWork:
        """A new unit of work over routing's schema."""
        return RoutingUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: RoutingSettings | None = None) -> RoutingService:
    """Build (not start) a routing process."""
    settings = settings or RoutingSettings()
    kernel = build_kernel(
        settings, schema=SCHEMA, outbox=outbox_table, inbox=inbox_table, migrations_dir=MIGRATIONS_DIR
    )
    service = RoutingService(kernel, AccountDirectory(ttl_seconds=settings.account_cache_seconds))
    prefix = settings.consumer_group
    use_cases = RoutingUseCases(
        inbound=RouteInboundMessage(service.unit_of_work, service.directory, f"{prefix}:{CHANNELS_INBOUND}"),
        conversation_events=HandleConversationEvent(
            service.unit_of_work, service.directory, f"{prefix}:{CONVERSATIONS_EVENTS}"
        ),
        account_state=FoldAccountState(service.unit_of_work, service.directory, prefix),
        inbox_events=HandleInboxEvent(service.unit_of_work, f"{prefix}:{INBOX_EVENTS}"),
        preview=PreviewRouting(service.unit_of_work, service.directory, f"{prefix}:{CONVERSATIONS_PREVIEW}"),
        replay=ReplayRouting(service.unit_of_work, service.directory, f"{prefix}:{AGENT_REPLAY}"),
    )
    register_subscribers(
        kernel.broker,
        use_cases,
        prefix,
        kernel.batch_consumer(service.unit_of_work, settings),
        settings.consumer_offset_reset,
    )
    kernel.sweep_retention(
        service.unit_of_work,
        retentions(
            transcript_days=settings.transcript_retention_days,
            transcript_max_days=settings.transcript_max_days,
            transition_days=settings.transition_retention_days,
        ),
    )
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: RoutingService) -> str:
    """The AsyncAPI document of routing's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
