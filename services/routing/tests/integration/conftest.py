"""One in-process routing service serves every flow test of this package; the tests of assignments and locks
drive routing's use cases over a migrated scratch schema of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import client_options, unique_name
from customer_agent_shared.testing.migrations import migrated_sessions
from routing_service.adapters.orm import SCHEMA
from routing_service.bootstrap import MIGRATIONS_DIR, build_service
from routing_service.settings import RoutingSettings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .assignment_support import Sessions
from .routing_harness import Harness, wait_until_assigned


@pytest.fixture(scope="package")
async def harness(infrastructure: InfrastructureSettings) -> AsyncIterator[Harness]:
    schema = unique_name("test_routing").replace("-", "_")
    # Unique names keep this process's dedup keys, consumer groups and metrics apart from any other routing.
    settings = RoutingSettings(
        service_name=unique_name("routing-test"),
        database_schema=schema,
        consumer_group=unique_name("routing.test"),
        consumer_offset_reset="latest",
    )
    service = build_service(settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=infrastructure.kafka_bootstrap_servers, acks="all", linger_ms=5, **client_options()
    )
    await producer.start()
    try:
        async with service.kernel.lifecycle.running():
            await wait_until_assigned(service.kernel.broker)
            harness = Harness(infrastructure.kafka_bootstrap_servers, service, producer)
            await harness.warm_up()
            yield harness
    finally:
        await producer.stop()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


@pytest.fixture
async def sessions(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> AsyncIterator[Sessions]:
    """Sessions over a freshly migrated scratch schema, with room for several transactions at once."""
    engine = create_database_engine(infrastructure.database_url, pool_size=6)
    yield await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=scratch_schema[1], service_schema=SCHEMA
    )
    await engine.dispose()
