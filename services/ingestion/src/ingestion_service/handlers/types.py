"""What the use cases need from storage and the index: small protocols the real adapters and a test's fakes meet."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from customer_agent_shared.events.sources import SourceKind
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWorkProtocol
from customer_agent_shared.uploads.store import UploadReader

from ingestion_service.adapters.bulk_batches import ChunkTooLargeError
from ingestion_service.adapters.content_store import ChunkDocument
from ingestion_service.adapters.parse_attempts import ParseAttempt
from ingestion_service.domain.documents import ParsedDocument
from ingestion_service.domain.model import IndexedDocument, Source


class SourceStore(Protocol):
    """Sources of all accounts."""

    async def get(self, account_id: str, source_id: str, *, for_update: bool = False) -> Source | None:
        """One source, optionally locked for this transaction."""
        ...

    async def save(self, source: Source) -> None:
        """Insert or replace a source."""
        ...

    async def knowledge_base_source(self, account_id: str) -> Source | None:
        """The account's registered knowledge-base source, if any."""
        ...

    async def removed_knowledge_base(self, account_id: str) -> Source | None:
        """The knowledge-base source the admin removed last, if no knowledge base is live."""
        ...

    async def pending_syncs(self, kind: SourceKind = SourceKind.URL) -> list[tuple[str, str]]:
        """Sources of ``kind`` whose sync was requested but not finished."""
        ...

    async def due_for_resync(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """Website sources whose last sync is older than their re-sync interval."""
        ...

    async def short_of_vectors(self) -> list[tuple[str, str]]:
        """Live sources whose stored count of chunks with a vector is below their chunks."""
        ...

    async def record_status(self, account_id: str, source_id: str, **values: Any) -> tuple[int, int]:
        """Update the reported columns; the new status sequence and the stored count of chunks with a vector."""
        ...

    async def set_fields(self, account_id: str, source_id: str, **values: Any) -> None:
        """Update some columns of one source."""
        ...


class DocumentStore(Protocol):
    """Documents (and crawl state) of all sources."""

    async def for_source(self, account_id: str, source_id: str) -> dict[str, IndexedDocument]:
        """Every document of a source by document id."""
        ...

    async def get(self, account_id: str, source_id: str, document_id: str) -> IndexedDocument | None:
        """One document."""
        ...

    async def save_many(self, records: Sequence[IndexedDocument]) -> None:
        """Insert or replace documents."""
        ...

    async def delete(self, account_id: str, source_id: str, document_ids: Iterable[str] | None = None) -> None:
        """Delete some documents of a source (all of them when ``document_ids`` is None)."""
        ...

    async def totals(self, account_id: str, source_id: str) -> tuple[int, int]:
        """(documents with chunks, chunks) of a source."""
        ...


class ParseAttemptStore(Protocol):
    """Parser processes started per file command."""

    async def begin(self, event_id: str, *, account_id: str, source_id: str) -> ParseAttempt:
        """Count one more attempt of ``event_id`` and return it."""
        ...

    async def record_failure(self, event_id: str, *, reason: str) -> None:
        """Remember why the last attempt was stopped."""
        ...

    async def forget(self, event_id: str) -> None:
        """Drop the count once the command is done."""
        ...


class ChunkIndex(Protocol):
    """The search index's chunks, as the use cases change them."""

    async def write(self, chunks: Sequence[ChunkDocument], *, refresh: bool = False) -> None:
        """Bulk-index chunks."""
        ...

    async def write_fitting(self, chunks: Sequence[ChunkDocument]) -> list[ChunkTooLargeError]:
        """Bulk-index chunks but those of documents with a chunk too large to write, one error each."""
        ...

    async def delete_source(self, account_id: str, source_id: str) -> int:
        """Remove every chunk of a source."""
        ...

    async def delete_documents(self, account_id: str, source_id: str, document_ids: Iterable[str]) -> int:
        """Remove every chunk of some documents of a source."""
        ...

    async def delete_stale_chunks(
        self, account_id: str, source_id: str, *, document_id: str, keep_chunk_ids: Iterable[str]
    ) -> int:
        """Remove a document's chunks other than ``keep_chunk_ids``."""
        ...

    async def update_source_flags(self, account_id: str, source_id: str, *, private: bool, citations: bool) -> None:
        """Switch a source's private / citations-allowed flags on all its chunks."""
        ...

    async def refresh(self) -> None:
        """Make recent writes searchable now."""
        ...


class HtmlParser(Protocol):
    """Parses HTML that is not a crawled page (a knowledge-base article's body), bounded in time and memory."""

    async def extract_html(self, markup: bytes) -> ParsedDocument:
        """The document of UTF-8 HTML; ``DocumentRefused`` saying why when it cannot be parsed within bounds."""
        ...


class SyncQueue(Protocol):
    """Where website syncs are requested and cancelled (they run in the background)."""

    def request(self, account_id: str, source_id: str) -> None:
        """Start a sync of the source (or run it once more after the current one)."""
        ...

    async def cancel(self, account_id: str, source_id: str) -> None:
        """Stop the source's sync, if any, and wait until it has stopped."""
        ...


class IngestionUnitOfWorkProtocol(UnitOfWorkProtocol, Protocol):
    """One transaction over ingestion's repositories."""

    @property
    def sources(self) -> SourceStore:
        """Sources."""
        ...

    @property
    def documents(self) -> DocumentStore:
        """Documents."""
        ...

    @property
    def parse_attempts(self) -> ParseAttemptStore:
        """Parse attempts of file commands."""
        ...

    @property
    def uploads(self) -> UploadReader:
        """Uploaded files (the upload store, which admin-api writes)."""
        ...


UnitOfWorkFactory = Callable[[], IngestionUnitOfWorkProtocol]
"""Opens a new unit of work over ingestion's schema."""
