"""Ingestion's side of the content index: create it, bulk-write chunks, delete by source/document.

Writes go through the write alias; deletes and updates by query go through both
aliases so a half-finished mapping migration never leaves stale chunks behind.
When an older index version sits behind the aliases, ``ensure_index`` migrates:
the write alias moves to the new index first, the old chunks are reindexed into it
(never over newer writes), then the read alias moves and the old index is dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import tenacity
from customer_agent_shared.content_index import (
    DEFAULT_EMBEDDING_DIMENSION,
    INDEX_VERSION,
    REFRESH_INTERVAL,
    embedding_dimension,
    index_body,
    index_version,
    localize_script,
    localized_fields,
)
from customer_agent_shared.messaging.failures import TransientHandlerError
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import NotFoundError, RequestError, TransportError

from ingestion_service.adapters.bulk_batches import (
    DEFAULT_BULK_MAX_BYTES,
    BulkEntry,
    ChunkTooLargeError,
    send_all,
    send_fitting,
)

logger = logging.getLogger(__name__)

REINDEX_TIMEOUT_SECONDS = 3600
DEFAULT_BULK_MAX_CHUNKS = 500
BY_QUERY_ATTEMPTS = 5
BY_QUERY_RETRY_SECONDS = 0.2


class IndexConflictError(TransientHandlerError):
    """A delete or update by query kept meeting chunks written meanwhile (the embedder adding vectors)."""


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
        body.update(localized_fields(self.language, body))
        return body


def bulk_line(value: dict[str, Any]) -> bytes:
    """One line of a bulk request body: orjson (the standard encoder took ~0.8 s for 13k chunks), or
    the standard encoder's escapes for text orjson refuses (lone surrogates)."""
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":")).encode()


