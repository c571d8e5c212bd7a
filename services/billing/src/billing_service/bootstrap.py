"""Wires billing: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from customer_agent_shared.topics import BILLING_COMMANDS, CONVERSATIONS_EVENTS, INBOX_EVENTS
from fastapi import FastAPI

from billing_service.adapters.orm import SCHEMA, inbox_table, outbox_table
from billing_service.adapters.unit_of_work import BillingUnitOfWork
from billing_service.clock import Clock, system_clock
from billing_service.entrypoints.kafka_subscribers import register_subscribers
from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.metering import ConversationMetering, InboxMetering
from billing_service.handlers.retention import retentions
from billing_service.handlers.scheduler import BillingScheduler
from billing_service.settings import BillingSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent billing"
DESCRIPTION = "Credit ledger, plans, exhaustion and restoration."


@dataclass
class BillingService:
    """Everything one billing process holds."""

    kernel: ServiceKernel
    clock: Clock = system_clock

    def unit_of_work(self) -> BillingUnitOfWork:
        """A new unit of work over billing's schema."""
        return BillingUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def build_service(settings: BillingSettings | None = None, *, clock: Clock = system_clock) -> BillingService:
    """Build (not start) a billing process; ``clock`` is where it reads the time (tests move it)."""
    settings = settings or BillingSettings()
    kernel = build_kernel(
        settings, schema=SCHEMA, outbox=outbox_table, inbox=inbox_table, migrations_dir=MIGRATIONS_DIR
    )
    service = BillingService(kernel, clock)
    policy = LedgerPolicy(default_plan=settings.default_plan(), history_entries=settings.history_entries)
    # Inbox consumer names are fixed per topic (not per group) so replicas share one inbox.
    metering = ConversationMetering(
        service.unit_of_work, policy=policy, clock=clock, consumer=f"billing:{CONVERSATIONS_EVENTS}"
    )
    inbox_metering = InboxMetering(service.unit_of_work, policy=policy, clock=clock, consumer=f"billing:{INBOX_EVENTS}")
    commands = CreditCommands(service.unit_of_work, policy=policy, clock=clock, consumer=f"billing:{BILLING_COMMANDS}")
    register_subscribers(
        kernel.broker,
        metering,
        inbox_metering,
        commands,
        settings.consumer_group,
        kernel.batch_consumer(service.unit_of_work, settings),
        settings.consumer_offset_reset,
    )
    scheduler = BillingScheduler(
        service.unit_of_work,
        policy=policy,
        clock=clock,
        interval_seconds=settings.scheduler_interval_seconds,
        thread_retention=timedelta(days=settings.thread_retention_days),
    )
    kernel.lifecycle.add("billing scheduler", scheduler.periodic.start, scheduler.periodic.stop)
    kernel.sweep_retention(service.unit_of_work, retentions(command_days=settings.applied_command_retention_days))
    start_consumers_last(kernel)
    return service


def asyncapi_document(service: BillingService) -> str:
    """The AsyncAPI document of billing's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app(settings: BillingSettings | None = None) -> FastAPI:
    """The ASGI app: operations endpoints, with Kafka consumers running in its lifespan."""
    return create_operations_app(build_service(settings).kernel, title=TITLE, description=DESCRIPTION)
