"""Ingestion's side of the chunks' vectors: which chunks still need one, and adding it in place."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from customer_agent_shared.content_index import EMBEDDING_FIELD, EMBEDDING_MODEL_FIELD
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError

from ingestion_service.adapters.content_store import bulk_body

TEXT_FIELDS = ("title", "section", "body", "question", "answer")


@dataclass(frozen=True)
class ChunkToEmbed:
    """A chunk still without a vector of the current model, with the version it was read at."""

    chunk_id: str
    account_id: str
    source_id: str
    index: str
    seq_no: int
    primary_term: int
    text_fields: dict[str, str]


class EmbeddingStore:
    """Finds chunks without a vector of the current model and adds vectors to them in place."""

    def __init__(self, client: AsyncOpenSearch, *, write_alias: str) -> None:
        self._client = client
        self._write_alias = write_alias

    async def chunks_to_embed(self, model_id: str, *, limit: int, skip: Sequence[str] = ()) -> list[ChunkToEmbed]:
        """Up to ``limit`` chunks, oldest write first, whose vector is missing or of another model."""
        query: dict[str, Any] = {"bool": {"must_not": [{"term": {EMBEDDING_MODEL_FIELD: model_id}}]}}
        if skip:
            query["bool"]["must_not"].append({"ids": {"values": list(skip)}})
        body = {
            "query": query,
            "size": limit,
            "sort": [{"updated_at": "asc"}, {"chunk_id": "asc"}],
            "seq_no_primary_term": True,
            "_source": ["account_id", "source_id", *TEXT_FIELDS],
            "track_total_hits": False,
        }
        try:
            result = await self._client.search(index=self._write_alias, body=body)
        except NotFoundError:
            return []
        return [_chunk_to_embed(hit) for hit in result["hits"]["hits"]]

    async def pending(self, model_id: str) -> int:
        """How many chunks of all accounts still wait for a vector of ``model_id``."""
        body = {"query": {"bool": {"must_not": [{"term": {EMBEDDING_MODEL_FIELD: model_id}}]}}}
        try:
            result = await self._client.count(index=self._write_alias, body=body)
        except NotFoundError:
            return 0
        return int(result["count"])

    async def embedded(self, account_id: str, source_id: str, *, model_id: str) -> int:
        """How many chunks of one source have a vector of ``model_id``."""
        filters = [
            {"term": {"account_id": account_id}},
            {"term": {"source_id": source_id}},
            {"term": {EMBEDDING_MODEL_FIELD: model_id}},
        ]
        try:
            result = await self._client.count(index=self._write_alias, body={"query": {"bool": {"filter": filters}}})
        except NotFoundError:
            return 0
        return int(result["count"])

    async def add_vectors(
        self, chunks: Sequence[ChunkToEmbed], vectors: Sequence[list[float]], *, model_id: str
    ) -> tuple[int, list[str]]:
        """Add each chunk's vector unless the chunk changed since it was read (it is then read again).

        Returns how many were written and the ids OpenSearch refused for another reason than a newer
        version of the chunk (a deleted chunk counts as neither).
        """
        actions = (
            (
                {
                    "update": {
                        "_index": chunk.index,
                        "_id": chunk.chunk_id,
                        "if_seq_no": chunk.seq_no,
                        "if_primary_term": chunk.primary_term,
                    }
                },
                {"doc": {EMBEDDING_FIELD: vector, EMBEDDING_MODEL_FIELD: model_id}},
            )
            for chunk, vector in zip(chunks, vectors, strict=True)
        )
        if not chunks:
            return 0, []
        # Refreshed at once: the next search for chunks without a vector must not find these again.
        result = await self._client.bulk(body=bulk_body(actions), refresh="true")
        written = 0
        refused: list[str] = []
        for item in result.get("items", []):
            outcome = item.get("update", {})
            status = int(outcome.get("status", 500))
            if status < 300:
                written += 1
            elif status not in (404, 409):  # deleted, or rewritten since it was read
                refused.append(str(outcome.get("_id")))
        return written, refused


def _chunk_to_embed(hit: dict[str, Any]) -> ChunkToEmbed:
    source = hit.get("_source") or {}
    return ChunkToEmbed(
        chunk_id=str(hit["_id"]),
        account_id=str(source.get("account_id", "")),
        source_id=str(source.get("source_id", "")),
        index=str(hit["_index"]),
        seq_no=int(hit["_seq_no"]),
        primary_term=int(hit["_primary_term"]),
        text_fields={key: str(source[key]) for key in TEXT_FIELDS if source.get(key)},
    )
