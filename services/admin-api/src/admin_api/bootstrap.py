"""Wires admin-api: settings → stores → Kafka → use cases → entrypoints, and the process lifecycle."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from customer_agent_shared.kernel import (
    ServiceKernel,
    build_kernel,
    create_operations_app,
    start_consumers_last,
)
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.topics import AUDIT, CONVERSATIONS_PREVIEW_REPLIES
from customer_agent_shared.uploads import postgres as upload_store
from fastapi import FastAPI

from admin_api.adapters.orm import SCHEMA, inbox_table, outbox_table
from admin_api.adapters.preview_replies import PreviewReplyListener
from admin_api.adapters.rate_limits import Budgets, RequestBudgets, redis_budgets
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.entrypoints.console import install_console
from admin_api.entrypoints.http.main import install_api
from admin_api.entrypoints.http.security import ApiServices
from admin_api.entrypoints.kafka_subscribers import Folds, register_subscribers
from admin_api.handlers.accounts import AccountUseCases
from admin_api.handlers.audit import AuditLogReader
from admin_api.handlers.configuration import ConfigurationUseCases
from admin_api.handlers.credits import CreditUseCases
from admin_api.handlers.demo import ensure_demo_account
from admin_api.handlers.drafts import DraftUseCases
from admin_api.handlers.event_intake import AuditIntake
from admin_api.handlers.insights import InsightUseCases
from admin_api.handlers.preview import PreviewUseCase
from admin_api.handlers.replays import ReplayUseCases
from admin_api.handlers.retention import retentions
from admin_api.handlers.sources import SourceUseCases
from admin_api.settings import AdminSettings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
TITLE = "Customer Agent admin-api"
DESCRIPTION = (
    "Accounts, keys, agent profile, sources, channels, handoff, users, credits, performance, knowledge gaps, audit. "
    "Every call under /v1/accounts/{account_id} needs 'Authorization: Bearer <api key>'; errors are "
    '{"error": {"code", "message"}}.'
)
VERSION = "1.0.0"
RETENTION_INTERVAL_SECONDS = 3600.0


@dataclass
class AdminService:
    """Everything one admin-api process holds."""

    kernel: ServiceKernel
    settings: AdminSettings
    api: ApiServices | None = None

    def unit_of_work(self) -> AdminUnitOfWork:
        """A unit of work over admin-api's schema (joining the request transaction when one is open)."""
        return AdminUnitOfWork(
            self.kernel.session_factory, outbox=outbox_table, inbox=inbox_table, relay=self.kernel.relay
        )


def upload_store_migrations(settings: AdminSettings) -> list[tuple[Path, str]]:
    """admin-api writes the upload store, so it applies the store's migrations after its own."""
    return [(upload_store.MIGRATIONS_DIR, settings.upload_schema)]


def build_service(settings: AdminSettings | None = None) -> AdminService:
    """Build (not start) an admin-api process."""
    settings = settings or AdminSettings()
    kernel = _build_kernel(settings)
    service = AdminService(kernel, settings)
    sources = SourceUseCases(service.unit_of_work, max_upload_bytes=settings.max_upload_bytes)
    credits = CreditUseCases(service.unit_of_work)
    insights = _insight_use_cases(service)
    preview = PreviewUseCase(kernel.producer, timeout_seconds=settings.preview_timeout_seconds)
    replays = _replay_use_cases(service)
    token = settings.bootstrap_token.get_secret_value() if settings.bootstrap_token else None
    service.api = ApiServices(
        accounts=AccountUseCases(service.unit_of_work),
        configuration=ConfigurationUseCases(service.unit_of_work),
        sources=sources,
        credits=credits,
        insights=insights,
        preview=preview,
        drafts=DraftUseCases(service.unit_of_work),
        replays=replays,
        audit=AuditLogReader(service.unit_of_work),
        budgets=_request_budgets(settings, kernel),
        unit_of_work=service.unit_of_work,
        bootstrap_token=token or None,
    )
    folds = Folds(
        sources=sources,
        insights=insights,
        credits=credits,
        audit=AuditIntake(service.unit_of_work, f"{settings.consumer_group}:{AUDIT}"),
        replays=replays,
    )
    register_subscribers(
        kernel.broker,
        folds,
        settings.consumer_group,
        kernel.batch_consumer(service.unit_of_work, settings),
        settings.consumer_offset_reset,
    )
    replies = PreviewReplyListener(
        settings.kafka_bootstrap_servers, CONVERSATIONS_PREVIEW_REPLIES, preview.deliver, security=settings
    )
    kernel.lifecycle.add("preview replies", replies.start, replies.stop)
    kernel.sweep_retention(
        service.unit_of_work,
        retentions(
            performance_days=settings.performance_retention_days,
            idempotency_hours=settings.idempotency_retention_hours,
            closed_gap_days=settings.closed_gap_retention_days,
        ),
    )
    if settings.demo_account:
        demo = partial(ensure_demo_account, service.api.accounts, service.api.configuration, sources)
        kernel.lifecycle.add("demo account", demo)
    start_consumers_last(kernel)
    return service


