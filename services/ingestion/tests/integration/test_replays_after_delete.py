"""Sync commands arriving after their source was deleted (a dead letter replayed, a late redelivery), on the
real stack: the delete wins, the command is claimed and committed, and nothing of the source comes back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceCommand, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import produce_raw, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import SOURCES_COMMANDS
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.model import Source

from .. import samples
from .conftest import phrase_hits, upload

pytestmark = pytest.mark.integration

PRICES = b"Prices\n\nThe gold plan costs 10 EUR a month at the walrus rate.\n"
SENT_AT = datetime.now(UTC) - timedelta(hours=1)  # the replayed command keeps the time it was first sent


def command(account_id: str, event_type: str, kind: SourceKind, **fields: Any) -> CloudEvent[SourceCommand]:
    """A command of source ``prices`` as admin-api sent it an hour ago."""
    data = SourceCommand(account_id=account_id, source_id="prices", kind=kind, **fields)
    return make_event(event_type, data, source="admin-api", account_id=account_id, time=SENT_AT)


async def source_of(service: IngestionService, account_id: str) -> Source:
    """The stored source."""
    async with service.unit_of_work() as uow:
        source = await uow.sources.get(account_id, "prices")
    assert source is not None
    return source


async def claimed(service: IngestionService, event: CloudEvent[SourceCommand]) -> bool:
    """Whether ingestion's command consumer claimed the event (a claim tried here is rolled back)."""
    async with service.unit_of_work() as uow:
        return not await uow.claim_event(service.commands._consumer, event.id)


async def deleted(service: IngestionService, account_id: str) -> Source:
    """Delete source ``prices`` as the admin does, and return the tombstone."""
    await service.commands.handle(command(account_id, SOURCE_DELETE, SourceKind.FILE))
    tombstone = await source_of(service, account_id)
    assert tombstone.state == "deleted"
    return tombstone


async def assert_still_deleted(service: IngestionService, account_id: str, tombstone: Source) -> None:
    """Nothing of the source came back: no chunk, no waiting file or sync, no new status report."""
    source = await source_of(service, account_id)
    assert (source.state, source.pending_file, source.documents) == ("deleted", None, 0)
    assert source.status_sequence == tombstone.status_sequence  # nothing reported after the delete
    assert not service.files.running(account_id, "prices")
    assert not service.runner.running(account_id, "prices")
    assert await phrase_hits(service, account_id, "walrus rate") == []


async def test_an_inline_file_replayed_through_kafka_after_the_delete_does_not_bring_the_source_back(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    account = unique_name("acc")
    inline = command(account, SOURCE_SYNC, SourceKind.FILE, file=samples.inline_upload("prices.txt", PRICES))
    await ingestion.commands.handle(command(account, SOURCE_SYNC, SourceKind.FILE, file=inline.data.file))
    assert len(await phrase_hits(ingestion, account, "walrus rate")) == 1
    tombstone = await deleted(ingestion, account)

    await produce_raw(
        infrastructure.kafka_bootstrap_servers,
        SOURCES_COMMANDS,
        serialize_event(inline),
        key=f"{account}:prices".encode(),
    )

    # Claimed means committed: a command dead-lettered rolls its transaction (and claim) back.
    await eventually(lambda: claimed(ingestion, inline), "the replayed command claimed", within=60)
    await assert_still_deleted(ingestion, account, tombstone)


@pytest.mark.parametrize("kind", ["inline file", "upload", "url", "short answer"])
async def test_a_sync_command_replayed_after_the_delete_is_claimed_and_not_carried_out(
    ingestion: IngestionService, kind: str
) -> None:
    account = unique_name("acc")
    commands: dict[str, dict[str, Any]] = {
        "inline file": {"kind": SourceKind.FILE, "file": samples.inline_upload("prices.txt", PRICES)},
        "upload": {"kind": SourceKind.FILE, "upload": await upload(ingestion, account, "prices.txt", PRICES)},
        "url": {"kind": SourceKind.URL, "url": "http://127.0.0.1:9/prices"},
        "short answer": {"kind": SourceKind.SHORT_ANSWER, "question": "Gold plan?", "answer": "The walrus rate."},
    }
    replayed = command(account, SOURCE_SYNC, **commands[kind])  # dead-lettered before the delete, never handled
    tombstone = await deleted(ingestion, account)

    await ingestion.commands.handle(replayed)  # returns: nothing to retry or dead-letter
    await ingestion.commands.handle(replayed)  # redelivered

    assert await claimed(ingestion, replayed)
    await assert_still_deleted(ingestion, account, tombstone)
