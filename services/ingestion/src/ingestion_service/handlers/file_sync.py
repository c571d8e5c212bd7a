"""Uploaded files: parsed in limited parser processes and indexed as their source's one document.

A file command is recorded on its source (``pending_file``) by the Kafka handler, which returns at once;
the parse runs here in the background (``SyncRunner``), so one account's slow or hostile file holds no
other account's commands. The wait survives a restart: pending files are resumed at start-up.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import tenacity
from customer_agent_shared.events.sources import SourceCommand, SourceState
from customer_agent_shared.messaging.retries import FailureRetries, RetryPolicy

from ingestion_service.adapters.file_parsers import FileLimits, parse_file
from ingestion_service.adapters.metrics import PARSE_FAILURES, SYNCS_FINISHED
from ingestion_service.domain.chunking import document_id_for
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, ParserStopped
from ingestion_service.domain.file_types import extension_of
from ingestion_service.domain.model import IndexedDocument, Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.handlers.indexing import DocumentIndexer, PreparedDocument
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol, UnitOfWorkFactory
from ingestion_service.handlers.uploaded_files import uploaded_content, uploaded_file_name

logger = logging.getLogger(__name__)


async def previous_chunks(uow: IngestionUnitOfWorkProtocol, source: Source, document_id: str) -> int:
    """How many chunks the document had (0 if it is new): the indexer removes those past the new count."""
    old = await uow.documents.get(source.account_id, source.source_id, document_id)
    return old.chunk_count if old else 0


def indexed_document(source: Source, prepared: PreparedDocument, url: str) -> IndexedDocument:
    """The record of a document indexed now from a command (a file, a short answer)."""
    now = datetime.now(UTC)
    return IndexedDocument(
        account_id=source.account_id,
        source_id=source.source_id,
        document_id=prepared.document_id,
        url=url[:2000],
        title=prepared.title[:1000],
        content_hash=prepared.content_hash,
        chunk_count=len(prepared.chunks),
        updated_at=now,
        fetched_at=now,
        extra={"language": prepared.language},
    )


class FileSync:
    """Parses and indexes the file waiting on a source (the background job of ``SyncRunner``)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        indexer: DocumentIndexer,
        file_limits: FileLimits,
        *,
        max_parse_attempts: int = 2,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._indexer = indexer
        self._file_limits = file_limits
        self._max_parse_attempts = max_parse_attempts
        self._retry = retry or RetryPolicy()

    async def run(self, account_id: str, source_id: str) -> None:
        """Take the source's waiting file, then any newer one, retried as the service's consumers retry a handler
        (``RetryPolicy``): a dependency that is down is waited out, input refused for good fails the source at
        once, another error after ``max_attempts`` tries."""
        try:
            while not await _FileRetries(self._retry).retrying()(self._run_once, account_id, source_id):
                pass  # a newer upload waits: take it now, nobody else will
        except Exception as error:
            logger.exception("uploaded file could not be taken", extra={"source_id": source_id})
            await self._fail(account_id, source_id, f"indexing failed: {type(error).__name__}: {error}")

    async def _run_once(self, account_id: str, source_id: str) -> bool:
        """Take the waiting file; False when a newer upload replaced it meanwhile (still to take)."""
        async with self._unit_of_work() as uow:
            waiting = await uow.sources.get(account_id, source_id)
        if waiting is None or waiting.pending_file is None:
            return True  # a file waits on a live file source only: a delete or another kind's command drops it
        pending = waiting.pending_file
        event_id = str(pending["event_id"])
        command = SourceCommand.model_validate(pending["command"])
        received = time.monotonic()
        document, error = await self.parse(event_id, command)
        async with self._unit_of_work() as uow:
            await uow.parse_attempts.forget(event_id)
            source = await uow.sources.get(account_id, source_id, for_update=True)
            if source is None or source.pending_file != pending:
                # Dropped meanwhile (deleted, another command taken), or a newer upload waits: taken next.
                await uow.commit()
                return source is None or source.pending_file is None
            # Flags changed by an update after the upload are the source's, not the upload command's.
            command = command.model_copy(update=_settings_of(source))
            state = await self.take(
                uow, source, event_id=event_id, command=command, document=document, error=error, received=received
            )
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind="file", state=state).inc()
        return True

    async def _fail(self, account_id: str, source_id: str, reason: str) -> None:
        async with self._unit_of_work() as uow:
            source = await uow.sources.get(account_id, source_id, for_update=True)
            if source is None or source.pending_file is None:
                return
            cause = str(source.pending_file["event_id"])
            source.pending_file, source.state, source.error = None, SourceState.FAILED, reason
            await uow.sources.save(source)
            await stage_status(uow, source, state=SourceState.FAILED, cause=cause, error=reason)
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind="file", state="failed").inc()

    async def parse(self, event_id: str, command: SourceCommand) -> tuple[ParsedDocument | None, str | None]:
        """The parsed file of a file command, or None and why it was refused."""
        filename = uploaded_file_name(command)
        try:
            content = await uploaded_content(self._unit_of_work, command)
            return await self._parse_counted(event_id, command, filename, content), None
        except DocumentRefused as refused:
            PARSE_FAILURES.labels(failure_type=refused.failure_type).inc()
            logger.info("file refused", extra={"reason": refused.reason, "file_type": extension_of(filename)})
            return None, refused.reason

    async def take(
        self,
        uow: IngestionUnitOfWorkProtocol,
        source: Source,
        *,
        event_id: str,
        command: SourceCommand,
        document: ParsedDocument | None,
        error: str | None,
        received: float,
    ) -> str:
        """Index the parsed file (or fail the source with why it was refused) in ``uow``; the state reached."""
        filename = uploaded_file_name(command)
        progress = SyncProgress(discovered=1)
        if document is None:
            source.refuse(command, error, at=datetime.now(UTC))
            await uow.sources.save(source)
            progress.record_failure(filename, error=error or "refused")
            await stage_status(uow, source, state=SourceState.FAILED, cause=event_id, progress=progress, error=error)
            return "failed"
        source.accept(command, at=datetime.now(UTC))
        await uow.sources.save(source)
        await self._index_file(uow, source, filename, document, received=received)
        progress.fetched = progress.indexed = 1
        await stage_status(
            uow, source, state=SourceState.READY, cause=event_id, progress=progress, last_synced_at=datetime.now(UTC)
        )
        return "ready"

    async def _index_file(
        self,
        uow: IngestionUnitOfWorkProtocol,
        source: Source,
        filename: str,
        document: ParsedDocument,
        *,
        received: float,
    ) -> None:
        """Index an uploaded file as the source's one document, replacing one uploaded under another name."""
        document_id = document_id_for(f"file:{filename}")
        prepared = self._indexer.prepare(
            source,
            document,
            document_id=document_id,
            url=filename,
            updated_at=datetime.now(UTC),
            received_at=received,
            previous_chunks=await previous_chunks(uow, source, document_id),
        )
        old = await uow.documents.for_source(source.account_id, source.source_id)
        replaced = [doc_id for doc_id in old if doc_id != document_id]
        await self._indexer.write(source, [prepared], refresh=True)
        if replaced:
            await self._indexer.store.delete_documents(source.account_id, source.source_id, replaced)
            await uow.documents.delete(source.account_id, source.source_id, replaced)
        await uow.documents.save_many([indexed_document(source, prepared, filename)])

    async def _parse_counted(
        self, event_id: str, command: SourceCommand, filename: str, content: bytes
    ) -> ParsedDocument:
        """Parse in a parser process, each start counted (committed) first: a file whose parser is stopped,
        or that takes the whole service down, is refused after ``max_parse_attempts`` starts."""
        while True:
            async with self._unit_of_work() as uow:
                attempt = await uow.parse_attempts.begin(
                    event_id, account_id=command.account_id, source_id=command.source_id
                )
                await uow.commit()
            if attempt.number > self._max_parse_attempts:
                raise self._given_up(filename, attempt.previous_failure)
            try:
                document = await parse_file(filename, content, self._file_limits)
            except ParserStopped as stopped:  # a DocumentRefused too: this clause comes first
                PARSE_FAILURES.labels(failure_type=stopped.failure_type).inc()
                logger.warning("file parser stopped", extra={"reason": stopped.reason, "attempt": attempt.number})
                async with self._unit_of_work() as uow:
                    await uow.parse_attempts.record_failure(event_id, reason=stopped.reason)
                    await uow.commit()
                if attempt.number >= self._max_parse_attempts:
                    raise self._given_up(filename, stopped.reason) from stopped
            except DocumentRefused:
                await self._forget_parse_attempts(event_id)
                raise
            else:
                # The parser finished: what follows (indexing, the commit) may fail and be retried, but must
                # not count against the file as if its parser had died.
                await self._forget_parse_attempts(event_id)
                return document

    async def _forget_parse_attempts(self, event_id: str) -> None:
        async with self._unit_of_work() as uow:
            await uow.parse_attempts.forget(event_id)
            await uow.commit()

    def _given_up(self, filename: str, last_failure: str | None) -> DocumentRefused:
        attempts = self._max_parse_attempts
        what = last_failure or f"{filename!r}: the parser did not finish (the service may have run out of memory)"
        return DocumentRefused(
            f"{what}; given up after {attempts} attempt{'s' if attempts != 1 else ''}: "
            "the file may be too large or too complex",
            failure_type="parser_gave_up",
        )


class _FileRetries(FailureRetries):
    """The retries of one file's run, as a handler's: a dependency that is down waited out, an unknown failure
    retried ``max_attempts`` times, input refused for good never; each retry logged."""

    def retrying(self) -> tenacity.AsyncRetrying:
        """The tenacity strategy, raising the last failure when it gives up."""
        return tenacity.AsyncRetrying(
            retry=self.retry, stop=self.stop, wait=self.wait, before_sleep=self._before_sleep, reraise=True
        )

    def _before_sleep(self, state: tenacity.RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        unavailable = self.failure.reason if self.failure is not None else None
        logger.warning(
            "uploaded file will be tried again",
            extra={"error": repr(error)[:300], "unavailable": unavailable, "attempt": state.attempt_number},
        )


def _settings_of(source: Source) -> dict[str, Any]:
    return {
        "private": source.private,
        "citations_enabled": source.citations_enabled,
        "resync_interval_hours": source.resync_interval_hours,
    }
