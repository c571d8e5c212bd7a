"""Wires conversation: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from fastapi import FastAPI

from conversation_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from conversation_service.adapters.unit_of_work import ConversationUnitOfWork
from conversation_service.entrypoints.kafka_subscribers import register_subscribers
from conversation_service.handlers.event_intake import EventIntake
from conversation_service.settings import ConversationSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent conversation"
DESCRIPTION = "Grounded answers with citations in the visitor's language."


@dataclass
class ConversationService:
    """Everything one conversation process holds."""

    kernel: ServiceKernel

    def unit_of_work(self) -> ConversationUnitOfWork:
        """A new unit of work over conversation's schema."""
        return ConversationUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: ConversationSettings | None = None) -> ConversationService:
    """Build (not start) a conversation process."""
    settings = settings or ConversationSettings()
    kernel = build_kernel(
        settings,
        schema=SCHEMA,
        outbox=outbox_table,
        inbox=inbox_table,
        migrations_dir=MIGRATIONS_DIR,
        use_opensearch=True,
    )
    service = ConversationService(kernel)
    intake = EventIntake(service.unit_of_work, consumer_prefix=settings.consumer_group)
    register_subscribers(kernel.broker, intake, settings.consumer_group, settings.consumer_offset_reset)
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: ConversationService) -> str:
    """The AsyncAPI document of conversation's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: ConversationSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
