"""Wires admin-api: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

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

from admin_api.adapters.orm import SCHEMA, inbox_table, outbox_table
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.entrypoints.kafka_subscribers import register_subscribers
from admin_api.handlers.event_intake import EventIntake
from admin_api.settings import AdminSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent admin-api"
DESCRIPTION = "Accounts, keys, agent profile, sources, channels, handoff, users, credits, audit."


@dataclass
class AdminService:
    """Everything one admin-api process holds."""

    kernel: ServiceKernel

    def unit_of_work(self) -> AdminUnitOfWork:
        """A new unit of work over admin-api's schema."""
        return AdminUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: AdminSettings | None = None) -> AdminService:
    """Build (not start) a admin-api process."""
    settings = settings or AdminSettings()
    kernel = build_kernel(
        settings, schema=SCHEMA, outbox=outbox_table, inbox=inbox_table, migrations_dir=MIGRATIONS_DIR
    )
    service = AdminService(kernel)
    intake = EventIntake(service.unit_of_work, consumer_prefix=settings.consumer_group)
    register_subscribers(kernel.broker, intake, settings.consumer_group, settings.consumer_offset_reset)
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: AdminService) -> str:
    """The AsyncAPI document of admin-api's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: AdminSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
