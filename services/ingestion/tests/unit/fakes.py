"""Ingestion's repositories, index and sync queue in memory, for handler tests on a fake unit of work."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.sources import SourceKind, SourceState
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork
from customer_agent_shared.uploads.store import UploadMissingError, verified
from ingestion_service.adapters.bulk_batches import ChunkTooLargeError
from ingestion_service.adapters.content_store import ChunkDocument
from ingestion_service.adapters.parse_attempts import ParseAttempt
from ingestion_service.domain.model import IndexedDocument, Source

SourceKey = tuple[str, str]


@dataclass
class Tables:
    """Ingestion's state: what a unit of work changes and, at its commit, the fake database keeps."""

    sources: dict[SourceKey, Source] = field(default_factory=dict)
    documents: dict[SourceKey, dict[str, IndexedDocument]] = field(default_factory=dict)
    parse_attempts: dict[str, ParseAttempt] = field(default_factory=dict)
    uploads: dict[tuple[str, str], bytes] = field(default_factory=dict)
    """What admin-api stored in the upload store, by (account, key)."""


FakeDatabase = InMemoryDatabase[Tables]


def _stored(name: str, value: Any) -> Any:
    """A column value as the repository reads it back."""
    return SourceState(value) if name == "state" else value


class FakeSources:
    """Sources by (account, source)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def get(self, account_id: str, source_id: str, *, for_update: bool = False) -> Source | None:
        """A copy of the source."""
        stored = self._tables.sources.get((account_id, source_id))
        return replace(stored) if stored is not None else None

    async def save(self, source: Source) -> None:
        """Insert or replace."""
        self._tables.sources[(source.account_id, source.source_id)] = replace(source)

    async def knowledge_base_source(self, account_id: str) -> Source | None:
        """The live knowledge base of the lowest id."""
        live = [
            source
            for (account, _), source in sorted(self._tables.sources.items())
            if account == account_id and source.kind == SourceKind.KNOWLEDGE_BASE and not source.is_deleted
        ]
        return replace(live[0]) if live else None

    async def removed_knowledge_base(self, account_id: str) -> Source | None:
        """The knowledge base removed last, when every one was removed."""
        bases = [
            source
            for (account, _), source in self._tables.sources.items()
            if account == account_id and source.kind == SourceKind.KNOWLEDGE_BASE
        ]
        if not bases or any(not source.is_deleted for source in bases):
            return None
        return replace(max(bases, key=lambda source: source.sync_requested_at or datetime.min.replace(tzinfo=UTC)))

    async def pending_syncs(self, kind: SourceKind = SourceKind.URL) -> list[tuple[str, str]]:
        """Uploaded files waiting for their parse on a pending source (websites: not needed by these tests)."""
        if kind is not SourceKind.FILE:
            raise NotImplementedError
        return [
            key
            for key, source in self._tables.sources.items()
            if source.state in (SourceState.PENDING, SourceState.SYNCING) and source.pending_file is not None
        ]

    async def due_for_resync(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """No website is due in these tests."""
        return []

    async def short_of_vectors(self) -> list[tuple[str, str]]:
        """Not needed by these tests."""
        raise NotImplementedError

    async def record_status(self, account_id: str, source_id: str, **values: Any) -> tuple[int, int]:
        """Set the columns and count the report."""
        source = self._tables.sources[(account_id, source_id)]
        await self.set_fields(account_id, source_id, **values, status_sequence=source.status_sequence + 1)
        return source.status_sequence, source.embedded_chunks

    async def set_fields(self, account_id: str, source_id: str, **values: Any) -> None:
        """Set some columns."""
        source = self._tables.sources[(account_id, source_id)]
        for name, value in values.items():
            setattr(source, name, _stored(name, value))


class FakeDocuments:
    """Documents by source and id."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def for_source(self, account_id: str, source_id: str) -> dict[str, IndexedDocument]:
        """Copies of the source's documents."""
        stored = self._tables.documents.get((account_id, source_id), {})
        return {document_id: replace(document) for document_id, document in stored.items()}

    async def get(self, account_id: str, source_id: str, document_id: str) -> IndexedDocument | None:
        """A copy of one document."""
        stored = self._tables.documents.get((account_id, source_id), {}).get(document_id)
        return replace(stored) if stored is not None else None

    async def save_many(self, records: Sequence[IndexedDocument]) -> None:
        """Insert or replace."""
        for record in records:
            self._tables.documents.setdefault((record.account_id, record.source_id), {})[record.document_id] = replace(
                record
            )

    async def delete(self, account_id: str, source_id: str, document_ids: Iterable[str] | None = None) -> None:
        """Some documents of the source, or all."""
        stored = self._tables.documents.get((account_id, source_id), {})
        for document_id in list(stored) if document_ids is None else list(document_ids):
            stored.pop(document_id, None)

    async def totals(self, account_id: str, source_id: str) -> tuple[int, int]:
        """(documents with chunks, chunks)."""
        counts = [document.chunk_count for document in self._tables.documents.get((account_id, source_id), {}).values()]
        return sum(1 for count in counts if count > 0), sum(counts)


