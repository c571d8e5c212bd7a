"""Website sync: crawl a source, index what changed, remove what disappeared, report progress.

Runs in the background (``handlers.sync_runner.SyncRunner``), not inside the Kafka handler, so a
long crawl never blocks the consumer. State lives in PostgreSQL: a sync that
was interrupted by a restart is resumed at start-up.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from customer_agent_shared.events.sources import SourceKind, SourceState

from ingestion_service.adapters.crawler import Crawler, CrawlOptions, CrawlSummary, PreviousPage
from ingestion_service.adapters.metrics import PARSE_FAILURES, SYNCS_FINISHED
from ingestion_service.adapters.page_parser import PageKind, PageOutcome
from ingestion_service.domain.chunking import document_id_for
from ingestion_service.domain.model import IndexedDocument, Source
from ingestion_service.domain.progress import ReportThrottle, SyncProgress
from ingestion_service.handlers.indexing import DocumentIndexer, PreparedDocument
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)

PARSE_FAILURE_KINDS = frozenset({"empty", "content_type", "internal", "timeout", "memory"})
MAX_STORED_LINKS = 1000
WRITERS = 2  # bulk requests in flight per sync
QUEUE_DEPTH = 2  # batches waiting before the crawl is held back


class SourceGone(Exception):
    """The source was deleted while its sync ran."""


class WebsiteSync:
    """One crawl-and-index run of a website source."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        crawler: Crawler,
        indexer: DocumentIndexer,
        options: CrawlOptions,
        *,
        batch_chunks: int = 500,
        progress_interval_seconds: float = 1.0,
        progress_every_pages: int = 25,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._crawler = crawler
        self._indexer = indexer
        self._options = options
        self._batch_chunks = batch_chunks
        self._interval = progress_interval_seconds
        self._every = progress_every_pages

    async def run(self, account_id: str, source_id: str) -> None:
        """Crawl and index one source now."""
        async with self._unit_of_work() as uow:
            source = await uow.sources.get(account_id, source_id, for_update=True)
            if source is None or source.kind != SourceKind.URL or source.is_deleted or not source.url:
                return
            previous = await uow.documents.for_source(account_id, source_id)
            await stage_status(uow, source, state=SourceState.SYNCING, cause=None)
            await uow.commit()
        try:
            await _SyncRun(self, source, previous).execute()
        except SourceGone:
            logger.info("source deleted during its sync", extra={"source_id": source_id})


@dataclass
class _Batch:
    """Pages handed from the crawl to the writers."""

    documents: list[PreparedDocument]
    records: list[IndexedDocument]


