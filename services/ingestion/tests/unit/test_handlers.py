"""Ingestion's source commands and article events on a fake unit of work: the source, its index, its reports."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.events.content import ARTICLE_PUBLISHED, ArticleChanged
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from customer_agent_shared.events.sources import (
    SOURCE_DELETE,
    SOURCE_STATUS,
    SOURCE_SYNC,
    SOURCE_UPDATE,
    SourceCommand,
    SourceKind,
    SourceState,
    SourceStatus,
    UploadedFile,
    UploadReference,
)
from customer_agent_shared.messaging.reliable import PermanentHandlerError, RetryPolicy
from customer_agent_shared.topics import SOURCES_STATUS
from customer_agent_shared.uploads.store import upload_key
from ingestion_service.adapters.bulk_batches import ChunkTooLargeError
from ingestion_service.adapters.content_store import ChunkDocument
from ingestion_service.adapters.page_worker_pool import PageWorkers
from ingestion_service.adapters.parse_limits import FileLimits
from ingestion_service.domain.model import IMPLICIT_KB_SOURCE, Source
from ingestion_service.handlers.articles import ArticleIndexing
from ingestion_service.handlers.file_sync import FileSync
from ingestion_service.handlers.indexing import DocumentIndexer
from ingestion_service.handlers.scheduler import ResyncScheduler
from ingestion_service.handlers.source_commands import SourceCommands
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.sync_runner import SyncRunner

from .fakes import FakeDatabase, FakeIndex, FakeSyncQueue, FakeUnitOfWork, Tables

ACCOUNT = "acc-1"
FAST_RETRIES = RetryPolicy(
    first_delay_seconds=0.001, max_delay_seconds=0.001, transient_max_delay_seconds=0.001, transient_jitter_seconds=0
)


class Ingestion:
    """Ingestion's command and article use cases over one fake database, index and sync queue."""

    def __init__(self) -> None:
        self.database = FakeDatabase(Tables())
        self.upload_failure: Exception | None = None
        self.index = FakeIndex()
        self.syncs = FakeSyncQueue()
        self.file_syncs = FakeSyncQueue()
        indexer = DocumentIndexer(self.index, chunk_chars=1200, overlap_chars=200)
        self.files = FileSync(self.unit_of_work, indexer, FileLimits(), retry=FAST_RETRIES)
        self.commands = SourceCommands(
            self.unit_of_work,
            indexer,
            self.syncs,
            files=self.files,
            file_runner=self.file_syncs,
            consumer="ingestion:cmd",
        )
        self.articles = ArticleIndexing(
            self.unit_of_work, indexer, consumer="ingestion:articles", parser=PageWorkers(0)
        )

    def unit_of_work(self) -> FakeUnitOfWork:
        """A new fake unit of work over the database."""
        return FakeUnitOfWork(self.database, upload_failure=self.upload_failure)

    def stored(self, filename: str, content: bytes) -> UploadReference:
        """Store a file as admin-api does on upload; the reference its command carries."""
        key = upload_key(content)
        self.database.tables.uploads[(ACCOUNT, key)] = content
        return UploadReference(sha256=key, filename=filename, content_type="text/plain", size=len(content))

    async def command(self, event_type: str, source_id: str, kind: SourceKind, **fields: Any) -> None:
        """Carry out one source command, and the parse of a file it left waiting (as the file runner would)."""
        await self.commands.handle(command_event(event_type, source_id, kind, **fields))
        await self.parse_waiting_files()

    async def parse_waiting_files(self) -> None:
        """Run the background parse of each file the commands handed over."""
        waiting, self.file_syncs.requested = self.file_syncs.requested, []
        for account_id, source_id in waiting:
            await self.files.run(account_id, source_id)

    async def article(self, article_id: str, body: str, language: str | None = None) -> None:
        """Apply one published article."""
        article = ArticleChanged(
            account_id=ACCOUNT,
            article_id=article_id,
            url=f"https://help.example.test/{article_id}",
            title=article_id,
            body_html=f"<p>{body}</p>",
            language=language,
            updated_at=datetime.now(UTC),
        )
        await self.articles.handle(make_event(ARTICLE_PUBLISHED, article, source="kb", account_id=ACCOUNT))

    def source(self, source_id: str) -> Source:
        """The committed source."""
        return self.database.tables.sources[(ACCOUNT, source_id)]

    def statuses(self, source_id: str) -> list[SourceStatus]:
        """The committed status reports of one source, in order."""
        reports = [event.data for topic, _, event in self.database.published if topic == SOURCES_STATUS]
        return [report for report in reports if isinstance(report, SourceStatus) and report.source_id == source_id]


