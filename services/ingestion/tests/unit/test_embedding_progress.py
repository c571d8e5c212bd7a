"""The backfill's count of a source's chunks with a vector: always stored, reported in the source's status
at most every interval (always when complete), never by the backfill while the source syncs."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from customer_agent_shared.events.sources import PageFailure, SourceKind, SourceState, SourceStatus
from ingestion_service.domain.model import Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.handlers.embedding_progress import EmbeddingProgress
from ingestion_service.handlers.status import stage_status

KEY = ("acct", "docs")
MODEL = "model-a"


class Stack:
    """Stands in for ingestion's tables, its outbox, OpenSearch's counts and the clock."""

    def __init__(self, record: Source, *, embedded: int) -> None:
        self.records = {(record.account_id, record.source_id): record}
        self.counts = {(record.account_id, record.source_id): embedded}  # what OpenSearch counts
        self.published: list[SourceStatus] = []
        self.now = 0.0
        self.count_failures = 0

    @property
    def record(self) -> Source:
        return self.records[KEY]

    def unit_of_work(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    def clock(self) -> float:
        return self.now

    async def embedded(self, account_id: str, source_id: str, *, model_id: str) -> int:
        """EmbeddingStore.embedded."""
        assert model_id == MODEL
        if self.count_failures:
            self.count_failures -= 1
            raise ConnectionError("opensearch unavailable")
        return self.counts[(account_id, source_id)]


class FakeSources:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    async def get(self, account_id: str, source_id: str, *, for_update: bool = False) -> Source | None:
        record = self._stack.records.get((account_id, source_id))
        return dataclasses.replace(record) if record else None

    async def set_fields(self, account_id: str, source_id: str, **values: Any) -> None:
        for name, value in values.items():
            setattr(self._stack.records[(account_id, source_id)], name, value)

    async def short_of_vectors(self) -> list[tuple[str, str]]:
        return [key for key, r in self._stack.records.items() if r.state != "deleted" and r.embedded_chunks < r.chunks]

    async def record_status(self, account_id: str, source_id: str, **values: Any) -> tuple[int, int]:
        record = self._stack.records[(account_id, source_id)]
        await self.set_fields(account_id, source_id, **values, status_sequence=record.status_sequence + 1)
        return record.status_sequence, record.embedded_chunks


class FakeDocuments:
    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    async def totals(self, account_id: str, source_id: str) -> tuple[int, int]:
        record = self._stack.records[(account_id, source_id)]
        return record.documents, record.chunks


class FakeUnitOfWork:
    """Writes at once; the staged events reach ``published`` only on commit."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack
        self.sources = FakeSources(stack)
        self.documents = FakeDocuments(stack)
        self._staged: list[SourceStatus] = []

    async def __aenter__(self) -> FakeUnitOfWork:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def publish(self, topic: str, key: str, event: Any) -> None:
        self._staged.append(event.data)

    async def commit(self) -> None:
        self._stack.published.extend(self._staged)
        self._staged = []


def ready_source(**fields: Any) -> Source:
    failure = PageFailure(url="https://shop.test/gone", error="404").model_dump()
    values: dict[str, Any] = {
        "account_id": KEY[0],
        "source_id": KEY[1],
        "kind": SourceKind.URL,
        "state": SourceState.READY,
        "documents": 4,
        "chunks": 10,
        "discovered": 5,
        "fetched": 5,
        "indexed": 4,
        "failed": 1,
        "recent_failures": [failure],
        "status_sequence": 7,
    }
    return Source(**{**values, **fields})


def progress_for(stack: Stack) -> EmbeddingProgress:
    return EmbeddingProgress(stack.unit_of_work, stack, interval_seconds=2.0, clock=stack.clock)  # type: ignore[arg-type]


async def test_a_ready_source_reports_at_once_then_throttled_and_always_when_complete() -> None:
    stack = Stack(ready_source(), embedded=4)
    progress = progress_for(stack)

    await progress.report(MODEL, [KEY])
    first = stack.published[-1]
    assert (first.sequence, first.state, first.embedded_chunks, first.chunks) == (8, SourceState.READY, 4, 10)
    # It repeats what the last sync reported instead of resetting it.
    assert (first.discovered, first.fetched, first.indexed, first.failed) == (5, 5, 4, 1)
    assert [f.url for f in first.recent_failures] == ["https://shop.test/gone"]

    stack.now, stack.counts[KEY] = 0.5, 8
    await progress.report(MODEL, [KEY])
    assert len(stack.published) == 1  # held back by the throttle, but stored
    assert stack.record.embedded_chunks == 8
    stack.now = 1.5
    await progress.report(MODEL)
    assert len(stack.published) == 1
    stack.now = 2.1
    await progress.report(MODEL)  # nothing touched: the held-back count goes out once due
    assert [s.embedded_chunks for s in stack.published] == [4, 8]

    stack.now, stack.counts[KEY] = 2.2, 10
    await progress.report(MODEL, [KEY])  # the last chunk got its vector: reported at once
    assert [s.embedded_chunks for s in stack.published] == [4, 8, 10]
    assert [s.sequence for s in stack.published] == [8, 9, 10]
    stack.now = 10.0
    await progress.report(MODEL, [KEY])  # nothing changed: nothing to say
    assert len(stack.published) == 3


async def test_a_syncing_source_stores_the_count_and_its_sync_reports_it() -> None:
    stack = Stack(ready_source(state=SourceState.SYNCING, chunks=6, embedded_chunks=0), embedded=3)
    progress = progress_for(stack)
    await progress.report(MODEL, [KEY])
    assert stack.published == []
    assert stack.record.embedded_chunks == 3
    stack.now = 5.0
    await progress.report(MODEL)  # nothing held back for a syncing source
    assert stack.published == []

    async with stack.unit_of_work() as uow:
        sync_progress = SyncProgress(discovered=9, fetched=9, indexed=8)
        await stage_status(uow, stack.record, state=SourceState.SYNCING, cause=None, progress=sync_progress)  # type: ignore[arg-type]
        await uow.commit()
    status = stack.published[-1]
    assert (status.fetched, status.chunks, status.embedded_chunks) == (9, 6, 3)
    assert (stack.record.fetched, stack.record.recent_failures) == (9, [])  # stored for later reports

    stack.record.chunks = 2  # chunks removed since the count was stored
    async with stack.unit_of_work() as uow:
        status = await stage_status(uow, stack.record, state=SourceState.READY, cause=None)  # type: ignore[arg-type]
    assert (status.chunks, status.embedded_chunks) == (2, 2)


async def test_deleted_and_missing_sources_report_nothing() -> None:
    stack = Stack(ready_source(state=SourceState.DELETED), embedded=10)
    progress = progress_for(stack)
    await progress.report(MODEL, [KEY, ("acct", "unknown")])
    assert stack.published == []


async def test_a_restart_recounts_sources_whose_stored_count_is_behind() -> None:
    stack = Stack(ready_source(embedded_chunks=0), embedded=10)
    await progress_for(stack).report(MODEL)
    assert [(s.embedded_chunks, s.chunks) for s in stack.published] == [(10, 10)]


async def test_a_count_that_failed_is_taken_again_at_the_next_pass() -> None:
    stack = Stack(ready_source(), embedded=10)
    stack.count_failures = 1
    progress = progress_for(stack)
    with pytest.raises(ConnectionError):
        await progress.report(MODEL, [KEY])
    assert stack.published == []
    await progress.report(MODEL)
    assert [s.embedded_chunks for s in stack.published] == [10]