def _build_kernel(settings: AdminSettings) -> ServiceKernel:
    """The kernel over admin-api's schema, also migrating the upload store it writes."""
    return build_kernel(
        settings,
        schema=SCHEMA,
        outbox=outbox_table,
        inbox=inbox_table,
        migrations_dir=MIGRATIONS_DIR,
        schemas={upload_store.SCHEMA: settings.upload_schema},
        also_migrate=upload_store_migrations(settings),
    )


def _replay_use_cases(service: AdminService) -> ReplayUseCases:
    """Draft replays, with the periodic pruning of old ones added to the lifecycle."""
    replays = ReplayUseCases(
        service.unit_of_work,
        timeout_seconds=service.settings.replay_timeout_seconds,
        retention_days=service.settings.replay_retention_days,
    )
    retention = Periodic("replay-retention", replays.prune, interval_seconds=RETENTION_INTERVAL_SECONDS)
    service.kernel.lifecycle.add("replay retention", retention.start, retention.stop)
    return replays


def _insight_use_cases(service: AdminService) -> InsightUseCases:
    """Performance and knowledge gaps, with the periodic forgetting of old question links added to the lifecycle."""
    insights = InsightUseCases(service.unit_of_work)
    forget = Periodic(
        "gap-question-retention", insights.forget_old_questions, interval_seconds=RETENTION_INTERVAL_SECONDS
    )
    service.kernel.lifecycle.add("gap question retention", forget.start, forget.stop)
    return insights


def _request_budgets(settings: AdminSettings, kernel: ServiceKernel) -> RequestBudgets:
    """The REST API's request budgets in Redis, their connection pool closed when the service stops."""
    budgets, pool = redis_budgets(
        settings.redis_url,
        Budgets(
            per_key=settings.rate_limit_per_key,
            preview_per_key=settings.rate_limit_preview_per_key,
            failed_authentication_per_client=settings.rate_limit_failed_authentication_per_client,
        ),
        key_prefix=f"{settings.service_name}:rate",
        outage_pause_seconds=settings.rate_limit_outage_pause_seconds,
    )
    kernel.lifecycle.add("rate limits", None, pool.disconnect)
    return budgets


def asyncapi_document(service: AdminService) -> str:
    """The AsyncAPI document of admin-api's topics, as JSON."""
    return service.kernel.asyncapi_document(TITLE, DESCRIPTION)


def create_app_for(service: AdminService) -> FastAPI:
    """The ASGI app of a built service: REST API, console and operations endpoints, lifecycle in its lifespan."""
    app = create_operations_app(service.kernel, title=TITLE, description=DESCRIPTION)
    app.version = VERSION
    assert service.api is not None
    install_api(app, service.api, service.settings)
    install_console(app)
    return app


def create_app(settings: AdminSettings | None = None) -> FastAPI:
    """The ASGI app: REST API and operations endpoints, with Kafka consumers running in its lifespan."""
    return create_app_for(build_service(settings))
