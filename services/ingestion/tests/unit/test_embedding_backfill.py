"""The backfill's failures: a chunk the model refuses alone is skipped, a model that is down skips nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from ingestion_service.adapters.embedding_store import ChunkToEmbed, EmbeddingStore
from ingestion_service.adapters.metrics import EMBEDDING_FAILURES
from ingestion_service.handlers.embedding import EmbeddingBackfill

MODEL = "model-a"


def _chunk(chunk_id: str) -> ChunkToEmbed:
    return ChunkToEmbed(chunk_id, "acct", "docs", "idx", 1, 1, {"body": f"text of {chunk_id}"})


class FakeStore:
    """The chunks without a vector, and the vectors written."""

    def __init__(self, chunk_ids: Sequence[str]) -> None:
        self.waiting = [_chunk(chunk_id) for chunk_id in chunk_ids]
        self.written: list[str] = []

    async def chunks_to_embed(self, model_id: str, *, limit: int, skip: Sequence[str] = ()) -> list[ChunkToEmbed]:
        return [chunk for chunk in self.waiting if chunk.chunk_id not in skip][:limit]

    async def add_vectors(
        self, chunks: Sequence[ChunkToEmbed], vectors: Sequence[list[float]], *, model_id: str
    ) -> tuple[int, list[str]]:
        self.written += [chunk.chunk_id for chunk in chunks]
        self.waiting = [chunk for chunk in self.waiting if chunk.chunk_id not in self.written]
        return len(chunks), []


class FakeEmbedder:
    """Refuses texts naming a poisoned chunk, or everything while down."""

    model_id = MODEL
    dimension = 2

    def __init__(self, *, poisoned: Sequence[str] = (), down: bool = False) -> None:
        self.poisoned = set(poisoned)
        self.down = down

    async def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return await self.embed_passages(texts)

    async def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        if self.down or any(text.removeprefix("text of ") in self.poisoned for text in texts):
            raise RuntimeError("model refused")
        return [[1.0, 0.0] for _ in texts]


def _backfill(store: FakeStore, embedder: FakeEmbedder) -> EmbeddingBackfill:
    fake_store: EmbeddingStore = store  # type: ignore[assignment]
    return EmbeddingBackfill(fake_store, embedder, batch_size=16, max_chars=1000, idle_seconds=0.1)


async def test_a_chunk_the_model_refuses_alone_is_skipped_and_the_others_get_their_vectors() -> None:
    store = FakeStore(["a", "b", "c"])
    backfill = _backfill(store, FakeEmbedder(poisoned=["b"]))
    assert await backfill.run_once() == 3
    assert store.written == ["a", "c"]
    assert await backfill.run_once() == 0  # "b" is not asked for again (until a restart)


async def test_a_model_that_is_down_skips_nothing_and_the_pass_fails_for_a_retry() -> None:
    store = FakeStore(["a", "b"])
    embedder = FakeEmbedder(down=True)
    backfill = _backfill(store, embedder)
    with pytest.raises(RuntimeError, match="refused"):
        await backfill.run_once()
    embedder.down = False
    assert await backfill.run_once() == 2
    assert store.written == ["a", "b"]


class FlakyStore(FakeStore):
    """The index refuses the first ``outages`` passes."""

    def __init__(self, chunk_ids: Sequence[str], *, outages: int) -> None:
        super().__init__(chunk_ids)
        self.outages = outages

    async def chunks_to_embed(self, model_id: str, *, limit: int, skip: Sequence[str] = ()) -> list[ChunkToEmbed]:
        if self.outages:
            self.outages -= 1
            raise ConnectionError("index unavailable")
        return await super().chunks_to_embed(model_id, limit=limit, skip=skip)


async def test_a_failing_pass_is_retried_with_a_growing_wait_until_one_works(monkeypatch: pytest.MonkeyPatch) -> None:
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", no_sleep)
    failures = EMBEDDING_FAILURES.labels(reason="unavailable")
    before = failures._value.get()
    store = FlakyStore(["a", "b"], outages=3)

    assert await _backfill(store, FakeEmbedder()).run_until_it_works() == 2

    assert store.written == ["a", "b"]
    assert failures._value.get() - before == 3
    assert len(waits) == 3
    assert all(low <= wait <= 2 * low for wait, low in zip(waits, (0.5, 1.0, 2.0), strict=True))
