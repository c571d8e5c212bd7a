"""One in-process ingestion service for the integration tests, on throwaway schema, index and consumer groups."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from customer_agent_shared.events.content import ArticleChanged
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.sources import SourceCommand, UploadReference
from customer_agent_shared.persistence.database import create_database_engine
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import client_options, topic_partitions, unique_name, wait_for_assignment
from customer_agent_shared.topics import SOURCES_STATUS
from customer_agent_shared.uploads import postgres as upload_store
from ingestion_service.adapters.parse_limits import MIB
from ingestion_service.bootstrap import IngestionService, build_service
from ingestion_service.domain.model import Source
from ingestion_service.settings import IngestionSettings
from sqlalchemy import text

PARSE_MEMORY_BYTES = 96 * MIB  # the samples parse in far less; the memory-bomb sample needs far more


@pytest.fixture(scope="session")
async def ingestion(infrastructure: InfrastructureSettings) -> AsyncIterator[IngestionService]:
    """A running ingestion service; loopback 127.0.0.1 is the only private address it may crawl."""
    schema = unique_name("test_ingestion").replace("-", "_")
    uploads = f"{schema}_uploads"
    index = unique_name("test-chunks")
    # admin-api writes and migrates the upload store; here the tests stand in for it.
    await asyncio.to_thread(upgrade_to_head, upload_store.MIGRATIONS_DIR, infrastructure.database_url, uploads)
    settings = IngestionSettings(
        # A unique service name keeps the Redis dedup keys apart from any running ingestion process.
        service_name=unique_name("ingestion-test"),
        database_schema=schema,
        upload_schema=uploads,
        consumer_group=unique_name("ingestion.test"),
        consumer_offset_reset="latest",
        content_index=index,
        content_read_alias=f"{index}-read",
        content_write_alias=f"{index}-write",
        allowed_private_networks="127.0.0.1/32",
        host_delay_seconds=0.0,
        host_concurrency=8,
        progress_interval_seconds=0.2,
        request_timeout_seconds=5.0,
        scheduler_interval_seconds=3600.0,
        embeddings="builtin",  # the model ships in the package: the tests never depend on the environment's choice
        parse_memory_bytes=PARSE_MEMORY_BYTES,
    )
    service = build_service(settings)
    try:
        async with service.kernel.lifecycle.running():
            await wait_for_assignment(service.kernel.broker)
            yield service
    finally:
        await service.store.drop()
        engine = create_database_engine(infrastructure.database_url, pool_size=1)
        async with engine.begin() as connection:
            for name in (schema, uploads):
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await engine.dispose()
        if service.kernel.opensearch is not None:
            await service.kernel.opensearch.close()


def command_event(command_type: str, **fields: Any) -> CloudEvent[SourceCommand]:
    """A source command event as admin-api would publish it."""
    command = SourceCommand(**fields)
    return make_event(command_type, command, source="admin-api", account_id=command.account_id)


async def upload(service: IngestionService, account_id: str, filename: str, content: bytes) -> UploadReference:
    """Store a file in the upload store as admin-api does on upload; the reference its command carries."""
    async with service.unit_of_work() as uow:  # ingestion itself only reads the store (uow.uploads)
        key = await upload_store.PostgresUploadStore(uow.session).put(account_id, content, holder=filename)
        await uow.commit()
    return UploadReference(sha256=key, filename=filename, size=len(content))


def article_event(event_type: str, article: ArticleChanged) -> CloudEvent[ArticleChanged]:
    """A knowledge-base article event."""
    return make_event(event_type, article, source="kb", account_id=article.account_id)


async def wait_for_source(
    service: IngestionService, account_id: str, source_id: str, timeout_seconds: float = 60.0
) -> Source:
    """Wait until the source's sync has finished (ready, failed or deleted) and return it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_seconds
    while True:
        async with service.unit_of_work() as uow:
            record = await uow.sources.get(account_id, source_id)
        if (
            record is not None
            and record.state in ("ready", "failed", "deleted")
            and not service.runner.running(account_id, source_id)
        ):
            return record
        if loop.time() > deadline:
            raise TimeoutError(f"source {source_id} still {record.state if record else 'missing'}")
        await asyncio.sleep(0.1)


async def phrase_hits(service: IngestionService, account_id: str, phrase: str) -> list[dict[str, Any]]:
    """Chunks of one account whose body contains ``phrase`` (searched through the account-scoped reader)."""
    await service.store.refresh()
    result = await service.search.search(account_id, {"match_phrase": {"body": phrase}}, size=50)
    return [hit["_source"] for hit in result["hits"]["hits"]]


async def collect_statuses(
    bootstrap_servers: str,
    account_id: str,
    from_offsets: dict[int, int] | None,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout_seconds: float = 60.0,
) -> list[dict[str, Any]]:
    """``source.status`` payloads of one account on every partition of sources.status.v1 from ``from_offsets``
    (None: from the beginning of every partition).

    (The shared ``collect_records`` falls back to partition 0 when the consumer has no topic metadata yet.)
    """
    numbers = (
        sorted(from_offsets) if from_offsets is not None else await topic_partitions(bootstrap_servers, SOURCES_STATUS)
    )
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **client_options())
    await consumer.start()
    statuses: list[dict[str, Any]] = []
    try:
        assignment = [TopicPartition(SOURCES_STATUS, partition) for partition in numbers]
        consumer.assign(assignment)
        for tp in assignment:
            if from_offsets is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, from_offsets[tp.partition])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_seconds
        while not until(statuses) and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                for message in messages:
                    event = json.loads(message.value or b"{}")
                    if event.get("accountid") == account_id and event.get("type") == "source.status":
                        statuses.append(event["data"])
        statuses.sort(key=lambda status: status["sequence"])
        return statuses
    finally:
        await consumer.stop()


async def last_status(service: IngestionService, account_id: str, source_id: str) -> dict[str, Any]:
    """The newest status the service staged for a source (its record's ``status_sequence``), once published.

    Read from sources.status.v1, as admin-api reads it: the outbox relay deletes a row once it is published.
    """
    async with service.unit_of_work() as uow:
        record = await uow.sources.get(account_id, source_id)
    assert record is not None, f"no source {source_id!r}"
    newest = record.status_sequence

    def newest_of(statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [s for s in statuses if s["source_id"] == source_id and int(s["sequence"]) == newest]

    statuses = await collect_statuses(
        service.settings.kafka_bootstrap_servers, account_id, None, until=lambda found: bool(newest_of(found))
    )
    found = newest_of(statuses)
    assert found, f"status {newest} of {source_id!r} was not published"
    return found[-1]


@asynccontextmanager
async def loop_lateness() -> AsyncIterator[list[float]]:
    """How late each 50 ms sleep of a ticking task woke up while the block ran."""
    lateness: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.05)
            lateness.append(time.perf_counter() - started - 0.05)

    ticker = asyncio.create_task(tick())
    try:
        yield lateness
    finally:
        done.set()
        await ticker
