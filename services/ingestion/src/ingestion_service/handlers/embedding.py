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
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import tenacity
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
Lease = Callable[[], AbstractAsyncContextManager[bool]]
MAX_BACKOFF_SECONDS = 60.0
MAX_REFUSED_REMEMBERED = 10_000
PENDING_REPORT_SECONDS = 10.0


class EmbeddingBackfill:
    """Embeds chunks in batches until none is left, then looks again every ``idle_seconds``.

    Replicas share one queue (the index), so only the holder of ``lease`` embeds; another replica takes
    over when the holder stops (its lease expires).
    """

    def __init__(
        self,
        store: EmbeddingStore,
        embedder: Embedder,
        *,
        batch_size: int,
        max_chars: int,
        idle_seconds: float,
        progress: EmbeddingProgress | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._store = store
        self._lease = lease
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
        self._task = asyncio.create_task(self._run_under_lease(), name="embedding-backfill")

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
        try:
            if chunks:
                await self._embed(chunks, model_id)
        finally:  # vectors a failed pass did write still count
            if self._progress is not None:
                await self._progress.report(model_id, {(chunk.account_id, chunk.source_id) for chunk in chunks})
        return len(chunks)

    async def _embed(self, chunks: list[ChunkToEmbed], model_id: str) -> None:
        started = time.perf_counter()
        texts = [embedding_text(chunk.text_fields, max_chars=self._max_chars) for chunk in chunks]
        try:
            vectors = await self._embedder.embed_passages(texts)
        except Exception:
            if len(chunks) == 1:
                raise
            await self._embed_one_by_one(chunks, texts, model_id)
            return
        EMBEDDING_BATCH_SECONDS.observe(time.perf_counter() - started)
        written, refused = await self._store.add_vectors(chunks, vectors, model_id=model_id)
        CHUNKS_EMBEDDED.inc(written)
        self._refuse(refused)

    async def _embed_one_by_one(self, chunks: list[ChunkToEmbed], texts: list[str], model_id: str) -> None:
        """After a failed batch: a chunk the model refuses alone is skipped, the others get their vectors;
        if every chunk fails, the model is down (nothing is skipped, the pass is retried later)."""
        done: list[tuple[ChunkToEmbed, list[float]]] = []
        failed: list[str] = []
        last_error: Exception | None = None
        for chunk, text in zip(chunks, texts, strict=True):
            try:
                [vector] = await self._embedder.embed_passages([text])
            except Exception as error:
                failed.append(chunk.chunk_id)
                last_error = error
                continue
            done.append((chunk, vector))
        if not done and last_error is not None:
            raise last_error
        written, refused = await self._store.add_vectors(
            [chunk for chunk, _ in done], [vector for _, vector in done], model_id=model_id
        )
        CHUNKS_EMBEDDED.inc(written)
        self._refuse([*failed, *refused])

    def _refuse(self, chunk_ids: list[str]) -> None:
        if not chunk_ids:
            return
        logger.warning("chunks without a vector; skipped until restart", extra={"chunk_ids": chunk_ids[:5]})
        EMBEDDING_FAILURES.labels(reason="refused").inc(len(chunk_ids))
        if len(self._refused) < MAX_REFUSED_REMEMBERED:
            self._refused.update(chunk_ids)

    async def _run_under_lease(self) -> None:
        if self._lease is None:
            await self._run()
            return
        while True:
            async with self._lease() as held:
                if held:
                    await self._run()
            await asyncio.sleep(self._idle_seconds)

    async def _run(self) -> None:
        while True:
            done = await self.run_until_it_works()
            if done == 0 or time.monotonic() - self._pending_reported_at > PENDING_REPORT_SECONDS:
                await self._report_pending()
            if done == 0:
                # New chunks become visible to the search at the index's next refresh: poll.
                await asyncio.sleep(self._idle_seconds)

    async def run_until_it_works(self) -> int:
        """``run_once``, retried after any failure (the model or the index down) until a pass works."""
        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_exception_type(Exception), wait=_backoff, before_sleep=_count_failed_pass
        )
        return await retrying(self.run_once)

    async def _report_pending(self) -> None:
        self._pending_reported_at = time.monotonic()
        with contextlib.suppress(Exception):
            EMBEDDING_PENDING.set(await self._store.pending(self._embedder.model_id))


def _backoff(state: tenacity.RetryCallState) -> float:
    """1 s doubled per failed pass in a row, at most ``MAX_BACKOFF_SECONDS``; a random half to all of it is waited."""
    return float(min(MAX_BACKOFF_SECONDS, 0.5 * 2**state.attempt_number) * random.uniform(0.5, 1.0))


def _count_failed_pass(state: tenacity.RetryCallState) -> None:
    error = state.outcome.exception() if state.outcome is not None else None
    logger.warning(
        "embedding pass failed; retrying",
        extra={"error": repr(error)[:300], "retry_in_s": round(state.upcoming_sleep, 1)},
    )
    EMBEDDING_FAILURES.labels(reason="unavailable").inc()
