"""Wires billing: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

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

from billing_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from billing_service.adapters.unit_of_work import BillingUnitOfWork
from billing_service.entrypoints.kafka_subscribers import register_subscribers
from billing_service.handlers.event_intake import EventIntake
from billing_service.settings import BillingSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent billing"
DESCRIPTION = "Credit ledger, plans, exhaustion and restoration."


@dataclass
class BillingService:
    """Everything one billing process holds."""

    kernel: ServiceKernel

    def unit_of_work(self) -> BillingUnitOfWork:
        """A new unit of work over billing's schema."""
        return BillingUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: BillingSettings | None = None) -> BillingService:
    """Build (not start) a billing process."""
    settings = settings or BillingSettings()
    kernel = build_kernel(
        settings, schema=SCHEMA, outbox=outbox_table, inbox=inbox_table, migrations_dir=MIGRATIONS_DIR
    )
    service = BillingService(kernel)
    intake = EventIntake(service.unit_of_work, consumer_prefix=settings.consumer_group)
    register_subscribers(kernel.broker, intake, settings.consumer_group, settings.consumer_offset_reset)
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: BillingService) -> str:
    """The AsyncAPI document of billing's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
