"""A file command (an upload reference or a file carried inline) replayed from a dead letter, against a newer file
its source took (waiting for its parse or indexed), and a re-upload stamped by a replica whose clock is behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind, SourceState
from ingestion_service.domain.model import FILE_CLOCK_SKEW

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
    ingestion.source("file").file_sent_at = None  # recorded by a release that kept no time

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


async def newer_upload_indexed(ingestion: Ingestion) -> None:
    """A newer upload, parsed and indexed."""
    await upload_waiting(ingestion)
    await ingestion.parse_waiting_files()
    assert ingestion.source("file").state is SourceState.READY


async def test_an_older_upload_replayed_leaves_the_newer_upload_already_indexed() -> None:
    ingestion = Ingestion()
    await newer_upload_indexed(ingestion)
    replayed = file_command(UPLOADED_AT - timedelta(days=30), upload=ingestion.stored("prices.txt", PRICES))

    await ingestion.commands.handle(replayed)

    source = ingestion.source("file")
    assert (source.state, source.pending_file, source.file_sent_at) == (SourceState.READY, None, UPLOADED_AT)
    assert ingestion.file_syncs.requested == []
    assert ("ingestion:cmd", replayed.id) in ingestion.database.claimed
    [chunk] = ingestion.index.of_source("file")
    assert "12 EUR" in chunk.body


async def test_an_older_upload_replayed_leaves_the_newer_upload_waiting() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    waiting = ingestion.source("file").pending_file

    await ingestion.commands.handle(
        file_command(UPLOADED_AT - timedelta(days=30), upload=ingestion.stored("prices.txt", PRICES))
    )

    assert ingestion.source("file").pending_file == waiting
    await ingestion.parse_waiting_files()
    [chunk] = ingestion.index.of_source("file")
    assert "12 EUR" in chunk.body


async def reuploaded_on_a_clock_behind(ingestion: Ingestion) -> None:
    """After the newer upload was indexed, the admin uploads again on a replica whose clock is 20 s behind."""
    await newer_upload_indexed(ingestion)
    reupload = file_command(UPLOADED_AT - timedelta(seconds=20), upload=ingestion.stored("prices.txt", PRICES))
    await ingestion.commands.handle(reupload)
    await ingestion.parse_waiting_files()


async def test_a_reupload_stamped_by_a_clock_behind_is_taken() -> None:
    ingestion = Ingestion()

    await reuploaded_on_a_clock_behind(ingestion)

    [chunk] = ingestion.index.of_source("file")
    assert "10 EUR" in chunk.body
    assert ingestion.source("file").file_sent_at == UPLOADED_AT  # the latest time stays: it never moves back


async def test_a_file_sent_before_the_latest_one_by_more_than_the_skew_is_not_taken_after_a_reupload() -> None:
    ingestion = Ingestion()
    await reuploaded_on_a_clock_behind(ingestion)
    # After the re-upload's time (20 s before the latest) by less than the skew, before the latest by more.
    sent_at = UPLOADED_AT - FILE_CLOCK_SKEW - timedelta(seconds=15)
    newest_file = samples.inline_upload("prices.txt", NEWER_PRICES.replace(b"12 EUR", b"14 EUR"))

    await ingestion.commands.handle(file_command(sent_at, file=newest_file))

    [chunk] = ingestion.index.of_source("file")
    assert "10 EUR" in chunk.body


async def test_an_upload_arriving_after_one_recorded_without_its_time_is_taken() -> None:
    ingestion = Ingestion()
    await upload_waiting(ingestion)
    ingestion.source("file").file_sent_at = None  # recorded by a release that kept no time
    later = file_command(UPLOADED_AT - timedelta(days=1), upload=ingestion.stored("prices.txt", PRICES))

    await ingestion.commands.handle(later)

    assert (ingestion.source("file").pending_file or {}).get("event_id") == later.id
