"""One admin-api process for the integration tests of this folder, on a scratch schema."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from admin_api.bootstrap import build_service, create_app_for
from admin_api.settings import AdminSettings
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.fixtures import drop_schema_sql
from customer_agent_shared.testing.kafka import unique_name, wait_for_assignment
from pydantic import SecretStr
from sqlalchemy import text

from .harness import BOOTSTRAP_TOKEN, Harness


@pytest.fixture(scope="session")
async def harness(infrastructure: InfrastructureSettings) -> AsyncIterator[Harness]:
    """admin-api running in-process: migrations, relay, consumers (offset latest), preview listener."""
    schema = unique_name("test_admin").replace("-", "_")
    uploads = f"{schema}_uploads"
    settings = AdminSettings(
        # A unique service name keeps the Redis dedup keys (processed:<service>:<topic>:<id>) apart
        # from any admin-api process that is running against the same stack.
        service_name=unique_name("admin-api-test"),
        database_schema=schema,
        upload_schema=uploads,
        consumer_group=unique_name("admin-api.test"),
        consumer_offset_reset="latest",
        bootstrap_token=SecretStr(BOOTSTRAP_TOKEN),
        # The preview test's stand-in for conversation answers over real Kafka with a fresh producer per reply:
        # seconds on a loaded machine. (The timeout itself is shown with a use case of its own.)
        preview_timeout_seconds=15.0,
        max_upload_bytes=64 * 1024,
    )
    service = build_service(settings)
    app = create_app_for(service)
    try:
        async with service.kernel.lifecycle.running():
            await wait_for_assignment(service.kernel.broker)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://admin-api") as client:
                yield Harness(service, settings, client, app)
    finally:
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            for name in (schema, uploads):
                await connection.execute(text(drop_schema_sql(name)))
        await engine.dispose()
