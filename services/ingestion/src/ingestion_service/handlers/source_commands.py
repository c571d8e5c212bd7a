"""Use case: ``source.sync`` / ``source.update`` / ``source.delete`` commands from admin-api.

Files, short answers and knowledge-base registrations are handled inline (they
are bounded); website syncs are recorded and handed to the background runner.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.sources import (
    SOURCE_DELETE,
    SOURCE_SYNC,
    SOURCE_UPDATE,
    SourceCommand,
    SourceKind,
    SourceState,
)
from customer_agent_shared.messaging.reliable import PermanentHandlerError

from ingestion_service.adapters.file_parsers import FileLimits, parse_file
from ingestion_service.adapters.metrics import PARSE_FAILURES, SYNCS_FINISHED
from ingestion_service.domain.chunking import document_id_for
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, ParserStopped, Section
from ingestion_service.domain.file_types import extension_of
from ingestion_service.domain.model import IndexedDocument, Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.domain.urls import UrlRefused, canonicalize
from ingestion_service.handlers.indexing import DocumentIndexer, PreparedDocument
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol, SyncQueue, UnitOfWorkFactory
from ingestion_service.handlers.uploaded_files import uploaded_content, uploaded_file_name

logger = logging.getLogger(__name__)

SHORT_ANSWER_DOCUMENT = "short-answer"


def invalid_reason(command: SourceCommand) -> str | None:
    """Why a sync command cannot be carried out, or None."""
    if command.kind is SourceKind.URL:
        if not command.url:
            return "a url source needs a 'url'"
        try:
            canonicalize(command.url)
        except UrlRefused as error:
            return f"invalid url: {error}"
    if command.kind is SourceKind.FILE and command.upload is None and command.file is None:
        return "a file source needs its uploaded file ('upload')"
    if command.kind is SourceKind.SHORT_ANSWER and not (
        (command.question or "").strip() and (command.answer or "").strip()
    ):
        return "a short answer needs a 'question' and an 'answer'"
    return None


class SourceCommands:
    """Carries out source commands."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        indexer: DocumentIndexer,
        runner: SyncQueue,
        file_limits: FileLimits,
        consumer: str,
        max_parse_attempts: int = 2,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._indexer = indexer
        self._runner = runner
        self._file_limits = file_limits
        self._consumer = consumer
        self._max_parse_attempts = max_parse_attempts

    async def handle(self, event: CloudEvent[SourceCommand]) -> None:
        """Dispatch one command by its event type."""
        if event.type == SOURCE_DELETE:
            await self._delete(event)
        elif event.type == SOURCE_UPDATE:
            await self._update(event)
        elif event.type == SOURCE_SYNC:
            await self._sync(event)
        else:
            raise PermanentHandlerError(f"unknown source command type {event.type!r}")

    async def _sync(self, event: CloudEvent[SourceCommand]) -> None:
        command = event.data
        reason = invalid_reason(command)
        if reason is None and command.kind is SourceKind.FILE:
            await self._sync_file(event)
            return
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return
            existing = await uow.sources.get(command.account_id, command.source_id, for_update=True)
            if command.kind is SourceKind.FILE and existing is not None and existing.state == SourceState.READY:
                # A resync of a file uploaded before uploads were stored by reference carries no file: it
                # cannot have changed and its chunks are indexed, so the resync only confirms the source.
                existing.confirm_sync(at=datetime.now(UTC))
                await uow.sources.save(existing)
                await stage_status(
                    uow,
                    existing,
                    state=SourceState.READY,
                    cause=event.id,
                    progress=existing.reported_progress(),
                    last_synced_at=datetime.now(UTC),
                )
                await uow.commit()
                return
            source = Source.from_command(command, existing)
            if reason is not None:
                source.refuse(command, reason, at=datetime.now(UTC))
                await uow.sources.save(source)
                await stage_status(uow, source, state=SourceState.FAILED, cause=event.id, error=reason)
                await uow.commit()
                return
            if command.kind is SourceKind.URL:
                source.request_sync(command, at=datetime.now(UTC))
                await uow.sources.save(source)
                await stage_status(uow, source, state=SourceState.PENDING, cause=event.id)
                await uow.commit()
                self._runner.request(command.account_id, command.source_id)
                return
            source.accept(command, at=datetime.now(UTC))
            await uow.sources.save(source)
            if command.kind is SourceKind.SHORT_ANSWER:
                await self._index_short_answer(uow, source, command)
            await stage_status(uow, source, state=SourceState.READY, cause=event.id, last_synced_at=datetime.now(UTC))
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind=command.kind.value, state="ready").inc()

    async def _index_short_answer(
        self, uow: IngestionUnitOfWorkProtocol, source: Source, command: SourceCommand
    ) -> None:
        question = (command.question or "").strip()
        answer = (command.answer or "").strip()
        document = ParsedDocument(title=question, sections=[Section(question, answer)])
        prepared = self._indexer.prepare(
            source,
            document,
            document_id=SHORT_ANSWER_DOCUMENT,
            url="",
            updated_at=datetime.now(UTC),
            question=question,
            answer=answer,
            previous_chunks=await self._previous_chunks(uow, source, SHORT_ANSWER_DOCUMENT),
        )
        await self._indexer.write(source, [prepared], refresh=True)
        await uow.documents.save_many([self._indexed_document(source, prepared, question)])

    @staticmethod
    async def _previous_chunks(uow: IngestionUnitOfWorkProtocol, source: Source, document_id: str) -> int:
        old = await uow.documents.get(source.account_id, source.source_id, document_id)
        return old.chunk_count if old else 0

    @staticmethod
    def _indexed_document(source: Source, prepared: PreparedDocument, url: str) -> IndexedDocument:
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

    async def _sync_file(self, event: CloudEvent[SourceCommand]) -> None:
        command = event.data
        filename = uploaded_file_name(command)
        received = time.monotonic()
        document: ParsedDocument | None = None
        error: str | None = None
        try:
            content = await uploaded_content(self._unit_of_work, command)
            document = await self._parse_counted(event, filename, content)
        except DocumentRefused as refused:
            error = refused.reason
            PARSE_FAILURES.labels(failure_type=refused.failure_type).inc()
            logger.info("file refused", extra={"reason": error, "file_type": extension_of(filename)})
        key = (command.account_id, command.source_id)
        async with self._unit_of_work() as uow:
            await uow.parse_attempts.forget(event.id)
            if not await uow.claim_event(self._consumer, event.id):
                await uow.commit()
                return
            source = Source.from_command(command, await uow.sources.get(*key, for_update=True))
            progress = SyncProgress(discovered=1)
            if document is None:
                source.refuse(command, error, at=datetime.now(UTC))
                await uow.sources.save(source)
                progress.record_failure(filename, error=error or "refused")
                await stage_status(
                    uow, source, state=SourceState.FAILED, cause=event.id, progress=progress, error=error
                )
                await uow.commit()
                SYNCS_FINISHED.labels(source_kind="file", state="failed").inc()
                return
            source.accept(command, at=datetime.now(UTC))
            await uow.sources.save(source)
            await self._index_file(uow, source, filename, document, received=received)
            progress.fetched = progress.indexed = 1
            await stage_status(
                uow,
                source,
                state=SourceState.READY,
                cause=event.id,
                progress=progress,
                last_synced_at=datetime.now(UTC),
            )
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind="file", state="ready").inc()

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
            previous_chunks=await self._previous_chunks(uow, source, document_id),
        )
        old = await uow.documents.for_source(source.account_id, source.source_id)
        replaced = [doc_id for doc_id in old if doc_id != document_id]
        await self._indexer.write(source, [prepared], refresh=True)
        if replaced:
            await self._indexer.store.delete_documents(source.account_id, source.source_id, replaced)
            await uow.documents.delete(source.account_id, source.source_id, replaced)
        await uow.documents.save_many([self._indexed_document(source, prepared, filename)])

    async def _parse_counted(self, event: CloudEvent[SourceCommand], filename: str, content: bytes) -> ParsedDocument:
        """Parse in a parser process, each start counted (committed) first: a file whose parser is stopped,
        or that takes the whole service down, is refused after ``max_parse_attempts`` starts."""
        command = event.data
        while True:
            async with self._unit_of_work() as uow:
                attempt = await uow.parse_attempts.begin(
                    event.id, account_id=command.account_id, source_id=command.source_id
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
                    await uow.parse_attempts.record_failure(event.id, reason=stopped.reason)
                    await uow.commit()
                if attempt.number >= self._max_parse_attempts:
                    raise self._given_up(filename, stopped.reason) from stopped
            except DocumentRefused:
                await self._forget_parse_attempts(event)
                raise
            else:
                # The parser finished: what follows (indexing, the commit) may fail and be retried, but must
                # not count against the file as if its parser had died.
                await self._forget_parse_attempts(event)
                return document

    async def _forget_parse_attempts(self, event: CloudEvent[SourceCommand]) -> None:
        async with self._unit_of_work() as uow:
            await uow.parse_attempts.forget(event.id)
            await uow.commit()

    def _given_up(self, filename: str, last_failure: str | None) -> DocumentRefused:
        attempts = self._max_parse_attempts
        what = last_failure or f"{filename!r}: the parser did not finish (the service may have run out of memory)"
        return DocumentRefused(
            f"{what}; given up after {attempts} attempt{'s' if attempts != 1 else ''}: "
            "the file may be too large or too complex",
            failure_type="parser_gave_up",
        )

    async def _update(self, event: CloudEvent[SourceCommand]) -> None:
        command = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return
            existing = await uow.sources.get(command.account_id, command.source_id, for_update=True)
            if existing is None or existing.is_deleted:
                raise PermanentHandlerError(f"source {command.source_id!r} is unknown; sync it before updating it")
            change = existing.update(command)
            reindex = existing.kind == SourceKind.SHORT_ANSWER and invalid_reason(command) is None
            if reindex:
                # An edited question or answer is what the agent says next: index it now, not at a resync.
                existing.edit_short_answer(command.question or "")
            await uow.sources.save(existing)
            if reindex:
                await self._index_short_answer(uow, existing, command)
            elif change.flags_changed:
                await self._indexer.store.update_source_flags(
                    existing.account_id,
                    existing.source_id,
                    private=command.private,
                    citations=command.citations_enabled,
                )
            await stage_status(
                uow,
                existing,
                state=existing.state,
                cause=event.id,
                progress=existing.reported_progress(),
                error=existing.error,
            )
            await uow.commit()
        if change.resync:
            self._runner.request(command.account_id, command.source_id)

    async def _delete(self, event: CloudEvent[SourceCommand]) -> None:
        command = event.data
        key = (command.account_id, command.source_id)
        await self._runner.cancel(*key)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return
            source = Source.from_command(command, await uow.sources.get(*key, for_update=True))
            source.delete()
            await uow.sources.save(source)
            await self._indexer.store.delete_source(*key)
            await uow.documents.delete(*key)
            await stage_status(uow, source, state=SourceState.DELETED, cause=event.id)
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind=command.kind.value, state="deleted").inc()