def command_event(event_type: str, source_id: str, kind: SourceKind, **fields: Any) -> CloudEvent[SourceCommand]:
    """A command as admin-api sends it."""
    command = SourceCommand(account_id=ACCOUNT, source_id=source_id, kind=kind, **fields)
    return make_event(event_type, command, source="admin-api", account_id=ACCOUNT)


def crawled_chunk(source_id: str) -> ChunkDocument:
    """One chunk of a crawled page."""
    return ChunkDocument(
        chunk_id=f"{source_id}-1",
        account_id=ACCOUNT,
        source_id=source_id,
        source_kind=SourceKind.URL,
        document_id="page",
        url="https://old.example.test/",
        title="Home",
        section="",
        body="Welcome.",
        language="en",
        private=False,
        citations_allowed=True,
        position=0,
        content_hash="h",
        updated_at=datetime.now(UTC),
    )


async def test_a_website_sync_is_recorded_pending_and_handed_to_the_background_once() -> None:
    ingestion = Ingestion()
    event = command_event(SOURCE_SYNC, "site", SourceKind.URL, url="https://shop.example.test/")

    await ingestion.commands.handle(event)
    await ingestion.commands.handle(event)  # redelivered

    assert ingestion.source("site").state is SourceState.PENDING
    assert ingestion.source("site").url == "https://shop.example.test/"
    assert [status.state for status in ingestion.statuses("site")] == [SourceState.PENDING]
    assert ingestion.syncs.requested == [(ACCOUNT, "site")]


async def test_a_short_answer_is_ready_and_indexed_at_once() -> None:
    ingestion = Ingestion()

    await ingestion.command(SOURCE_SYNC, "qa", SourceKind.SHORT_ANSWER, question="Do you ship?", answer="Yes, daily.")

    source = ingestion.source("qa")
    assert (source.state, source.title) == (SourceState.READY, "Do you ship?")
    chunks = ingestion.index.of_source("qa")
    assert [(chunk.question, chunk.answer, chunk.source_kind) for chunk in chunks] == [
        ("Do you ship?", "Yes, daily.", SourceKind.SHORT_ANSWER)
    ]
    [status] = ingestion.statuses("qa")
    assert (status.state, status.documents, status.chunks) == (SourceState.READY, 1, 1)
    assert (status.discovered, status.fetched, status.indexed) == (1, 1, 1)  # a progress bar full, not empty
    assert ingestion.syncs.requested == []


async def test_an_edited_short_answer_is_indexed_again_with_its_new_flags() -> None:
    ingestion = Ingestion()
    await ingestion.command(SOURCE_SYNC, "qa", SourceKind.SHORT_ANSWER, question="Do you ship?", answer="Yes.")

    await ingestion.command(
        SOURCE_UPDATE,
        "qa",
        SourceKind.SHORT_ANSWER,
        question=" Do you ship abroad? ",
        answer="Only in the EU.",
        private=True,
    )

    [chunk] = ingestion.index.of_source("qa")
    assert (chunk.answer, chunk.private, chunk.citations_allowed) == ("Only in the EU.", True, False)
    assert ingestion.source("qa").title == "Do you ship abroad?"
    statuses = ingestion.statuses("qa")
    assert [status.state for status in statuses] == [SourceState.READY, SourceState.READY]
    assert (statuses[-1].discovered, statuses[-1].fetched, statuses[-1].indexed) == (1, 1, 1)  # kept by the edit


