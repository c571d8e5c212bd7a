"""A file whose parser process is stopped fails after the attempt budget, through the real command path,
while the files uploaded after it are parsed."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from customer_agent_shared.events.envelope import CloudEvent, serialize_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import client_options, end_offsets, unique_name
from customer_agent_shared.topics import LARGE_MESSAGE_BYTES, SOURCES_COMMANDS, SOURCES_STATUS
from ingestion_service.adapters.orm import parse_attempts_table
from ingestion_service.bootstrap import IngestionService
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from prometheus_client import REGISTRY
from sqlalchemy import select

from .. import samples
from .conftest import collect_statuses, command_event, upload, wait_for_source

pytestmark = pytest.mark.integration

PARSE_FAILURES = "customer_agent_ingestion_parse_failures_total"


async def produce_commands(bootstrap_servers: str, key: str, *events: CloudEvent[SourceCommand]) -> None:
    """Publish commands as admin-api does."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", max_request_size=LARGE_MESSAGE_BYTES, **client_options()
    )
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(SOURCES_COMMANDS, value=serialize_event(event), key=key.encode())
    finally:
        await producer.stop()


async def attempts_left(service: IngestionService, event_id: str) -> list[int]:
    """The parse-attempt counts still stored for ``event_id``."""
    async with service.unit_of_work() as uow:
        result = await uow.session.execute(
            select(parse_attempts_table.c.attempts).where(parse_attempts_table.c.event_id == event_id)
        )
        return [int(row.attempts) for row in result]


async def test_a_file_that_exhausts_parser_memory_fails_after_two_attempts_and_holds_no_other_file(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    account, source, other = unique_name("acc"), unique_name("src"), unique_name("src")
    stops_before = REGISTRY.get_sample_value(PARSE_FAILURES, {"failure_type": "parser_memory"}) or 0
    bomb_file = await upload(ingestion, account, "lists.json", samples.json_of_empty_lists())
    bomb = command_event(SOURCE_SYNC, account_id=account, source_id=source, kind=SourceKind.FILE, upload=bomb_file)
    fixed = command_event(
        SOURCE_SYNC,
        account_id=account,
        source_id=other,
        kind=SourceKind.FILE,
        upload=await upload(ingestion, account, "fixed.txt", samples.sample("txt")),
    )
    start = await end_offsets(infrastructure.kafka_bootstrap_servers, SOURCES_STATUS)
    await produce_commands(infrastructure.kafka_bootstrap_servers, f"{account}:{source}", bomb)
    await produce_commands(infrastructure.kafka_bootstrap_servers, f"{account}:{other}", fixed)

    def final(found: list[dict[str, Any]], source_id: str) -> list[dict[str, Any]]:
        return [s for s in found if s["source_id"] == source_id and s["state"] in ("ready", "failed")]

    statuses = await collect_statuses(
        infrastructure.kafka_bootstrap_servers,
        account,
        start,
        until=lambda found: bool(final(found, source) and final(found, other)),
        timeout_seconds=120.0,
    )
    assert [status["state"] for status in final(statuses, source)] == ["failed"]
    assert [status["state"] for status in final(statuses, other)] == ["ready"], final(statuses, other)
    error = final(statuses, source)[0]["error"]
    assert "'lists.json': the parser ran out of memory (limit 96 MiB)" in error
    assert "given up after 2 attempts" in error
    assert (REGISTRY.get_sample_value(PARSE_FAILURES, {"failure_type": "parser_memory"}) or 0) - stops_before == 2
    assert await attempts_left(ingestion, bomb.id) == []
    record = await wait_for_source(ingestion, account, other)
    assert (record.state, record.error) == ("ready", None)


@pytest.mark.parametrize(("earlier_starts", "state"), [(2, "failed"), (1, "ready")])
async def test_parsers_started_before_the_service_died_count_as_attempts(
    ingestion: IngestionService, earlier_starts: int, state: str
) -> None:
    account = unique_name("acc")
    file = await upload(ingestion, account, "a.txt", samples.sample("txt"))
    event = command_event(SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.FILE, upload=file)
    # Earlier deliveries of this command each counted a parser start, then the whole service died.
    for _ in range(earlier_starts):
        async with ingestion.unit_of_work() as uow:
            await uow.parse_attempts.begin(event.id, account_id=account, source_id="s")
            await uow.commit()
    await ingestion.commands.handle(event)
    record = await wait_for_source(ingestion, account, "s")
    assert record.state == state
    if state == "failed":
        assert record.error is not None
        assert "'a.txt': the parser did not finish" in record.error
        assert "given up after 2 attempts" in record.error
    assert await attempts_left(ingestion, event.id) == []


async def test_a_parsed_file_whose_indexing_fails_is_not_given_up_as_a_parser_death(
    ingestion: IngestionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = unique_name("acc")
    file = await upload(ingestion, account, "a.txt", samples.sample("txt"))
    event = command_event(SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.FILE, upload=file)
    real_write = ingestion.store.write
    outage = {"left": 3}  # more failed tries than the parser's attempt budget

    async def write_during_an_outage(*args: Any, **kwargs: Any) -> None:
        if outage["left"]:
            outage["left"] -= 1
            raise OpenSearchConnectionError("N/A", "connection refused", ConnectionRefusedError())
        await real_write(*args, **kwargs)

    monkeypatch.setattr(ingestion.store, "write", write_during_an_outage)
    await ingestion.commands.handle(event)  # the parse is tried again while OpenSearch is down

    record = await wait_for_source(ingestion, account, "s")
    assert (record.state, record.error, outage["left"]) == ("ready", None, 0)
    assert await attempts_left(ingestion, event.id) == []