def bulk_body(actions: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> bytes:
    """The NDJSON body of a bulk request from (action, document) pairs."""
    lines = [line for action, document in actions for line in (bulk_line(action), bulk_line(document))]
    lines.append(b"")
    return b"\n".join(lines)


class IndexMigrationError(RuntimeError):
    """Copying the chunks of an older index version into the current one failed."""


class EmbeddingDimensionError(RuntimeError):
    """The index holds vectors of another length than the configured embedding model gives."""


class ContentStore:
    """The only writer of the chunk index."""

    def __init__(
        self,
        client: AsyncOpenSearch,
        *,
        index: str,
        read_alias: str,
        write_alias: str,
        embedding_dimension: int | None = DEFAULT_EMBEDDING_DIMENSION,
        bulk_max_chunks: int = DEFAULT_BULK_MAX_CHUNKS,
        bulk_max_bytes: int = DEFAULT_BULK_MAX_BYTES,
    ) -> None:
        self._client = client
        self.bulk_max_chunks = bulk_max_chunks
        self.bulk_max_bytes = bulk_max_bytes
        self.index = index
        self.read_alias = read_alias
        self.write_alias = write_alias
        self.embedding_dimension = embedding_dimension

    @property
    def _both_aliases(self) -> str:
        return f"{self.read_alias},{self.write_alias}"

    async def ensure_index(self) -> None:
        """Create the concrete index and both aliases when missing, or migrate to it from an older
        version behind the aliases (idempotent and safe when several instances start at once)."""
        readable = await self._alias_targets(self.read_alias)
        writable = await self._alias_targets(self.write_alias)
        older = (readable | writable) - {self.index}
        if not older:
            await self._create(with_aliases=not readable and not writable)
            await self._add_missing_aliases()
            await self._apply_refresh_interval()
            await self._check_embedding_dimension()
            return
        versions = {name: version for name in older if (version := await self._version(name)) is not None}
        if len(versions) < len(older):
            await self.ensure_index()  # an old index vanished: another instance just finished; look again
            return
        newer = sorted(name for name, version in versions.items() if version > INDEX_VERSION)
        if newer:
            logger.warning("a newer content index is behind the aliases; leaving it alone", extra={"index": newer})
            return
        await self._migrate(sorted(older))

    async def _migrate(self, older: list[str]) -> None:
        """Write alias to the new index first, copy the old chunks over, then switch reads and drop the old."""
        logger.info("migrating the content index", extra={"from": older, "to": self.index})
        await self._create(with_aliases=False)
        await self._move_alias(self.write_alias, older, is_write_index=True)
        try:
            result = await self._client.reindex(
                body={
                    "conflicts": "proceed",  # chunks written since the write alias moved are newer: keep them
                    "source": {"index": ",".join(older)},
                    "dest": {"index": self.index, "op_type": "create"},
                    "script": localize_script(),
                },
                params={"wait_for_completion": "true", "refresh": "true", "request_timeout": REINDEX_TIMEOUT_SECONDS},
            )
            failures = result.get("failures") or []
        except TransportError as error:
            failures = [str(error)]
        if failures:
            if await self._alias_targets(self.read_alias) == {self.index}:
                return  # another instance finished the migration first and dropped the old index
            raise IndexMigrationError(f"reindexing {older} into {self.index} failed: {failures[:3]}")
        await self._move_alias(self.read_alias, older, is_write_index=False)
        for name in older:
            with contextlib.suppress(NotFoundError):  # another instance may have dropped it already
                await self._client.indices.delete(index=name)
        logger.info("content index migrated", extra={"from": older, "to": self.index})

    async def _move_alias(self, alias: str, older: list[str], *, is_write_index: bool) -> None:
        """Point ``alias`` at the new index instead of the older ones, atomically."""
        add: dict[str, Any] = {"index": self.index, "alias": alias}
        if is_write_index:
            add["is_write_index"] = True
        current = await self._alias_targets(alias)
        actions: list[dict[str, Any]] = [{"add": add}]
        actions += [{"remove": {"index": name, "alias": alias}} for name in older if name in current]
        try:
            await self._client.indices.update_aliases(body={"actions": actions})
        except NotFoundError:
            # Another instance moved it (and maybe dropped an old index) in between: check the outcome.
            if await self._alias_targets(alias) != {self.index}:
                raise

    async def _create(self, *, with_aliases: bool) -> None:
        """Create the concrete index (with both aliases on a fresh install) unless it exists."""
        if await self._client.indices.exists(index=self.index):
            return
        body = index_body(self.embedding_dimension or DEFAULT_EMBEDDING_DIMENSION)
        if with_aliases:
            body["aliases"] = {self.read_alias: {}, self.write_alias: {"is_write_index": True}}
        try:
            await self._client.indices.create(index=self.index, body=body)
            logger.info("content index created", extra={"index": self.index})
        except RequestError as error:
            if "resource_already_exists_exception" not in str(error):
                raise

    async def _apply_refresh_interval(self) -> None:
        """Give an index created with another refresh interval the contract's (a dynamic setting)."""
        settings = await self._client.indices.get_settings(index=self.index, name="index.refresh_interval")
        current = settings.get(self.index, {}).get("settings", {}).get("index", {}).get("refresh_interval")
        if current != REFRESH_INTERVAL:
            await self._client.indices.put_settings(
                index=self.index, body={"index": {"refresh_interval": REFRESH_INTERVAL}}
            )

    async def _check_embedding_dimension(self) -> None:
        """Refuse to start when the configured model's vectors cannot go into the index (none: no model)."""
        if self.embedding_dimension is None:
            return
        mapping = await self._client.indices.get_mapping(index=self.index)
        existing = embedding_dimension(mapping[self.index]["mappings"])
        if existing is not None and existing != self.embedding_dimension:
            raise EmbeddingDimensionError(
                f"the content index {self.index} holds vectors of {existing} numbers but the embedding model "
                f"gives {self.embedding_dimension}: use a model of {existing} dimensions, or a new index "
                "(INGESTION_CONTENT_INDEX) to re-embed into"
            )

    async def _add_missing_aliases(self) -> None:
        actions: list[dict[str, Any]] = []
        if not await self._client.indices.exists_alias(name=self.read_alias):
            actions.append({"add": {"index": self.index, "alias": self.read_alias}})
        if not await self._client.indices.exists_alias(name=self.write_alias):
            actions.append({"add": {"index": self.index, "alias": self.write_alias, "is_write_index": True}})
        if actions:
            await self._client.indices.update_aliases(body={"actions": actions})

    async def _alias_targets(self, alias: str) -> set[str]:
        """Concrete indexes an alias points at (empty when it does not exist)."""
        try:
            result = await self._client.indices.get_alias(name=alias)
        except NotFoundError:
            return set()
        return set(result)

    async def _version(self, index: str) -> int | None:
        """The contract version of an existing index (None when it no longer exists)."""
        try:
            mapping = await self._client.indices.get_mapping(index=index)
        except NotFoundError:
            return None
        return index_version(mapping[index]["mappings"])

    async def drop(self) -> None:
        """Delete the concrete index (tests and tear-down only)."""
        await self._client.indices.delete(index=self.index, ignore_unavailable=True)

    async def write(self, chunks: Sequence[ChunkDocument], *, refresh: bool = False) -> None:
        """Bulk-index chunks through the write alias, in requests of at most ``bulk_max_chunks`` chunks and
        ``bulk_max_bytes`` bytes; ``IndexWriteError`` if any is refused, ``ChunkTooLargeError`` (permanent)
        for a chunk too large to write even alone, the chunks before it written and none after it."""
        await send_all(
            self._client,
            self._entries(chunks),
            max_entries=self.bulk_max_chunks,
            max_bytes=self.bulk_max_bytes,
            refresh=refresh,
        )

    async def write_fitting(self, chunks: Sequence[ChunkDocument]) -> list[ChunkTooLargeError]:
        """Bulk-index chunks as ``write`` does, but those of the documents with a chunk too large to write even
        alone, which are left out (some of their chunks may be written), one error each; each chunk's request
        lines are built once."""
        return await send_fitting(
            self._client,
            self._entries(chunks),
            max_entries=self.bulk_max_chunks,
            max_bytes=self.bulk_max_bytes,
            refresh=False,
        )

    def _entries(self, chunks: Sequence[ChunkDocument]) -> list[BulkEntry]:
        """Each chunk's lines of a bulk request through the write alias."""
        return [
            BulkEntry(
                bulk_body([({"index": {"_index": self.write_alias, "_id": chunk.chunk_id}}, chunk.source())]),
                chunk.document_id,
                chunk.url,
            )
            for chunk in chunks
        ]

    async def _delete_by_query(
        self, filters: list[dict[str, Any]], must_not: list[dict[str, Any]] | None = None
    ) -> int:
        query: dict[str, Any] = {"bool": {"filter": filters}}
        if must_not:
            query["bool"]["must_not"] = must_not
        return await self._by_query_until_settled(self._client.delete_by_query, {"query": query}, "deleted")

    async def _by_query_until_settled(self, operation: Any, body: dict[str, Any], counted: str) -> int:
        """Run a delete/update by query again while it skipped chunks changed under it; return the count.

        The embedder adds vectors in place, so a chunk can change between the query's read and its
        write; such a chunk is skipped with a version conflict and must be tried again, never left out.
        """
        total = 0

        async def run_once() -> int:
            """Run the query once and return how many chunks it skipped for a version conflict."""
            nonlocal total
            result = await operation(
                index=self._both_aliases,
                body=body,
                params={"conflicts": "proceed", "refresh": "true", "ignore_unavailable": "true"},
            )
            total += int(result.get(counted, 0))
            return int(result.get("version_conflicts", 0))

        retrying = tenacity.AsyncRetrying(
            retry=tenacity.retry_if_result(bool),  # an error is not retried here: the consumer's retries take it
            stop=tenacity.stop_after_attempt(BY_QUERY_ATTEMPTS),
            wait=tenacity.wait_incrementing(start=BY_QUERY_RETRY_SECONDS, increment=BY_QUERY_RETRY_SECONDS),
        )
        try:
            await retrying(run_once)
        except tenacity.RetryError as error:
            raise IndexConflictError(f"chunks kept changing during a {counted} by query; try again") from error
        return total

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
        self, account_id: str, source_id: str, *, document_id: str, keep_chunk_ids: Iterable[str]
    ) -> int:
        """Remove a document's chunks that are not in ``keep_chunk_ids`` (it got shorter)."""
        keep = list(keep_chunk_ids)
        filters = [*self._scope(account_id, source_id), {"term": {"document_id": document_id}}]
        return await self._delete_by_query(filters, [{"ids": {"values": keep}}] if keep else None)

    async def update_source_flags(self, account_id: str, source_id: str, *, private: bool, citations: bool) -> None:
        """Switch a source's private / citations-allowed flags on all its chunks."""
        script = {
            "lang": "painless",
            "source": "ctx._source.private = params.p; ctx._source.citations_allowed = params.c",
            "params": {"p": private, "c": citations and not private},
        }
        body = {"query": {"bool": {"filter": self._scope(account_id, source_id)}}, "script": script}
        await self._by_query_until_settled(self._client.update_by_query, body, "updated")

    async def refresh(self) -> None:
        """Make recent writes searchable now."""
        await self._client.indices.refresh(index=self.write_alias)
