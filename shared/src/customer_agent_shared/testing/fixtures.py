"""Pytest fixtures for integration tests on the real local stack (loaded by the root conftest)."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from customer_agent_shared.clients import create_redis_client
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import create_topics, delete_topics, unique_name
from customer_agent_shared.testing.kafka_identity import connect_as, suite_user


def pytest_collection_finish(session: pytest.Session) -> None:
    """Integration suites reach Kafka through the SCRAM listener, each service as its own user
    (``testing.kafka_identity``); set before any test builds its settings."""
    if session.config.option.collectonly:
        return
    repo = session.config.rootpath
    try:
        user = suite_user((item.path for item in session.items), repo)
        if user is not None:
            connect_as(user, repo)
    except (ValueError, RuntimeError) as error:
        pytest.exit(str(error), returncode=pytest.ExitCode.USAGE_ERROR)


def _require(host_port: str, what: str) -> None:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return
    except OSError as error:
        pytest.fail(f"{what} is not reachable at {host_port} ({error}); start the stack with `make up`")


@pytest.fixture(scope="session")
def infrastructure() -> InfrastructureSettings:
    """Settings of the running local stack; fails (never skips) if a store is down."""
    settings = InfrastructureSettings()
    _require(settings.kafka_bootstrap_servers.split(",")[0], "Kafka")
    return settings


@pytest.fixture
async def redis_client(infrastructure: InfrastructureSettings) -> AsyncIterator[Redis]:
    """A Redis client on the local Redis."""
    client = create_redis_client(infrastructure.redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def scratch_schema(infrastructure: InfrastructureSettings) -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine and a fresh schema name, dropped afterwards."""
    engine = create_database_engine(infrastructure.database_url, pool_size=2)
    schema = unique_name("test").replace("-", "_")
    yield engine, schema
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


CreateTopics = Callable[..., Awaitable[None]]
"""``throwaway_topics`` as a test receives it: ``await create(names, partitions=1, configs=None)``."""


@pytest.fixture
async def throwaway_topics(infrastructure: InfrastructureSettings) -> AsyncIterator[CreateTopics]:
    """Creates topics for one test and deletes them afterwards, so repeated runs do not pile them up
    on the broker (every client's metadata and the broker's open files grow with them)."""
    created: list[str] = []

    async def create(names: list[str], partitions: int = 1, configs: dict[str, str] | None = None) -> None:
        await create_topics(infrastructure.kafka_bootstrap_servers, names, partitions=partitions, configs=configs)
        created.extend(names)

    yield create
    if created:
        await delete_topics(infrastructure.kafka_bootstrap_servers, created)


def drop_schema_sql(schema: str) -> str:
    """SQL that removes a test schema."""
    return f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'