async def test_a_website_update_resyncs_a_new_address_and_switches_flags_on_its_chunks() -> None:
    ingestion = Ingestion()
    await ingestion.command(SOURCE_SYNC, "site", SourceKind.URL, url="https://old.example.test/")
    await ingestion.index.write([crawled_chunk("site")])  # as the background sync would have,
    ingestion.source("site").state = SourceState.READY  # leaving the source ready

    await ingestion.command(SOURCE_UPDATE, "site", SourceKind.URL, url="https://old.example.test/", private=True)
    assert ingestion.syncs.requested == [(ACCOUNT, "site")]  # the same address: no new sync
    assert ingestion.source("site").private
    assert [(chunk.private, chunk.citations_allowed) for chunk in ingestion.index.of_source("site")] == [(True, False)]

    await ingestion.command(SOURCE_UPDATE, "site", SourceKind.URL, url="https://new.example.test/", private=True)
    assert ingestion.syncs.requested == [(ACCOUNT, "site"), (ACCOUNT, "site")]
    assert (ingestion.source("site").url, ingestion.source("site").state) == (
        "https://new.example.test/",
        SourceState.PENDING,
    )


async def test_an_update_of_an_unknown_source_is_refused() -> None:
    ingestion = Ingestion()
    with pytest.raises(PermanentHandlerError):
        await ingestion.command(SOURCE_UPDATE, "never-synced", SourceKind.URL, url="https://x.example.test/")
    assert ingestion.database.tables.sources == {}  # an update after a delete: see test_deleted_sources.py


async def test_a_deleted_source_leaves_no_chunks_or_documents_and_stops_its_sync() -> None:
    ingestion = Ingestion()
    await ingestion.command(SOURCE_SYNC, "qa", SourceKind.SHORT_ANSWER, question="Do you ship?", answer="Yes.")

    await ingestion.command(SOURCE_DELETE, "qa", SourceKind.SHORT_ANSWER)

    assert ingestion.source("qa").state is SourceState.DELETED
    assert ingestion.index.of_source("qa") == []
    assert ingestion.database.tables.documents[(ACCOUNT, "qa")] == {}
    assert ingestion.syncs.cancelled == [(ACCOUNT, "qa")]
    assert ingestion.statuses("qa")[-1].state is SourceState.DELETED


async def test_a_file_that_is_not_base64_fails_with_its_reason_and_indexes_nothing() -> None:
    ingestion = Ingestion()
    upload = UploadedFile(filename="prices.txt", size=12, sha256="", content_base64="not base64!")

    await ingestion.command(SOURCE_SYNC, "file", SourceKind.FILE, file=upload)

    source = ingestion.source("file")
    assert source.state is SourceState.FAILED
    assert source.error is not None
    assert "not valid base64" in source.error
    [status] = ingestion.statuses("file")
    assert (status.state, status.failed, status.error) == (SourceState.FAILED, 1, source.error)
    assert [failure.url for failure in status.recent_failures] == ["prices.txt"]
    assert ingestion.index.of_source("file") == []
    assert ingestion.database.tables.parse_attempts == {}


async def test_a_removed_knowledge_base_refuses_later_articles_until_one_is_added() -> None:
    ingestion = Ingestion()
    await ingestion.article("returns", "Returns are free for 30 days.")
    assert ingestion.source(IMPLICIT_KB_SOURCE).state is SourceState.READY
    assert len(ingestion.index.of_source(IMPLICIT_KB_SOURCE)) == 1

    await ingestion.command(SOURCE_DELETE, IMPLICIT_KB_SOURCE, SourceKind.KNOWLEDGE_BASE)
    await ingestion.article("shipping", "We ship every weekday.")

    assert ingestion.source(IMPLICIT_KB_SOURCE).state is SourceState.DELETED
    assert ingestion.index.chunks == {}
    refusal = ingestion.statuses(IMPLICIT_KB_SOURCE)[-1]
    assert refusal.state is SourceState.DELETED
    assert refusal.error is not None
    assert "'shipping'" in refusal.error

    await ingestion.command(SOURCE_SYNC, "kb", SourceKind.KNOWLEDGE_BASE)
    await ingestion.article("shipping", "We ship every weekday.")
    assert [chunk.title for chunk in ingestion.index.of_source("kb")] == ["shipping"]
    assert ingestion.index.of_source(IMPLICIT_KB_SOURCE) == []


async def test_an_article_without_a_language_is_indexed_in_the_language_of_its_body() -> None:
    ingestion = Ingestion()
    await ingestion.article(
        "returnering",
        "Du kan returnere varer inden for 30 dage. Pengene bliver sat ind på din konto, når vi har modtaget "
        "pakken, og det tager normalt tre til fem hverdage.",
    )
    await ingestion.article("returns", "Returns are free for 30 days.", language="en-GB")

    assert sorted(chunk.language for chunk in ingestion.index.of_source(IMPLICIT_KB_SOURCE)) == ["da", "en"]


