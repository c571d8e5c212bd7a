"""Use case: report how many of a source's chunks have their vector while the embedding backfill adds them.

The count is stored on the source, so a running sync's own progress reports carry it; a source that is
not syncing gets a status event of its own, at most every few seconds per source and always when its
last chunk got its vector. Such a report repeats the sync progress the source last reported (stored
with it), so it never resets what a sync reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from customer_agent_shared.events.sources import SourceState

from ingestion_service.adapters.embedding_store import EmbeddingStore
from ingestion_service.domain.model import Source
from ingestion_service.domain.progress import SourceThrottle, VectorsReport, vectors_report
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import IngestionUnitOfWorkProtocol, UnitOfWorkFactory

REPORT_INTERVAL_SECONDS = 2.0
MAX_RECOUNTS_PER_PASS = 100  # sources recounted per pass beyond those the batch touched

SourceKey = tuple[str, str]


class EmbeddingProgress:
    """Keeps each source's count of chunks with a vector of the current model and reports it."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        store: EmbeddingStore,
        *,
        interval_seconds: float = REPORT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._store = store
        self._throttle = SourceThrottle(interval_seconds)
        self._clock = clock
        self._stale: set[SourceKey] = set()  # to count again (kept until counted: a failed pass retries)
        self._held: set[SourceKey] = set()  # counted and stored, the report held back by the throttle
        self._reconciled = False

    async def report(self, model_id: str, touched: Iterable[SourceKey] = ()) -> None:
        """Count the touched sources again and report them; report held-back counts that are now due."""
        touched = set(touched)
        self._stale |= touched
        if not self._reconciled:
            # Counts stored before a restart or an upgrade may be behind: recount what looks unfinished.
            async with self._unit_of_work() as uow:
                self._stale.update(await uow.sources.short_of_vectors())
            self._reconciled = True
        order = sorted(touched) + sorted(self._stale - touched)
        for key in order[: max(len(touched), MAX_RECOUNTS_PER_PASS)]:
            await self._recount(key, model_id)
            self._stale.discard(key)
        for key in sorted(self._held):
            if self._throttle.due(key, self._clock()):
                await self._report_held(key)

    async def _recount(self, key: SourceKey, model_id: str) -> None:
        async with self._unit_of_work() as uow:
            source = await uow.sources.get(*key, for_update=True)
            if source is None:
                self._held.discard(key)
                return
            # Counted while the source is locked: of two concurrent counts, the later one is stored last.
            embedded = await self._store.embedded(*key, model_id=model_id)
            if embedded == source.embedded_chunks:
                return
            await uow.sources.set_fields(*key, embedded_chunks=embedded)
            await self._stage(uow, source, complete=embedded >= source.chunks)
            await uow.commit()

    async def _report_held(self, key: SourceKey) -> None:
        async with self._unit_of_work() as uow:
            source = await uow.sources.get(*key, for_update=True)
            if source is not None:
                await self._stage(uow, source, complete=True)
                await uow.commit()
        self._held.discard(key)

    async def _stage(self, uow: IngestionUnitOfWorkProtocol, source: Source, *, complete: bool) -> None:
        key = (source.account_id, source.source_id)
        now = self._clock()
        decision = vectors_report(source.state, complete=complete, due=self._throttle.due(key, now))
        if decision is VectorsReport.LATER:
            self._held.add(key)
            return
        self._held.discard(key)
        if decision is VectorsReport.NOW:
            self._throttle.mark(key, now)
            await stage_status(
                uow,
                source,
                state=SourceState(source.state),
                cause=None,
                progress=source.reported_progress(),
                error=source.error,
            )
