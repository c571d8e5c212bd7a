"""Use case: ``source.sync`` / ``source.update`` / ``source.delete`` commands from admin-api.

Short answers and knowledge-base registrations are handled inline (they are
bounded); website syncs and uploaded files are recorded and handed to background
runners (``SyncRunner``), so no command waits behind another account's crawl or parse.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

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

from ingestion_service.adapters.metrics import COMMANDS_PASSED_OVER, SYNCS_FINISHED
from ingestion_service.domain.documents import ParsedDocument, Section
from ingestion_service.domain.model import Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.domain.urls import UrlRefused, canonicalize
from ingestion_service.handlers.file_sync import FileSync, indexed_document, previous_chunks
from ingestion_service.handlers.indexing import DocumentIndexer
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol, SyncQueue, UnitOfWorkFactory

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


class ClaimOutcome(Enum):
    """What claiming a command found: carry it out, handled before (nothing committed), or stale (claim committed)."""

    TAKEN = "taken"
    REPEATED = "repeated"
    PASSED_OVER = "passed_over"


@dataclass(frozen=True)
class CommandClaim:
    """A claimed command's outcome and its stored source, locked."""

    outcome: ClaimOutcome
    source: Source | None = None

    @property
    def taken(self) -> bool:
        """Whether to carry the command out."""
        return self.outcome is ClaimOutcome.TAKEN

    @property
    def repeated(self) -> bool:
        """Whether the event was handled before (nothing of this claim committed)."""
        return self.outcome is ClaimOutcome.REPEATED


class SourceCommands:
    """Carries out source commands."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        indexer: DocumentIndexer,
        runner: SyncQueue,
        *,
        files: FileSync,
        file_runner: SyncQueue,
        consumer: str,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._indexer = indexer
        self._runner = runner
        self._files = files
        self._file_runner = file_runner
        self._consumer = consumer

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
            await (self._await_file(event) if command.upload is not None else self._sync_inline_file(event))
            return
        async with self._unit_of_work() as uow:
            claim = await self._claim_command(uow, event)
            if not claim.taken:
                return
            existing = claim.source
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
            now = datetime.now(UTC)
            source.accept(command, at=now)
            await uow.sources.save(source)
            progress = None
            if command.kind is SourceKind.SHORT_ANSWER:
                await self._index_short_answer(uow, source, command)
                progress = SyncProgress(discovered=1, fetched=1, indexed=1)  # its one document, as a file shows it
            await stage_status(
                uow, source, state=SourceState.READY, cause=event.id, progress=progress, last_synced_at=now
            )
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind=command.kind.value, state="ready").inc()

    async def _claim_command(self, uow: IngestionUnitOfWorkProtocol, event: CloudEvent[SourceCommand]) -> CommandClaim:
        """Claim a sync or update command and lock its source; one the source moved past (``Source.passed_over``)
        is logged, counted and its claim committed: done with, never dead-lettered."""
        if not await uow.claim_event(self._consumer, event.id):
            return CommandClaim(ClaimOutcome.REPEATED)
        command = event.data
        source = await uow.sources.get(command.account_id, command.source_id, for_update=True)
        reason = None if source is None else source.passed_over(command, event.time)
        if source is None or reason is None:
            return CommandClaim(ClaimOutcome.TAKEN, source)
        logger.info(
            "source command not taken: its source moved past it",
            extra={"reason": reason, "sent_at": str(event.time), "file_sent_at": str(source.file_sent_at)},
        )
        COMMANDS_PASSED_OVER.labels(source_kind=command.kind.value, reason=reason).inc()
        await uow.commit()
        return CommandClaim(ClaimOutcome.PASSED_OVER, source)

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
            previous_chunks=await previous_chunks(uow, source, SHORT_ANSWER_DOCUMENT),
        )
        await self._indexer.write(source, [prepared], refresh=True)
        await uow.documents.save_many([indexed_document(source, prepared, question)])

    async def _await_file(self, event: CloudEvent[SourceCommand]) -> None:
        """Record the uploaded file on its source and hand the parse to the background, unless the source moved
        past it (deleted, or given a file sent well after it)."""
        command = event.data
        async with self._unit_of_work() as uow:
            claim = await self._claim_command(uow, event)
            if not claim.taken:
                return
            source = Source.from_command(command, claim.source)
            source.await_file(command, event.id, at=datetime.now(UTC), sent_at=event.time)
            await uow.sources.save(source)
            await stage_status(uow, source, state=SourceState.PENDING, cause=event.id)
            await uow.commit()
        self._file_runner.request(command.account_id, command.source_id)

    async def _sync_inline_file(self, event: CloudEvent[SourceCommand]) -> None:
        """A file carried in the command (older commands, replayed by an operator): taken in the handler, unless the
        source moved past it (deleted, or given a file sent well after it: indexed or waiting for its parse)."""
        command = event.data
        if await self._done_before_parse(event):
            return
        received = time.monotonic()
        document, error = await self._files.parse(event.id, command)
        async with self._unit_of_work() as uow:
            await uow.parse_attempts.forget(event.id)
            claim = await self._claim_command(uow, event)  # passed over: deleted or replaced during the parse
            if claim.repeated:
                await uow.commit()  # handled before: the parse's attempts are forgotten all the same
            if not claim.taken:
                return
            source = Source.from_command(command, claim.source)
            source.note_file_sent(event.time)
            state = await self._files.take(
                uow, source, event_id=event.id, command=command, document=document, error=error, received=received
            )
            await uow.commit()
        SYNCS_FINISHED.labels(source_kind="file", state=state).inc()

    async def _done_before_parse(self, event: CloudEvent[SourceCommand]) -> bool:
        """Whether the command was handled before or its source already moved past it (then claimed now): an
        inline file is not parsed for nothing. The source is not locked through the parse: checked again after."""
        async with self._unit_of_work() as uow:
            claim = await self._claim_command(uow, event)
        return not claim.taken  # taken: the claim was rolled back, the command is claimed with what it changes

    async def _update(self, event: CloudEvent[SourceCommand]) -> None:
        command = event.data
        async with self._unit_of_work() as uow:
            claim = await self._claim_command(uow, event)
            if not claim.taken:  # handled before, or deleted since: an edit sent before the delete changes nothing
                return
            existing = claim.source
            if existing is None:
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
        await self._file_runner.cancel(*key)
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
