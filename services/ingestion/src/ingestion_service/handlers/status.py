"""Building and staging ``source.status`` events (through the outbox, with a monotonic sequence)."""

from __future__ import annotations

from datetime import datetime

from customer_agent_shared.events.envelope import derived_event_id, make_event
from customer_agent_shared.events.sources import SOURCE_STATUS, SourceState, SourceStatus
from customer_agent_shared.topics import SOURCES_STATUS

from ingestion_service.domain.model import Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol

SERVICE_SOURCE = "ingestion"


async def stage_status(
    uow: IngestionUnitOfWorkProtocol,
    source: Source,
    *,
    state: SourceState,
    cause: str | None,
    progress: SyncProgress | None = None,
    error: str | None = None,
    last_synced_at: datetime | None = None,
) -> SourceStatus:
    """Persist the source's state, counts and progress and stage its status event in the same transaction.

    The count of chunks with a vector is the stored one (the embedding backfill keeps it). The event's id is
    derived from ``cause``, the id of the event being handled (a sync's progress or a vector count has
    none: then it is random); the source and the status's sequence tell apart the statuses one cause emits.
    """
    documents, chunks = await uow.documents.totals(source.account_id, source.source_id)
    progress = progress or SyncProgress()
    recent_failures = list(progress.recent_failures)
    values: dict[str, object] = {
        "state": state.value,
        "error": error,
        "documents": documents,
        "chunks": chunks,
        "discovered": progress.discovered,
        "fetched": progress.fetched,
        "indexed": progress.indexed,
        "failed": progress.failed,
        "recent_failures": [failure.model_dump(mode="json") for failure in recent_failures],
    }
    if last_synced_at is not None:
        values["last_synced_at"] = last_synced_at
    sequence, embedded = await uow.sources.record_status(source.account_id, source.source_id, **values)
    status = SourceStatus(
        account_id=source.account_id,
        source_id=source.source_id,
        state=state,
        sequence=sequence,
        discovered=progress.discovered,
        fetched=progress.fetched,
        indexed=progress.indexed,
        failed=progress.failed,
        documents=documents,
        chunks=chunks,
        # Chunks removed since the count was stored may still be in it.
        embedded_chunks=min(embedded, chunks),
        error=error,
        last_synced_at=last_synced_at or source.last_synced_at,
        recent_failures=recent_failures,
    )
    event_id = derived_event_id(cause, f"{SOURCE_STATUS}:{source.source_id}:{sequence}") if cause else None
    await uow.publish(
        SOURCES_STATUS,
        f"{source.account_id}:{source.source_id}",
        make_event(SOURCE_STATUS, status, source=SERVICE_SOURCE, account_id=source.account_id, event_id=event_id),
    )
    return status