PRICES = b"Prices\n\nThe gold plan costs 10 EUR a month and the silver plan 5 EUR.\n"


async def test_an_uploaded_file_is_fetched_from_the_upload_store_and_indexed() -> None:
    ingestion = Ingestion()

    await ingestion.command(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))

    assert (ingestion.source("file").state, ingestion.source("file").error) == (SourceState.READY, None)
    chunks = ingestion.index.of_source("file")
    assert [chunk.url for chunk in chunks] == ["prices.txt"]
    assert "gold plan costs 10 EUR" in chunks[0].body
    assert [status.state for status in ingestion.statuses("file")] == [SourceState.PENDING, SourceState.READY]
    assert ingestion.source("file").pending_file is None


async def test_a_file_command_only_records_the_file_and_leaves_its_parse_to_the_background() -> None:
    ingestion = Ingestion()
    event = command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))

    await ingestion.commands.handle(event)

    source = ingestion.source("file")
    assert source.state is SourceState.PENDING
    assert source.pending_file == {"event_id": event.id, "command": event.data.model_dump(mode="json")}
    assert source.file_sent_at == event.time
    assert ingestion.file_syncs.requested == [(ACCOUNT, "file")]
    assert ingestion.index.of_source("file") == []
    assert ("ingestion:cmd", event.id) in ingestion.database.claimed


async def test_a_file_deleted_or_replaced_while_it_waits_is_not_indexed_from_its_old_command() -> None:
    ingestion = Ingestion()
    first = ingestion.stored("prices.txt", PRICES)
    await ingestion.commands.handle(command_event(SOURCE_SYNC, "gone", SourceKind.FILE, upload=first))
    await ingestion.commands.handle(command_event(SOURCE_DELETE, "gone", SourceKind.FILE))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, "newer", SourceKind.FILE, upload=first))
    newer = ingestion.stored("newer.txt", PRICES.replace(b"10", b"12"))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, "newer", SourceKind.FILE, upload=newer))
    await ingestion.commands.handle(command_event(SOURCE_UPDATE, "newer", SourceKind.FILE, private=True))

    await ingestion.parse_waiting_files()

    assert ingestion.file_syncs.cancelled == [(ACCOUNT, "gone")]
    assert ingestion.source("gone").state is SourceState.DELETED
    assert ingestion.index.of_source("gone") == []
    [chunk] = ingestion.index.of_source("newer")
    assert (chunk.url, chunk.private) == ("newer.txt", True)  # the newer file, with the update's flag


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        (None, "'prices.txt': the uploaded file is no longer stored (its source was deleted); upload it again"),
        (PRICES.replace(b"10", b"99"), "'prices.txt': the stored file does not match its sha256"),
    ],
)
async def test_a_file_missing_from_the_upload_store_or_altered_there_fails_its_source(
    stored: bytes | None, reason: str
) -> None:
    ingestion = Ingestion()
    reference = UploadReference(sha256=upload_key(PRICES), filename="prices.txt", size=len(PRICES))
    if stored is not None:
        ingestion.database.tables.uploads[(ACCOUNT, reference.sha256)] = stored

    await ingestion.command(SOURCE_SYNC, "file", SourceKind.FILE, upload=reference)  # handled: not retried

    source = ingestion.source("file")
    assert (source.state, source.error) == (SourceState.FAILED, reason)
    status = ingestion.statuses("file")[-1]
    assert (status.state, status.failed, status.error) == (SourceState.FAILED, 1, reason)
    assert ingestion.index.of_source("file") == []


async def test_an_unreachable_upload_store_is_waited_out_and_the_file_indexed_once_it_is_back() -> None:
    ingestion = Ingestion()
    event = command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))
    ingestion.upload_failure = ConnectionRefusedError("PostgreSQL is restarting")
    await ingestion.commands.handle(event)

    parse = asyncio.create_task(ingestion.parse_waiting_files())
    await asyncio.sleep(0.05)  # several tries, each waited out: the source is neither failed nor dropped
    assert not parse.done()
    assert ingestion.source("file").state is SourceState.PENDING

    ingestion.upload_failure = None
    await asyncio.wait_for(parse, 2)
    assert ingestion.source("file").state is SourceState.READY
    assert len(ingestion.index.of_source("file")) == 1


