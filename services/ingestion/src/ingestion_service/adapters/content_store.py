"""Ingestion's side of the content index: create it, bulk-write chunks, delete by source/document.

Writes go through the write alias; deletes and updates by query go through both
aliases so a half-finished mapping migration never leaves stale chunks behind.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from customer_agent_shared.content_index import index_body
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import RequestError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkDocument:
    """One chunk as stored in the index (field names from the shared content-index contract)."""

    chunk_id: str
    account_id: str
    source_id: str
    source_kind: str
    document_id: str
    url: str
    title: str
    section: str
    body: str
    language: str
    private: bool
    citations_allowed: bool
    position: int
    content_hash: str
    updated_at: datetime
    question: str | None = None
    answer: str | None = None

    def source(self) -> dict[str, Any]:
        """The ``_source`` body written to OpenSearch."""
        body: dict[str, Any] = {
            "chunk_id": self.chunk_id,
            "account_id": self.account_id,
            "source_id": self.source_id,
            "source_kind": self.source_kind,
            "document_id": self.document_id,
            "url": self.url,
            "title": self.title,
            "section": self.section,
            "body": self.body,
            "language": self.language,
            "private": self.private,
            "citations_allowed": self.citations_allowed,
            "position": self.position,
            "content_hash": self.content_hash,
            "updated_at": self.updated_at.isoformat(),
        }
        if self.question is not None:
            body["question"] = self.question
        if self.answer is not None:
            body["answer"] = self.answer
        return body


class IndexWriteError(RuntimeError):
    """OpenSearch refused some chunks of a bulk request."""


class ContentStore:
    """The only writer of the chunk index."""

    def __init__(self, client: AsyncOpenSearch, *, index: str, read_alias: str, write_alias: str) -> None:
        self._client = client
        self.index = index
        self.read_alias = read_alias
        self.write_alias = write_alias

    @property
    def _both_aliases(self) -> str:
        return f"{self.read_alias},{self.write_alias}"

    async def ensure_index(self) -> None:
        """Create the concrete index and both aliases when missing (idempotent, race-safe)."""
        if not await self._client.indices.exists(index=self.index):
            body = index_body()
            body["aliases"] = {self.read_alias: {}, self.write_alias: {"is_write_index": True}}
            try:
                await self._client.indices.create(index=self.index, body=body)
                logger.info("content index created", extra={"index": self.index})
                return
            except RequestError as error:
                if "resource_already_exists_exception" not in str(error):
                    raise
        actions: list[dict[str, Any]] = []
        if not await self._client.indices.exists_alias(name=self.read_alias):
            actions.append({"add": {"index": self.index, "alias": self.read_alias}})
        if not await self._client.indices.exists_alias(name=self.write_alias):
            actions.append({"add": {"index": self.index, "alias": self.write_alias, "is_write_index": True}})
        if actions:
            await self._client.indices.update_aliases(body={"actions": actions})

    async def drop(self) -> None:
        """Delete the concrete index (tests and tear-down only)."""
        await self._client.indices.delete(index=self.index, ignore_unavailable=True)

    async def write(self, chunks: Sequence[ChunkDocument], *, refresh: bool = False) -> None:
        """Bulk-index chunks through the write alias; raise ``IndexWriteError`` if any is refused."""
        if not chunks:
            return
        lines: list[dict[str, Any]] = []
        for chunk in chunks:
            lines.append({"index": {"_index": self.write_alias, "_id": chunk.chunk_id}})
            lines.append(chunk.source())
        result = await self._client.bulk(body=lines, refresh="true" if refresh else "false")
        if result.get("errors"):
            reasons = [
                str(item["index"].get("error", {}).get("reason", item["index"].get("error")))
                for item in result["items"]
                if "error" in item.get("index", {})
            ]
            raise IndexWriteError(f"{len(reasons)} chunks refused by OpenSearch: {reasons[:3]}")

    async def _delete_by_query(
        self, filters: list[dict[str, Any]], must_not: list[dict[str, Any]] | None = None
    ) -> int:
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if must_not:
            query["bool"]["must_not"] = must_not
        result = await self._client.delete_by_query(
            index=self._both_aliases,
            body={"query": query},
            params={"conflicts": "proceed", "refresh": "true", "ignore_unavailable": "true"},
        )
        return int(result.get("deleted", 0))

    @staticmethod
    def _scope(account_id: str, source_id: str) -> list[dict[str, Any]]:
        if not account_id or not source_id:
            raise ValueError("account_id and source_id are required")
        return [{"term": {"account_id": account_id}}, {"term": {"source_id": source_id}}]

    async def delete_source(self, account_id: str, source_id: str) -> int:
        """Remove every chunk of a source; return how many were deleted."""
        return await self._delete_by_query(self._scope(account_id, source_id))

    async def delete_documents(self, account_id: str, source_id: str, document_ids: Iterable[str]) -> int:
        """Remove every chunk of some documents of a source."""
        ids = list(document_ids)
        if not ids:
            return 0
        return await self._delete_by_query([*self._scope(account_id, source_id), {"terms": {"document_id": ids}}])

    async def delete_stale_chunks(
        self, account_id: str, source_id: str, document_id: str, keep_chunk_ids: Iterable[str]
    ) -> int:
        """Remove a document's chunks that are not in ``keep_chunk_ids`` (it got shorter)."""
        keep = list(keep_chunk_ids)
        filters = [*self._scope(account_id, source_id), {"term": {"document_id": document_id}}]
        return await self._delete_by_query(filters, [{"ids": {"values": keep}}] if keep else None)

    async def update_source_flags(self, account_id: str, source_id: str, *, private: bool, citations: bool) -> None:
        """Switch a source's private / citations-allowed flags on all its chunks."""
        await self._client.update_by_query(
            index=self._both_aliases,
            body={
                "query": {"bool": {"filter": self._scope(account_id, source_id)}},
                "script": {
                    "lang": "painless",
                    "source": "ctx._source.private = params.p; ctx._source.citations_allowed = params.c",
                    "params": {"p": private, "c": citations and not private},
                },
            },
            params={"conflicts": "proceed", "refresh": "true", "ignore_unavailable": "true"},
        )

    async def refresh(self) -> None:
        """Make recent writes searchable now."""
        await self._client.indices.refresh(index=self.write_alias)
