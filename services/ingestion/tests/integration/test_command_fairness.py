"""One account's upload that takes its whole parse budget holds no other account's commands."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.partitioner import DefaultPartitioner
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import end_offsets, topic_partitions, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import SOURCES_COMMANDS, SOURCES_STATUS
from ingestion_service.bootstrap import IngestionService

from .. import samples
from .conftest import collect_statuses, command_event, upload
from .test_parser_attempts import produce_commands

pytestmark = pytest.mark.integration

SHORT_ANSWER_BOUND_SECONDS = 10.0
"""Far above a short answer's time alone (about 0.1 s), far below the 2 x 20 s parse budget it once waited."""


async def same_partition_source(bootstrap_servers: str, key: str, account_id: str) -> str:
    """A source id whose command key lands on the partition of ``key`` (the worst case: one partition)."""
    partitions = await topic_partitions(bootstrap_servers, SOURCES_COMMANDS)
    pick = DefaultPartitioner()
    wanted = pick(key.encode(), partitions, partitions)
    for number in range(10_000):
        candidate = f"answer-{number}"
        if pick(f"{account_id}:{candidate}".encode(), partitions, partitions) == wanted:
            return candidate
    raise AssertionError("no source id on the same partition")


async def test_a_hostile_upload_does_not_hold_another_account_s_short_answer(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    servers = infrastructure.kafka_bootstrap_servers
    hostile, other = unique_name("acc"), unique_name("acc")
    deep = await upload(ingestion, hostile, "deep.html", samples.deeply_nested_html().encode())
    hostile_key = f"{hostile}:deep"
    answer_id = await same_partition_source(servers, hostile_key, other)
    upload_command = command_event(SOURCE_SYNC, account_id=hostile, source_id="deep", kind=SourceKind.FILE, upload=deep)
    answer = command_event(
        SOURCE_SYNC,
        account_id=other,
        source_id=answer_id,
        kind=SourceKind.SHORT_ANSWER,
        question="When do you open?",
        answer="Every weekday at nine.",
    )
    start = await end_offsets(servers, SOURCES_STATUS)

    await produce_commands(servers, hostile_key, upload_command)
    await eventually(lambda: parsing(ingestion, hostile, "deep"), "the hostile file's parse began")
    sent = time.monotonic()
    await produce_commands(servers, f"{other}:{answer_id}", answer)
    statuses = await collect_statuses(
        servers, other, start, until=lambda found: any(s["state"] == "ready" for s in found), timeout_seconds=60
    )
    waited = time.monotonic() - sent

    assert [status["state"] for status in statuses] == ["ready"]
    assert waited < SHORT_ANSWER_BOUND_SECONDS, f"the short answer waited {waited:.1f} s"
    async with ingestion.unit_of_work() as uow:
        record = await uow.sources.get(hostile, "deep")
    assert record is not None
    assert record.state == "pending"  # the hostile file was still being parsed all along
    assert ingestion.files.running(hostile, "deep")

    await produce_commands(servers, hostile_key, command_event(SOURCE_DELETE, **_source(hostile, "deep")))
    await eventually(lambda: stopped(ingestion, hostile, "deep"), "the deleted file's parse stopped")


async def parsing(service: IngestionService, account_id: str, source_id: str) -> bool:
    """Whether the source's file is queued or being parsed."""
    return service.files.running(account_id, source_id)


async def stopped(service: IngestionService, account_id: str, source_id: str) -> bool:
    """Whether the source's file is no longer queued or parsed."""
    return not service.files.running(account_id, source_id)


def _source(account_id: str, source_id: str) -> dict[str, object]:
    return {"account_id": account_id, "source_id": source_id, "kind": SourceKind.FILE}


async def test_a_file_left_waiting_by_a_stopped_process_is_parsed_at_the_next_start(
    ingestion: IngestionService,
) -> None:
    account = unique_name("acc")
    file = await upload(ingestion, account, "a.txt", samples.sample("txt"))
    event = command_event(SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.FILE, upload=file)
    await ingestion.commands.handle(event)
    await ingestion.files.cancel(account, "s")  # as if the process stopped before the parse ran
    async with ingestion.unit_of_work() as uow:
        waiting = await uow.sources.get(account, "s")
    assert waiting is not None
    assert waiting.state == "pending"

    await ingestion.files.resume(ingestion.unit_of_work, kind=SourceKind.FILE)
    await asyncio.wait_for(ingestion.files.wait(account, "s"), 60)
    async with ingestion.unit_of_work() as uow:
        done = await uow.sources.get(account, "s")
    assert done is not None
    assert (done.state, done.pending_file) == ("ready", None)