async def test_a_newer_upload_arriving_during_a_parse_is_taken_by_the_same_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestion = Ingestion()
    older, newer = ingestion.stored("old.txt", PRICES), ingestion.stored("new.txt", PRICES.replace(b"10", b"12"))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=older))
    parse = ingestion.files.parse

    async def parse_while_a_newer_upload_arrives(event_id: str, command: SourceCommand) -> Any:
        if command.upload is not None and command.upload.filename == "old.txt":
            await ingestion.commands.handle(command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=newer))
        return await parse(event_id, command)

    monkeypatch.setattr(ingestion.files, "parse", parse_while_a_newer_upload_arrives)
    await ingestion.files.run(ACCOUNT, "file")  # the newer file's own request may find this run's lease held

    assert [chunk.url for chunk in ingestion.index.of_source("file")] == ["new.txt"]
    assert (ingestion.source("file").state, ingestion.source("file").pending_file) == (SourceState.READY, None)


async def test_a_file_refused_for_good_while_indexing_fails_its_source_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    ingestion = Ingestion()
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))
    )
    tries: list[str] = []

    async def refuse(*_: Any, **__: Any) -> None:
        tries.append("write")
        raise ChunkTooLargeError(document_id="d", url="prices.txt", size=10**9, why="larger than any request")

    monkeypatch.setattr(ingestion.files._indexer, "write", refuse)
    await ingestion.parse_waiting_files()

    assert tries == ["write"]  # no second try of what can never succeed
    source = ingestion.source("file")
    assert source.state is SourceState.FAILED
    assert source.error is not None
    assert "ChunkTooLargeError" in source.error


def status_ids(ingestion: Ingestion) -> list[str]:
    """The ids of the committed status events, in order."""
    return [event.id for topic, _, event in ingestion.database.published if topic == SOURCES_STATUS]


async def test_a_command_s_status_gets_an_id_derived_from_the_command_s() -> None:
    sync = command_event(SOURCE_SYNC, "site", SourceKind.URL, url="https://shop.example.test/")
    ids = []
    for _ in range(2):  # as if the first transaction's commit was lost and the command came back
        ingestion = Ingestion()
        await ingestion.commands.handle(sync)
        ids.append(status_ids(ingestion))

    assert ids[0] == ids[1] == [derived_event_id(sync.id, f"{SOURCE_STATUS}:site:1")]
    await ingestion.commands.handle(command_event(SOURCE_DELETE, "site", SourceKind.URL))
    assert len(set(status_ids(ingestion))) == 2


async def test_the_statuses_one_cause_emits_get_different_ids_and_a_sync_s_own_are_random() -> None:
    ingestion = Ingestion()
    await ingestion.command(SOURCE_SYNC, "site", SourceKind.URL, url="https://shop.example.test/")
    source = ingestion.source("site")

    async with ingestion.unit_of_work() as uow:
        await stage_status(uow, source, state=SourceState.SYNCING, cause="cause-1")
        await stage_status(uow, source, state=SourceState.READY, cause="cause-1")
        await stage_status(uow, source, state=SourceState.SYNCING, cause=None)
        await uow.commit()

    caused = [derived_event_id("cause-1", f"{SOURCE_STATUS}:site:{sequence}") for sequence in (2, 3)]
    assert status_ids(ingestion)[1:3] == caused
    assert len(set(status_ids(ingestion))) == 4


async def test_the_scheduler_takes_up_a_file_nobody_parses_any_more() -> None:
    ingestion = Ingestion()
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, "file", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))
    )
    ingestion.file_syncs.requested = []  # its run found another replica's lease, and that replica stopped
    files = SyncRunner(ingestion.files, max_concurrent=1)
    websites = SyncRunner(ingestion.files, max_concurrent=1)
    scheduler = ResyncScheduler(ingestion.unit_of_work, websites, 60.0, files=files)

    await scheduler.tick()
    await files.wait(ACCOUNT, "file")

    assert ingestion.source("file").state is SourceState.READY
    assert [chunk.url for chunk in ingestion.index.of_source("file")] == ["prices.txt"]
