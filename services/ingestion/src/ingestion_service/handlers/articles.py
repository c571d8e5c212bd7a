"""Use case: knowledge-base articles from ``content.events.v1`` are indexed (or removed) at once.

Articles belong to the account's registered ``knowledge_base`` source; without
one they go to an implicit source ``knowledge-base``, unless the admin removed the
knowledge base: then articles are refused (each reported on the removed source, which
admin-api notes in the audit log) until the admin adds a ``knowledge_base`` source again. Events older than what
is indexed (by ``updated_at``) are ignored, so out-of-order delivery cannot
resurrect a deleted or older article.

An article's body is parsed in the page workers (``PageWorkers.extract_html``), bounded in time and memory
like a crawled page, never in the event loop: HTML nested deep enough takes minutes to parse. A body larger
than ``max_body_bytes``, or one the workers give up on (time, memory), fails alone: the refusal is reported on
the knowledge base's status (any earlier version of the article stays indexed) and the event is dead-lettered,
not claimed. Workers busy with crawls are waited for (transient); a worker that fails to start or dies is
retried as an unknown error (then dead-lettered), since that may be the host's doing, not the article's.
Dead-lettering loses nothing: the knowledge base does not send an article again until it changes, while a
dead letter can be replayed once the limits are raised or the parser fixed (``customer-agent dlq``).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

from customer_agent_shared.events.content import ARTICLE_DELETED, ARTICLE_EVENT_TYPES, ArticleChanged
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.sources import SourceState
from customer_agent_shared.messaging.reliable import PermanentHandlerError

from ingestion_service.adapters.metrics import ARTICLES_REFUSED, PARSE_FAILURES
from ingestion_service.domain.chunking import document_id_for
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument
from ingestion_service.domain.model import IndexedDocument, Source
from ingestion_service.domain.progress import SyncProgress
from ingestion_service.handlers.indexing import DocumentIndexer
from ingestion_service.handlers.status import stage_status
from ingestion_service.handlers.types import HtmlParser, IngestionUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1_048_576  # the topic's max.message.bytes; a compressed batch can carry more


class ArticleNotIndexedError(PermanentHandlerError):
    """An article whose body cannot be indexed (too large, or refused by the bounded parser)."""


class ArticleIndexing:
    """Indexes, re-indexes and removes knowledge-base articles."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        indexer: DocumentIndexer,
        consumer: str,
        *,
        parser: HtmlParser,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._indexer = indexer
        self._consumer = consumer
        self._parser = parser
        self._max_body_bytes = max_body_bytes

    async def handle(self, event: CloudEvent[ArticleChanged]) -> None:
        """Apply one article event."""
        if event.type not in ARTICLE_EVENT_TYPES:
            raise PermanentHandlerError(f"unknown article event type {event.type!r}")
        article = event.data
        received = time.monotonic()
        document = None
        if event.type != ARTICLE_DELETED:
            try:
                document = await self._parsed(article)
            except DocumentRefused as refused:
                reason = await self._report_not_indexed(event, refused)
                raise ArticleNotIndexedError(reason) from refused
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return
            source = await self._knowledge_base(uow, event)
            if source is None:  # refused
                await uow.commit()
                return
            document_id = document_id_for(f"article:{article.article_id}")
            old = await uow.documents.get(source.account_id, source.source_id, document_id)
            if old is not None and old.updated_at is not None and article.updated_at < old.updated_at:
                await uow.commit()  # an older version arrived late: nothing to do
                return
            progress = SyncProgress(discovered=1, fetched=1)
            record = IndexedDocument(
                account_id=source.account_id,
                source_id=source.source_id,
                document_id=document_id,
                url=article.url or f"article:{article.article_id}",
                title=article.title[:1000],
                chunk_count=0,
                updated_at=article.updated_at,
                fetched_at=datetime.now(UTC),
                extra={"article_id": article.article_id, "deleted": event.type == ARTICLE_DELETED},
            )
            if document is None:
                await self._indexer.store.delete_documents(source.account_id, source.source_id, [document_id])
            else:
                document.title = article.title or document.title
                prepared = self._indexer.prepare(
                    source,
                    document,
                    document_id=document_id,
                    url=article.url,
                    updated_at=article.updated_at,
                    language=article.language,
                    received_at=received,
                    previous_chunks=old.chunk_count if old else 0,
                )
                await self._indexer.write(source, [prepared], refresh=True)
                record.chunk_count = len(prepared.chunks)
                record.content_hash = prepared.content_hash
                progress.indexed = 1 if prepared.chunks else 0
            await uow.documents.save_many([record])
            await stage_status(
                uow,
                source,
                state=SourceState.READY,
                cause=event.id,
                progress=progress,
                last_synced_at=datetime.now(UTC),
            )
            await uow.commit()

    async def _parsed(self, article: ArticleChanged) -> ParsedDocument:
        """The article's body parsed in a bounded worker; ``DocumentRefused`` when it is too large or the
        worker gives up on it."""
        body = article.body_html.encode("utf-8", errors="replace")
        if len(body) > self._max_body_bytes:
            raise DocumentRefused(
                f"its body is {len(body):,} bytes, more than the {self._max_body_bytes:,} an article may have",
                failure_type="too_large",
            )
        return await self._parser.extract_html(body)

    async def _report_not_indexed(self, event: CloudEvent[ArticleChanged], refused: DocumentRefused) -> str:
        """Report on the knowledge base's status why the article was not indexed (the event is not claimed:
        it is dead-lettered, to be replayed); return the reason."""
        article = event.data
        PARSE_FAILURES.labels(failure_type=f"article_{refused.failure_type}").inc()
        reason = (
            f"article {article.article_id!r} was not indexed: {refused.reason}; "
            "an earlier version of it, if any, stays searchable"
        )[:1000]
        logger.warning("article not indexed", extra={"article_id": article.article_id, "reason": reason})
        async with self._unit_of_work() as uow:
            source = await self._knowledge_base(uow, event)
            if source is not None:  # else the knowledge base was removed: that refusal is reported instead
                progress = SyncProgress(discovered=1)
                progress.record_failure(article.url or f"article:{article.article_id}", error=reason)
                await stage_status(
                    uow, source, state=SourceState.READY, cause=event.id, progress=progress, error=reason
                )
            await uow.commit()
        return reason

    async def _knowledge_base(
        self, uow: IngestionUnitOfWorkProtocol, event: CloudEvent[ArticleChanged]
    ) -> Source | None:
        """The source the article belongs to, the implicit one created if need be; None, the refusal reported,
        when the admin removed the knowledge base (it stays removed until they add one again)."""
        account_id = event.data.account_id
        source = await uow.sources.knowledge_base_source(account_id)
        if source is not None:
            return source
        removed = await uow.sources.removed_knowledge_base(account_id)
        if removed is not None:
            await self._refuse(uow, removed, event)
            return None
        source = Source.implicit_knowledge_base(account_id)
        await uow.sources.save(source)
        return source

    async def _refuse(
        self, uow: IngestionUnitOfWorkProtocol, removed: Source, event: CloudEvent[ArticleChanged]
    ) -> None:
        """Report on the removed source that an article was refused (admin-api notes it in the audit log)."""
        article = event.data
        ARTICLES_REFUSED.inc()
        logger.info("article refused: knowledge base removed", extra={"article_id": article.article_id})
        reason = (
            f"article {article.article_id!r} ({event.type}) was refused: the knowledge base was removed; "
            "add a knowledge_base source to take articles again"
        )
        await stage_status(uow, removed, state=SourceState.DELETED, cause=event.id, error=reason[:1000])
