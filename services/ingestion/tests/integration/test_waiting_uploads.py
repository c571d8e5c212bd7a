"""Uploaded files waiting for their parse, on the real stack: one left behind is taken up by the re-sync
scheduler, and an older file command (inline or uploaded) replayed from a dead letter replaces neither one
waiting nor one indexed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from ingestion_service.adapters.sync_lock import SyncLeases
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.model import Source

from .. import samples
from .conftest import last_status, phrase_hits, upload

pytestmark = pytest.mark.integration

NEWER = b"Prices\n\nThe gold plan costs 12 EUR a month at the zebra rate.\n"
OLDER = b"Prices\n\nThe gold plan costs 10 EUR a month at the yak rate.\n"


def file_command(account_id: str, sent_at: datetime, **fields: Any) -> CloudEvent[SourceCommand]:
    """A file command as admin-api sent it at ``sent_at`` (a dead letter replayed keeps its event time)."""
    command = SourceCommand(account_id=account_id, source_id="prices", kind=SourceKind.FILE, **fields)
    return make_event(SOURCE_SYNC, command, source="admin-api", account_id=account_id, time=sent_at)


@asynccontextmanager
async def parsed_by_another_replica(service: IngestionService, account_id: str) -> AsyncIterator[None]:
    """Hold the source's file lease as another replica parsing it would: this process's runs leave the file."""
    leases = SyncLeases(service.kernel.redis, prefix=f"{service.settings.service_name}:file")
    async with leases.hold(account_id, "prices") as held:
        assert held
        yield


async def source_of(service: IngestionService, account_id: str) -> Source:
    """The stored source."""
    async with service.unit_of_work() as uow:
        source = await uow.sources.get(account_id, "prices")
    assert source is not None
    return source


async def left_waiting(service: IngestionService, account_id: str) -> Source | None:
    """The source once its file is recorded and no run of this process is parsing it."""
    source = await source_of(service, account_id)
    waiting = source.pending_file is not None and not service.files.running(account_id, "prices")
    return source if waiting else None


async def taken(service: IngestionService, account_id: str) -> Source | None:
    """The source once its waiting file was taken (ready or failed)."""
    source = await source_of(service, account_id)
    done = source.pending_file is None and not service.files.running(account_id, "prices")
    return source if done and source.state in ("ready", "failed") else None


async def upload_and_older_inline_file(
    service: IngestionService, account_id: str
) -> tuple[CloudEvent[SourceCommand], CloudEvent[SourceCommand]]:
    """A file uploaded now, and an inline file command sent a month before it (as replayed from a dead letter)."""
    uploaded_at = datetime.now(UTC)
    newer = file_command(account_id, uploaded_at, upload=await upload(service, account_id, "prices.txt", NEWER))
    older = samples.inline_upload("prices.txt", OLDER)
    return newer, file_command(account_id, uploaded_at - timedelta(days=30), file=older)


async def test_an_older_inline_file_replayed_does_not_replace_the_newer_upload_waiting(
    ingestion: IngestionService,
) -> None:
    account = unique_name("acc")
    newer, replayed = await upload_and_older_inline_file(ingestion, account)
    async with parsed_by_another_replica(ingestion, account):
        await ingestion.commands.handle(newer)
        await eventually(lambda: left_waiting(ingestion, account), "the upload recorded and left to the other replica")
        await ingestion.commands.handle(replayed)
        waiting = await source_of(ingestion, account)
        assert (waiting.state, waiting.pending_file and waiting.pending_file["event_id"]) == ("pending", newer.id)
        assert await phrase_hits(ingestion, account, "yak rate") == []

    ingestion.files.request(account, "prices")  # the other replica stopped; this one takes the file up
    done = await eventually(lambda: taken(ingestion, account), "the waiting upload parsed")
    assert (done.state, done.documents) == ("ready", 1)
    assert len(await phrase_hits(ingestion, account, "zebra rate")) == 1
    assert await phrase_hits(ingestion, account, "yak rate") == []
    assert (await last_status(ingestion, account, "prices"))["state"] == "ready"


async def test_an_older_inline_file_replayed_does_not_replace_the_newer_upload_indexed(
    ingestion: IngestionService,
) -> None:
    account = unique_name("acc")
    newer, replayed = await upload_and_older_inline_file(ingestion, account)
    await ingestion.commands.handle(newer)
    parsed = await eventually(lambda: taken(ingestion, account), "the upload parsed")
    assert (parsed.state, parsed.documents) == ("ready", 1)

    await ingestion.commands.handle(replayed)

    kept = await source_of(ingestion, account)
    assert (kept.state, kept.documents, kept.pending_file) == ("ready", 1, None)
    assert len(await phrase_hits(ingestion, account, "zebra rate")) == 1
    assert await phrase_hits(ingestion, account, "yak rate") == []
    assert (await last_status(ingestion, account, "prices"))["state"] == "ready"


async def test_an_older_upload_replayed_does_not_replace_the_newer_upload_indexed(
    ingestion: IngestionService,
) -> None:
    account = unique_name("acc")
    uploaded_at = datetime.now(UTC)
    newer = file_command(account, uploaded_at, upload=await upload(ingestion, account, "prices.txt", NEWER))
    older = await upload(ingestion, account, "prices.txt", OLDER)
    replayed = file_command(account, uploaded_at - timedelta(days=30), upload=older)
    await ingestion.commands.handle(newer)
    parsed = await eventually(lambda: taken(ingestion, account), "the upload parsed")
    assert (parsed.state, parsed.documents) == ("ready", 1)

    await ingestion.commands.handle(replayed)

    kept = await source_of(ingestion, account)
    assert (kept.state, kept.documents, kept.pending_file, kept.file_sent_at) == ("ready", 1, None, uploaded_at)
    assert not ingestion.files.running(account, "prices")
    assert len(await phrase_hits(ingestion, account, "zebra rate")) == 1
    assert await phrase_hits(ingestion, account, "yak rate") == []
    assert (await last_status(ingestion, account, "prices"))["state"] == "ready"


async def test_the_scheduler_takes_up_an_upload_nobody_parses_any_more(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    command = file_command(account, datetime.now(UTC), upload=await upload(ingestion, account, "prices.txt", NEWER))
    async with parsed_by_another_replica(ingestion, account):
        await ingestion.commands.handle(command)
        await eventually(lambda: left_waiting(ingestion, account), "the upload recorded and left to the other replica")
    # The other replica stopped before it parsed the file: nothing here runs it, the row is left behind.
    assert (await source_of(ingestion, account)).state == "pending"

    await ingestion.scheduler.tick()

    done = await eventually(lambda: taken(ingestion, account), "the left-behind upload parsed")
    assert (done.state, done.documents, done.error) == ("ready", 1, None)
    assert len(await phrase_hits(ingestion, account, "zebra rate")) == 1
    assert (await last_status(ingestion, account, "prices"))["state"] == "ready"
