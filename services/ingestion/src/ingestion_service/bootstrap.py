"""Wires ingestion: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

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

from ingestion_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from ingestion_service.adapters.unit_of_work import IngestionUnitOfWork
from ingestion_service.entrypoints.kafka_subscribers import register_subscribers
from ingestion_service.handlers.event_intake import EventIntake
from ingestion_service.settings import IngestionSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent ingestion"
DESCRIPTION = "Crawls, parses, chunks and indexes content sources."


@dataclass
class IngestionService:
    """Everything one ingestion process holds."""

    kernel: ServiceKernel

    def unit_of_work(self) -> IngestionUnitOfWork:
        """A new unit of work over ingestion's schema."""
        return IngestionUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: IngestionSettings | None = None) -> IngestionService:
    """Build (not start) a ingestion process."""
    settings = settings or IngestionSettings()
    kernel = build_kernel(
        settings,
        schema=SCHEMA,
        outbox=outbox_table,
        inbox=inbox_table,
        migrations_dir=MIGRATIONS_DIR,
        use_opensearch=True,
    )
    service = IngestionService(kernel)
    intake = EventIntake(service.unit_of_work, consumer_prefix=settings.consumer_group)
    register_subscribers(kernel.broker, intake, settings.consumer_group, settings.consumer_offset_reset)
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: IngestionService) -> str:
    """The AsyncAPI document of ingestion's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: IngestionSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
