"""A file command carried inline, replayed from a dead letter, against a newer file its source took (waiting for
its parse or indexed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind, SourceState

from .. import samples
from .test_handlers import ACCOUNT, PRICES, Ingestion

UPLOADED_AT = datetime(2026, 12, 10, 9, 0, tzinfo=UTC)
NEWER_PRICES = PRICES.replace(b"10 EUR", b"12 EUR")
INLINE_FILE = samples.inline_upload("prices.txt", PRICES)


def file_command(sent_at: datetime, **fields: object) -> CloudEvent[SourceCommand]:
    """A file command as admin-api sent it at ``sent_at`` (a replayed dead letter keeps its event time)."""
    command = SourceCommand.model_validate(
        {"account_id": ACCOUNT, "source_id": "file", "kind": SourceKind.FILE, **fields}
    )
    return make_event(SOURCE_SYNC, command, source="admin-api", account_id=ACCOUNT, time=sent_at)


async def upload_waiting(ingestion: Ingestion) -> None:
    """A newer upload, recorded on its source and not parsed yet (its run has not started)."""
    reference = ingestion.stored("prices.txt", NEWER_PRICES)
    await ingestion.commands.handle(file_command(UPLOADED_AT, upload=reference))
    assert ingestion.source("file").pending_file is not None


async def test_an_older_inline_file_replayed_leaves_the_newer_waiting_upload_to_be_indexed() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    waiting = ingestion.source("file").pending_file
    replayed = file_command(UPLOADED_AT - timedelta(days=30), file=INLINE_FILE)

    await ingestion.commands.handle(replayed)

    source = ingestion.source("file")
    assert (source.state, source.pending_file) == (SourceState.PENDING, waiting)
    assert ingestion.index.of_source("file") == []
    assert ("ingestion:cmd", replayed.id) in ingestion.database.claimed  # done with: a redelivery is a no-op
    await ingestion.parse_waiting_files()
    [chunk] = ingestion.index.of_source("file")
    assert "12 EUR" in chunk.body
    assert ingestion.source("file").state is SourceState.READY


async def test_an_inline_file_sent_after_the_waiting_upload_replaces_it() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)

    await ingestion.commands.handle(file_command(UPLOADED_AT + timedelta(seconds=5), file=INLINE_FILE))
    await ingestion.parse_waiting_files()

    [chunk] = ingestion.index.of_source("file")
    assert "10 EUR" in chunk.body
    assert (ingestion.source("file").state, ingestion.source("file").pending_file) == (SourceState.READY, None)


async def test_an_upload_recorded_without_its_time_counts_as_newer_than_an_inline_file() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    source = ingestion.source("file")
    assert source.pending_file is not None
    del source.pending_file["sent_at"]  # recorded by a release that did not keep it

    await ingestion.commands.handle(file_command(UPLOADED_AT + timedelta(days=1), file=INLINE_FILE))

    assert ingestion.index.of_source("file") == []
    assert ingestion.source("file").state is SourceState.PENDING


async def test_an_older_inline_file_replayed_leaves_the_newer_upload_already_indexed() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    await ingestion.parse_waiting_files()
    assert ingestion.source("file").pending_file is None
    replayed = file_command(UPLOADED_AT - timedelta(days=30), file=INLINE_FILE)

    await ingestion.commands.handle(replayed)

    [chunk] = ingestion.index.of_source("file")
    assert "12 EUR" in chunk.body
    assert ingestion.source("file").state is SourceState.READY
    assert ("ingestion:cmd", replayed.id) in ingestion.database.claimed


async def test_inline_files_replayed_out_of_order_keep_the_one_sent_last() -> None:
    ingestion = Ingestion()
    newer_file = samples.inline_upload("prices.txt", NEWER_PRICES)
    await ingestion.commands.handle(file_command(UPLOADED_AT, file=newer_file))

    await ingestion.commands.handle(file_command(UPLOADED_AT - timedelta(days=1), file=INLINE_FILE))

    [chunk] = ingestion.index.of_source("file")
    assert "12 EUR" in chunk.body


async def test_a_file_taken_without_its_time_is_replaced_by_an_inline_file() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    await ingestion.parse_waiting_files()
    ingestion.source("file").file_sent_at = None  # taken by a release that did not keep it

    await ingestion.commands.handle(file_command(UPLOADED_AT - timedelta(days=30), file=INLINE_FILE))

    [chunk] = ingestion.index.of_source("file")
    assert "10 EUR" in chunk.body
