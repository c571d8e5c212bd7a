"""Turning a parsed document into chunks in the index, and keeping the index in step with it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from ingestion_service.adapters.bulk_batches import ChunkTooLargeError
from ingestion_service.adapters.content_store import ChunkDocument
from ingestion_service.adapters.language import detect_language, primary_subtag
from ingestion_service.adapters.metrics import CHUNKS_INDEXED, DOCUMENTS_INDEXED, INDEXING_LATENCY
from ingestion_service.domain.chunking import bounded_label, chunk_id, chunk_sections, content_hash, label_limit
from ingestion_service.domain.documents import ParsedDocument
from ingestion_service.domain.model import Source
from ingestion_service.handlers.types import ChunkIndex


@dataclass(frozen=True)
class PreparedDocument:
    """A document's chunks, ready for a bulk write."""

    document_id: str
    url: str
    title: str
    language: str
    content_hash: str
    chunks: list[ChunkDocument]
    received_at: float  # monotonic, for the indexing-latency metric
    previous_chunks: int = 0  # chunks the older version had (positions past the new end are deleted)


class DocumentIndexer:
    """Chunks documents and writes them in bulk through the content store."""

    def __init__(self, store: ChunkIndex, *, chunk_chars: int, overlap_chars: int) -> None:
        self.store = store
        self._chunk_chars = chunk_chars
        self._overlap_chars = overlap_chars

    def prepare(
        self,
        source: Source,
        document: ParsedDocument,
        *,
        document_id: str,
        url: str,
        updated_at: datetime,
        language_hint: str = "",
        language: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        received_at: float | None = None,
        previous_chunks: int = 0,
        digest: str | None = None,
    ) -> PreparedDocument:
        """Chunk a document and attach the source's metadata to every chunk (``language`` and ``digest``
        when the caller already knows them, e.g. from the crawler's parser)."""
        if language:
            language = primary_subtag(language)  # declared (knowledge-base articles) or detected by the crawler
        else:
            language = detect_language(document.text, fallback=language_hint or document.language or "en")
        digest = digest or content_hash(document.text)
        # Every chunk carries the title: bounded, and counted in the chunk's size (see ``MAX_LABEL_CHARS``).
        title = bounded_label(document.title, label_limit(self._chunk_chars))
        pieces = chunk_sections(
            document.sections,
            max_chars=self._chunk_chars,
            overlap_chars=self._overlap_chars,
            title_chars=len(title),
        )
        chunks = [
            ChunkDocument(
                chunk_id=chunk_id(source.account_id, source.source_id, document_id, piece.position),
                account_id=source.account_id,
                source_id=source.source_id,
                source_kind=source.kind,
                document_id=document_id,
                url=url,
                title=title,
                section=piece.section,
                body=piece.body,
                language=language,
                private=source.private,
                citations_allowed=source.citations_enabled and not source.private,
                position=piece.position,
                content_hash=digest,
                updated_at=updated_at,
                question=question,
                answer=answer,
            )
            for piece in pieces
        ]
        return PreparedDocument(
            document_id,
            url,
            title,
            language,
            digest,
            chunks,
            received_at or time.monotonic(),
            previous_chunks,
        )

    async def write_fitting(self, source: Source, documents: list[PreparedDocument]) -> list[ChunkTooLargeError]:
        """Write the documents but those with a chunk too large for any bulk request, and say why each of those
        was left out: a website's one odd page must not cost the rest of the site (a file or an article is one
        document, and ``write`` fails it). A document left out loses the chunks it had in the index too."""
        refused = await self.store.write_fitting(_chunks_of(documents))
        left_out = {error.document_id for error in refused}
        if left_out:
            # Some of its new chunks may be written (a 413 met after other requests), its old ones overwritten in
            # part: no half of a page answers for it.
            await self.store.delete_documents(source.account_id, source.source_id, sorted(left_out))
        await self._after_writing(source, [document for document in documents if document.document_id not in left_out])
        return refused

    async def write(self, source: Source, documents: list[PreparedDocument], *, refresh: bool = False) -> None:
        """Bulk-write the documents' chunks, then drop chunks left over from longer old versions."""
        await self.store.write(_chunks_of(documents), refresh=refresh)
        await self._after_writing(source, documents)

    async def _after_writing(self, source: Source, documents: list[PreparedDocument]) -> None:
        """Drop chunks left over from the written documents' longer old versions, and count the documents."""
        for document in documents:
            if document.previous_chunks <= len(document.chunks):
                continue  # same ids were overwritten: nothing left over
            await self.store.delete_stale_chunks(
                source.account_id,
                source.source_id,
                document_id=document.document_id,
                keep_chunk_ids=[c.chunk_id for c in document.chunks],
            )
        now = time.monotonic()
        for document in documents:
            INDEXING_LATENCY.labels(source_kind=source.kind).observe(now - document.received_at)
        DOCUMENTS_INDEXED.labels(source_kind=source.kind).inc(len(documents))
        CHUNKS_INDEXED.inc(sum(len(document.chunks) for document in documents))


def _chunks_of(documents: list[PreparedDocument]) -> list[ChunkDocument]:
    """The documents' chunks, in order: one bulk write."""
    return [chunk for document in documents for chunk in document.chunks]