class FakeParseAttempts:
    """Parser starts per command event."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def begin(self, event_id: str, *, account_id: str, source_id: str) -> ParseAttempt:
        """One more attempt."""
        before = self._tables.parse_attempts.get(event_id, ParseAttempt(0, None))
        self._tables.parse_attempts[event_id] = ParseAttempt(before.number + 1, before.previous_failure)
        return self._tables.parse_attempts[event_id]

    async def record_failure(self, event_id: str, *, reason: str) -> None:
        """Remember why the attempt stopped."""
        self._tables.parse_attempts[event_id] = replace(self._tables.parse_attempts[event_id], previous_failure=reason)

    async def forget(self, event_id: str) -> None:
        """Drop the count."""
        self._tables.parse_attempts.pop(event_id, None)


class FakeUploads:
    """The upload store as ingestion reads it; ``failure``, when set, is what every read raises."""

    def __init__(self, tables: Tables, failure: Exception | None = None) -> None:
        self._tables = tables
        self._failure = failure

    async def get(self, account_id: str, key: str) -> bytes:
        """The account's blob, checked against its key."""
        if self._failure is not None:
            raise self._failure
        content = self._tables.uploads.get((account_id, key))
        if content is None:
            raise UploadMissingError(f"no upload {key[:12]}… for {account_id!r}")
        return verified(content, key)


class FakeUnitOfWork(InMemoryUnitOfWork[Tables]):
    """Ingestion's repositories over the copy of the committed tables."""

    sources: FakeSources
    documents: FakeDocuments
    parse_attempts: FakeParseAttempts
    uploads: FakeUploads

    def __init__(self, database: FakeDatabase, *, upload_failure: Exception | None = None) -> None:
        super().__init__(database)
        self._upload_failure = upload_failure

    def bind(self, tables: Tables) -> None:
        """Attach the fake repositories to ``tables``."""
        self.sources = FakeSources(tables)
        self.documents = FakeDocuments(tables)
        self.parse_attempts = FakeParseAttempts(tables)
        self.uploads = FakeUploads(tables, self._upload_failure)


class FakeIndex:
    """The search index's chunks by id (not transactional, like OpenSearch)."""

    def __init__(self) -> None:
        self.chunks: dict[str, ChunkDocument] = {}

    def of_source(self, source_id: str) -> list[ChunkDocument]:
        """The chunks of one source, in position order."""
        chunks = [chunk for chunk in self.chunks.values() if chunk.source_id == source_id]
        return sorted(chunks, key=lambda chunk: (chunk.document_id, chunk.position))

    async def write(self, chunks: Sequence[ChunkDocument], *, refresh: bool = False) -> None:
        """Index or replace chunks."""
        self.chunks.update({chunk.chunk_id: chunk for chunk in chunks})

    async def write_fitting(self, chunks: Sequence[ChunkDocument]) -> list[ChunkTooLargeError]:
        """Index or replace chunks: none is too large here."""
        await self.write(chunks)
        return []

    async def delete_source(self, account_id: str, source_id: str) -> int:
        """Drop a source's chunks."""
        return self._drop(lambda chunk: (chunk.account_id, chunk.source_id) == (account_id, source_id))

    async def delete_documents(self, account_id: str, source_id: str, document_ids: Iterable[str]) -> int:
        """Drop some documents' chunks."""
        ids = set(document_ids)
        return self._drop(
            lambda chunk: (chunk.account_id, chunk.source_id) == (account_id, source_id) and chunk.document_id in ids
        )

    async def delete_stale_chunks(
        self, account_id: str, source_id: str, *, document_id: str, keep_chunk_ids: Iterable[str]
    ) -> int:
        """Drop a document's chunks other than those kept."""
        keep = set(keep_chunk_ids)
        return self._drop(
            lambda chunk: (
                (chunk.account_id, chunk.source_id, chunk.document_id) == (account_id, source_id, document_id)
                and chunk.chunk_id not in keep
            )
        )

    async def update_source_flags(self, account_id: str, source_id: str, *, private: bool, citations: bool) -> None:
        """Switch the flags on the source's chunks."""
        for chunk_id, chunk in list(self.chunks.items()):
            if (chunk.account_id, chunk.source_id) == (account_id, source_id):
                self.chunks[chunk_id] = replace(chunk, private=private, citations_allowed=citations and not private)

    async def refresh(self) -> None:
        """Everything is searchable at once."""

    def _drop(self, matches: Callable[[ChunkDocument], bool]) -> int:
        doomed = [chunk_id for chunk_id, chunk in self.chunks.items() if matches(chunk)]
        for chunk_id in doomed:
            del self.chunks[chunk_id]
        return len(doomed)


@dataclass
class FakeSyncQueue:
    """Records the website syncs requested and cancelled."""

    requested: list[SourceKey] = field(default_factory=list)
    cancelled: list[SourceKey] = field(default_factory=list)

    def request(self, account_id: str, source_id: str) -> None:
        """Noted."""
        self.requested.append((account_id, source_id))

    async def cancel(self, account_id: str, source_id: str) -> None:
        """Noted."""
        self.cancelled.append((account_id, source_id))