class _SyncRun:
    """The mutable state of one sync."""

    def __init__(self, sync: WebsiteSync, source: Source, previous: dict[str, IndexedDocument]) -> None:
        self.sync = sync
        self.source = source
        self.previous = previous
        self.progress = SyncProgress(discovered=1)
        self.throttle = ReportThrottle(sync._interval, sync._every)
        self.pending: list[PreparedDocument] = []
        self.pending_chunks = 0
        self.records: list[IndexedDocument] = []
        self.seen: set[str] = set()  # documents to keep (visited, or failed transiently)
        self.available = 0  # pages indexed or unchanged in this sync
        self.lock = asyncio.Lock()
        self.complete = True
        # Indexing runs beside the crawl: pages are handed over in batches, writers bulk-index them.
        self.batches: asyncio.Queue[_Batch | None] = asyncio.Queue(maxsize=QUEUE_DEPTH)
        self.writers: list[asyncio.Task[None]] = []
        self.writer_error: BaseException | None = None
        self.crawl_task: asyncio.Task[CrawlSummary] | None = None
        self.last_push = time.monotonic()

    def previous_pages(self) -> dict[str, PreviousPage]:
        pages: dict[str, PreviousPage] = {}
        for record in self.previous.values():
            links = tuple((record.extra or {}).get("links", ()))
            pages[record.url] = PreviousPage(record.etag, record.last_modified, record.content_hash, links)
        return pages

    async def on_page(self, outcome: PageOutcome) -> None:
        source = self.source
        self.progress.discovered = max(self.progress.discovered, outcome.discovered)
        document_id = document_id_for(outcome.url)
        old = self.previous.get(document_id)
        now = datetime.now(UTC)
        if outcome.kind is PageKind.FAILED:
            self.progress.record_failure(outcome.url, error=outcome.error or "failed")
            if outcome.failure_kind in PARSE_FAILURE_KINDS:
                PARSE_FAILURES.labels(failure_type=f"html_{outcome.failure_kind}").inc()
            if not outcome.gone:
                self.seen.add(document_id)  # keep what was indexed before a transient failure
        elif outcome.kind is PageKind.DUPLICATE:
            self.progress.fetched += 1
        elif outcome.kind is PageKind.UNCHANGED:
            self.progress.fetched += 1
            self.progress.unchanged += 1
            self.available += 1
            self.seen.add(document_id)
            if old is not None and (old.etag != outcome.etag or old.last_modified != outcome.last_modified):
                old.etag, old.last_modified, old.fetched_at = outcome.etag, outcome.last_modified, now
                self.records.append(old)
        else:
            assert outcome.document is not None
            self.progress.fetched += 1
            self.available += 1
            self.seen.add(document_id)
            prepared = self.sync._indexer.prepare(
                source,
                outcome.document,
                document_id=document_id,
                url=outcome.document.canonical_url or outcome.url,
                updated_at=now,
                previous_chunks=old.chunk_count if old else 0,
                language=outcome.language or None,
                digest=outcome.content_hash,
            )
            self.pending.append(prepared)
            self.pending_chunks += len(prepared.chunks)
            self.records.append(
                IndexedDocument(
                    account_id=source.account_id,
                    source_id=source.source_id,
                    document_id=document_id,
                    url=outcome.url,
                    title=prepared.title[:1000],
                    etag=outcome.etag,
                    last_modified=outcome.last_modified,
                    content_hash=outcome.content_hash,
                    chunk_count=len(prepared.chunks),
                    updated_at=now,
                    fetched_at=now,
                    extra={"links": outcome.links[:MAX_STORED_LINKS], "language": prepared.language},
                )
            )
        if self.writer_error is not None:
            raise self.writer_error
        overdue = time.monotonic() - self.last_push >= self.sync._interval
        if self.pending_chunks >= self.sync._batch_chunks or overdue:
            await self.push()

    async def push(self) -> None:
        """Hand the pending pages to the writers (waits only when they are behind: backpressure)."""
        batch = _Batch(self.pending, self.records)
        self.pending, self.pending_chunks, self.records = [], 0, []
        self.last_push = time.monotonic()
        await self.batches.put(batch)

    async def writer(self) -> None:
        """Bulk-index batches, then commit their document records and a throttled status report."""
        while (batch := await self.batches.get()) is not None:
            if self.writer_error is not None:
                continue  # keep draining so the crawl never blocks on a dead writer
            try:
                refused = await self.sync._indexer.write_fitting(self.source, batch.documents)
                async with self.lock:
                    for error in refused:
                        logger.warning("page left out: too large to index", extra={"url": error.url})
                        self.progress.record_failure(error.url, error=str(error))
                    self.progress.indexed += len(batch.documents) - len(refused)
                    await self.commit(batch.records, left_out=[error.document_id for error in refused])
            except Exception as error:
                self.writer_error = error
                if self.crawl_task is not None:
                    self.crawl_task.cancel()

    async def finish(self, final_state: SourceState, error: str | None) -> None:
        """Drain the writers, make everything searchable, and commit the final state."""
        if self.pending or self.records:
            await self.push()
        for _ in self.writers:
            await self.batches.put(None)
        await asyncio.gather(*self.writers)
        if self.writer_error is not None and final_state is SourceState.READY:
            final_state = SourceState.FAILED
            error = f"indexing failed: {type(self.writer_error).__name__}: {self.writer_error}"
        await self.sync._indexer.store.refresh()  # "ready" means searchable
        async with self.lock:
            await self.commit([], final_state=final_state, error=error)

    async def commit(
        self,
        records: list[IndexedDocument],
        *,
        left_out: list[str] | None = None,
        final_state: SourceState | None = None,
        error: str | None = None,
    ) -> None:
        """Save document records (and drop those of the pages ``left_out`` of the index) and, when due (or final),
        a status report, in one transaction."""
        done = self.progress.fetched + self.progress.failed
        report = final_state is not None or self.throttle.due(time.monotonic(), done)
        if not records and not left_out and not report:
            return
        async with self.sync._unit_of_work() as uow:
            current = await uow.sources.get(self.source.account_id, self.source.source_id, for_update=True)
            if current is None or current.is_deleted:
                raise SourceGone(self.source.source_id)
            if left_out:
                records = [record for record in records if record.document_id not in left_out]
                await uow.documents.delete(self.source.account_id, self.source.source_id, left_out)
            await uow.documents.save_many(records)
            if final_state is not None:
                await self._remove_vanished(uow, final_state)
            if report:
                self.throttle.mark(time.monotonic(), done)
                await stage_status(
                    uow,
                    self.source,
                    state=final_state or SourceState.SYNCING,
                    cause=None,
                    progress=self.progress,
                    error=error,
                    last_synced_at=datetime.now(UTC) if final_state is not None else None,
                )
            if final_state is not None:
                await uow.sources.set_fields(self.source.account_id, self.source.source_id, sync_full=False)
            await uow.commit()

    async def _remove_vanished(self, uow: IngestionUnitOfWorkProtocol, final_state: SourceState) -> None:
        if final_state is not SourceState.READY or not self.complete:
            return
        vanished = [doc_id for doc_id in self.previous if doc_id not in self.seen]
        if vanished:
            await self.sync._indexer.store.delete_documents(self.source.account_id, self.source.source_id, vanished)
            await uow.documents.delete(self.source.account_id, self.source.source_id, vanished)

    async def execute(self) -> None:
        options = self.sync._options
        if self.source.sync_full:
            options = CrawlOptions(**{**options.__dict__, "conditional": False})
        assert self.source.url is not None
        self.writers = [asyncio.create_task(self.writer()) for _ in range(WRITERS)]
        self.crawl_task = asyncio.create_task(
            self.sync._crawler.crawl(
                self.source.url,
                import_related=self.source.import_related,
                options=options,
                previous=self.previous_pages(),
                on_page=self.on_page,
            )
        )
        try:
            summary = await self.crawl_task
        except asyncio.CancelledError:
            if self.writer_error is None:
                for task in self.writers:
                    task.cancel()
                raise
            summary = CrawlSummary(complete=False)
        except Exception as error:
            logger.exception("website sync failed")
            await self.finish(SourceState.FAILED, f"sync failed: {type(error).__name__}: {error}")
            SYNCS_FINISHED.labels(source_kind="url", state="failed").inc()
            return
        if isinstance(self.writer_error, SourceGone):
            await asyncio.gather(*self.writers, return_exceptions=True)
            raise self.writer_error
        self.progress.discovered = summary.discovered
        self.complete = summary.complete and self.writer_error is None
        if summary.start_error and not self.available:
            await self.finish(SourceState.FAILED, summary.start_error)
            SYNCS_FINISHED.labels(source_kind="url", state="failed").inc()
            return
        note = None if summary.complete else "the crawl hit its time limit; some pages were not visited"
        await self.finish(SourceState.READY, note)
        SYNCS_FINISHED.labels(source_kind="url", state="ready" if self.writer_error is None else "failed").inc()
