"""The plumbing every service process has, built in one place.

A service's ``bootstrap.py`` builds a kernel for its schema, adds its own
adapters, use cases and subscribers, and serves the kernel's lifecycle.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI
from opensearchpy import AsyncOpenSearch
from redis.asyncio import Redis
from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from customer_agent_shared.clients import (
    create_opensearch_client,
    create_redis_client,
    opensearch_readiness,
    redis_readiness,
)
from customer_agent_shared.messaging.batches import BatchConsumer
from customer_agent_shared.messaging.broker import create_kafka_broker
from customer_agent_shared.messaging.dedup import ProcessedEventRegistry
from customer_agent_shared.messaging.offsets import OffsetCommitter
from customer_agent_shared.messaging.producer import KafkaEventProducer
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, RetryPolicy
from customer_agent_shared.observability.health import health_router
from customer_agent_shared.observability.logging import configure_logging
from customer_agent_shared.persistence.database import (
    create_database_engine,
    create_session_factory,
    database_is_ready,
)
from customer_agent_shared.persistence.maintenance import PlumbingMaintenance
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.persistence.outbox import OutboxRelay
from customer_agent_shared.persistence.retention import Retention, RetentionSweep, UnitOfWork
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork, shared_transaction
from customer_agent_shared.runtime import Lifecycle
from customer_agent_shared.settings import BatchConsumerSettings, ServiceSettings, unknown_settings

logger = logging.getLogger(__name__)


@dataclass
class ServiceKernel:
    """Stores, Kafka clients, the outbox relay and the lifecycle of one service process."""

    settings: ServiceSettings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    redis: Redis
    producer: KafkaEventProducer
    relay: OutboxRelay
    broker: KafkaBroker
    lifecycle: Lifecycle
    committer: OffsetCommitter
    reliable: ReliableConsumerConfig
    outbox: Table
    inbox: Table
    opensearch: AsyncOpenSearch | None = None
    extra: dict[str, object] = field(default_factory=dict)

    def batch_consumer(
        self,
        create_unit_of_work: Callable[[], SqlUnitOfWork],
        settings: BatchConsumerSettings,
        *,
        batch_size: int | None = None,
    ) -> BatchConsumer:
        """Runs fetched batches as ``settings`` say, each in one shared transaction (``batch_size`` overrides
        theirs)."""
        return BatchConsumer(
            self.reliable,
            lambda: shared_transaction(create_unit_of_work),
            batch_size=settings.consumer_batch_size if batch_size is None else batch_size,
            concurrency=settings.consumer_concurrency,
            gather_ms=settings.consumer_gather_ms,
        )

    def sweep_retention(
        self, unit_of_work: Callable[[], UnitOfWork], retentions: Sequence[Retention[UnitOfWork]]
    ) -> RetentionSweep[UnitOfWork]:
        """Delete the rows of the service's own tables past ``retentions`` every maintenance interval, from
        start-up to shutdown."""
        settings = self.settings
        sweep = RetentionSweep(
            settings.service_name,
            unit_of_work,
            retentions,
            schema=settings.database_schema,
            interval_seconds=settings.maintenance_interval_seconds,
        )
        self.lifecycle.add("retention", sweep.periodic.start, sweep.periodic.stop)
        return sweep

    def asyncapi_document(self, title: str, description: str) -> str:
        """The AsyncAPI document of the topics this process consumes, as JSON."""
        spec = AsyncAPI(self.broker, title=title, version="1.0.0", description=description)
        return str(spec.to_specification().to_json())


def build_kernel(
    settings: ServiceSettings,
    *,
    schema: str,
    outbox: Table,
    inbox: Table,
    migrations_dir: Path,
    use_opensearch: bool = False,
    schemas: Mapping[str, str] | None = None,
    also_migrate: Sequence[tuple[Path, str]] = (),
) -> ServiceKernel:
    """Build (not start) the plumbing; call ``finish_lifecycle`` after adding service steps.

    ``schemas``: other schemas the service reaches (declared name -> the deployment's name), such as the
    upload store's; ``also_migrate``: (migrations folder, schema) applied after the service's own.
    """
    engine = create_database_engine(settings.database_url, application_name=settings.service_name)
    # Tables are declared in the service's default schema; a deployment may rename it.
    engine = engine.execution_options(schema_translate_map={**(schemas or {}), schema: settings.database_schema})
    session_factory = create_session_factory(engine)
    redis = create_redis_client(settings.redis_url)
    producer = KafkaEventProducer(settings.kafka_bootstrap_servers, service=settings.service_name, security=settings)
    committer = OffsetCommitter(settings.service_name, interval_seconds=settings.offset_commit_interval_seconds)
    reliable = _reliable_consumer_config(settings, producer=producer, redis=redis, committer=committer)
    kernel = ServiceKernel(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        redis=redis,
        producer=producer,
        relay=OutboxRelay(
            session_factory,
            outbox,
            producer.send_each,
            budget_bytes=settings.outbox_pass_bytes,
            lock_name=settings.database_schema,
            missing_topic_grace_seconds=settings.outbox_missing_topic_grace_seconds,
        ),
        broker=create_kafka_broker(
            settings.kafka_bootstrap_servers,
            service=settings.service_name,
            reliable=reliable,
            graceful_timeout_seconds=float(settings.shutdown_grace_seconds),
            security=settings,
        ),
        lifecycle=Lifecycle(settings.service_name, gc_generation0_threshold=settings.gc_generation0_threshold),
        committer=committer,
        reliable=reliable,
        outbox=outbox,
        inbox=inbox,
        opensearch=create_opensearch_client(settings.opensearch_url) if use_opensearch else None,
    )
    _add_plumbing_steps(kernel, migrations=((migrations_dir, settings.database_schema), *also_migrate))
    return kernel


def _reliable_consumer_config(
    settings: ServiceSettings, *, producer: KafkaEventProducer, redis: Redis, committer: OffsetCommitter
) -> ReliableConsumerConfig:
    """How every consumer of the process retries, dead-letters, deduplicates and commits."""
    return ReliableConsumerConfig(
        service=settings.service_name,
        send_batch=producer.send_batch,
        registry=ProcessedEventRegistry(redis) if settings.redis_dedup else None,
        dedup_namespace=settings.consumer_group,
        committer=committer,
        retry=RetryPolicy(transient_max_delay_seconds=settings.transient_retry_max_delay_seconds),
        handler_timeout_seconds=settings.handler_timeout_seconds,
    )


def _add_plumbing_steps(kernel: ServiceKernel, *, migrations: Sequence[tuple[Path, str]]) -> None:
    """Start-up and shutdown steps and readiness checks of the plumbing, in the order they must run."""
    settings, lifecycle = kernel.settings, kernel.lifecycle
    maintenance = PlumbingMaintenance(
        kernel.engine,
        settings.database_schema,
        retention_days=settings.inbox_retention_days,
        interval_seconds=settings.maintenance_interval_seconds,
    )

    async def migrate() -> None:
        if settings.run_migrations_on_start:
            for directory, target in migrations:
                await asyncio.to_thread(upgrade_to_head, directory, settings.database_url, target)

    async def start_relay() -> None:
        kernel.relay.start()

    async def start_maintenance() -> None:
        maintenance.start()

    async def close_redis() -> None:
        await kernel.redis.aclose()

    lifecycle.add("migrations", migrate)
    lifecycle.add("database", None, kernel.engine.dispose)
    lifecycle.add("redis", None, close_redis)
    lifecycle.readiness.add("database", lambda: database_is_ready(kernel.engine))
    lifecycle.readiness.add("redis", redis_readiness(kernel.redis))
    lifecycle.readiness.add("kafka", lambda: kernel.broker.ping(timeout=2.0))
    kernel.reliable.dependencies_answer = lifecycle.readiness.dependencies_answer
    lifecycle.readiness.add_condition(
        "consumers",
        lambda: kernel.reliable.blocked.not_ready_reason(longer_than_seconds=settings.blocked_consumer_unready_seconds),
    )
    if kernel.opensearch is not None:
        lifecycle.add("opensearch", None, kernel.opensearch.close)
        lifecycle.readiness.add("opensearch", opensearch_readiness(kernel.opensearch))
    lifecycle.add("producer", kernel.producer.start, kernel.producer.stop)
    lifecycle.add("outbox relay", start_relay, kernel.relay.stop)
    lifecycle.add("plumbing maintenance", start_maintenance, maintenance.stop)


def start_consumers_last(kernel: ServiceKernel) -> None:
    """Add the Kafka consumers as the last step: started last, stopped first, so in-flight
    handlers finish and commit while the stores and the producer are still open."""

    async def stop_consumers() -> None:
        # Pending offsets are committed first; handlers still in flight commit theirs as they finish.
        await kernel.committer.close()
        await kernel.broker.stop()

    kernel.lifecycle.add("kafka consumers", kernel.broker.start, stop_consumers)


def create_operations_app(kernel: ServiceKernel, *, title: str, description: str) -> FastAPI:
    """A FastAPI app with /healthz, /readyz, /metrics and /asyncapi.json, running the lifecycle."""
    configure_logging(kernel.settings.service_name, kernel.settings.log_level, kernel.settings.log_format)
    for variable in unknown_settings(type(kernel.settings), os.environ):
        # Settings ignore what they do not know: say so, or a misspelt variable silently keeps a default.
        logger.warning("environment variable is not a setting of this service; ignored", extra={"variable": variable})
    app = FastAPI(title=title, description=description, lifespan=kernel.lifecycle.fastapi_lifespan())
    app.state.kernel = kernel
    app.include_router(health_router(kernel.lifecycle.readiness))

    @app.get("/asyncapi.json", include_in_schema=False)
    async def asyncapi() -> dict[str, object]:
        return dict(json.loads(kernel.asyncapi_document(title, description)))

    return app
