"""Building and staging ``source.status`` events (through the outbox, with a monotonic sequence)."""

from __future__ import annotations

from datetime import datetime

from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import SOURCE_STATUS, SourceState, SourceStatus
from customer_agent_shared.topics import SOURCES_STATUS

from ingestion_service.adapters.repositories import SourceRecord
from ingestion_service.adapters.unit_of_work import IngestionUnitOfWork
from ingestion_service.domain.progress import SyncProgress

SERVICE_SOURCE = "ingestion"


async def stage_status(
    uow: IngestionUnitOfWork,
    source: SourceRecord,
    *,
    state: SourceState,
    progress: SyncProgress | None = None,
    error: str | None = None,
    last_synced_at: datetime | None = None,
) -> SourceStatus:
    """Persist the source's state and counts and stage its status event in the same transaction."""
    documents, chunks = await uow.documents.totals(source.account_id, source.source_id)
    sequence = await uow.sources.next_sequence(source.account_id, source.source_id)
    values: dict[str, object] = {"state": state.value, "error": error, "documents": documents, "chunks": chunks}
    if last_synced_at is not None:
        values["last_synced_at"] = last_synced_at
    await uow.sources.set_fields(source.account_id, source.source_id, **values)
    progress = progress or SyncProgress()
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
        error=error,
        last_synced_at=last_synced_at or source.last_synced_at,
        recent_failures=list(progress.recent_failures),
    )
    await uow.publish(
        SOURCES_STATUS,
        f"{source.account_id}:{source.source_id}",
        make_event(SOURCE_STATUS, status, source=SERVICE_SOURCE, account_id=source.account_id),
    )
    return status
