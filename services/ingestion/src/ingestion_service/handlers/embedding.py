"""Background use case: give every chunk a vector of the current embedding model, oldest write first.

Chunks are searchable by their words the moment they are written; their vectors follow. A chunk
rewritten while its vector was computed is simply picked up again, and a model change re-embeds
every chunk in place while readers keep using the old model's vectors only where their model matches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from customer_agent_shared.embeddings import Embedder

from ingestion_service.adapters.embedding_store import ChunkToEmbed, EmbeddingStore
from ingestion_service.adapters.metrics import (
    CHUNKS_EMBEDDED,
    EMBEDDING_BATCH_SECONDS,
    EMBEDDING_FAILURES,
    EMBEDDING_PENDING,
)
from ingestion_service.domain.embedding_text import embedding_text
from ingestion_service.handlers.embedding_progress import EmbeddingProgress

logger = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 60.0
MAX_REFUSED_REMEMBERED = 10_000
PENDING_REPORT_SECONDS = 10.0


class EmbeddingBackfill:
    """Embeds chunks in batches until none is left, then looks again every ``idle_seconds``."""

    def __init__(
        self,
        store: EmbeddingStore,
        embedder: Embedder,
        *,
        batch_size: int,
        max_chars: int,
        idle_seconds: float,
        progress: EmbeddingProgress | None = None,
    ) -> None:
        self._store = store
        self._progress = progress
        self._embedder = embedder
        self._batch_size = batch_size
        self._max_chars = max_chars
        self._idle_seconds = idle_seconds
        self._refused: set[str] = set()
        self._task: asyncio.Task[None] | None = None
        self._pending_reported_at = 0.0

    async def start(self) -> None:
        """Run in the background until ``stop``."""
        self._task = asyncio.create_task(self._run(), name="embedding-backfill")

    async def stop(self) -> None:
        """Stop after the batch in flight is abandoned (its chunks are embedded again later)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self) -> int:
        """Embed one batch and report the sources' progress; return the batch's size (0: nothing waits)."""
        model_id = self._embedder.model_id
        chunks = await self._store.chunks_to_embed(model_id, limit=self._batch_size, skip=sorted(self._refused))
        if chunks:
            await self._embed(chunks, model_id)
        if self._progress is not None:
            await self._progress.report(model_id, {(chunk.account_id, chunk.source_id) for chunk in chunks})
        return len(chunks)

    async def _embed(self, chunks: list[ChunkToEmbed], model_id: str) -> None:
        started = time.perf_counter()
        texts = [embedding_text(chunk.text_fields, max_chars=self._max_chars) for chunk in chunks]
        vectors = await self._embedder.embed_passages(texts)
        EMBEDDING_BATCH_SECONDS.observe(time.perf_counter() - started)
        written, refused = await self._store.add_vectors(chunks, vectors, model_id=model_id)
        CHUNKS_EMBEDDED.inc(written)
        if refused:
            logger.warning("chunks refused their vector; skipped until restart", extra={"chunk_ids": refused[:5]})
            EMBEDDING_FAILURES.labels(reason="refused").inc(len(refused))
            if len(self._refused) < MAX_REFUSED_REMEMBERED:
                self._refused.update(refused)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                done = await self.run_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failures += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2**failures) * random.uniform(0.5, 1.0)
                logger.warning(
                    "embedding pass failed; retrying", extra={"error": repr(error)[:300], "retry_in_s": round(delay, 1)}
                )
                EMBEDDING_FAILURES.labels(reason="unavailable").inc()
                await asyncio.sleep(delay)
                continue
            if done == 0 or time.monotonic() - self._pending_reported_at > PENDING_REPORT_SECONDS:
                await self._report_pending()
            if done == 0:
                # New chunks become visible to the search at the index's next refresh: poll.
                await asyncio.sleep(self._idle_seconds)

    async def _report_pending(self) -> None:
        self._pending_reported_at = time.monotonic()
        with contextlib.suppress(Exception):
            EMBEDDING_PENDING.set(await self._store.pending(self._embedder.model_id))
