"""Splitting a bulk write into requests bounded by count and by bytes, and sending each.

One request per document was once the rule, and a large document made a request of hundreds of megabytes:
OpenSearch answered 429 (read as an outage, so every tenant's commands waited) or 413. Requests now stay
under ``max_bytes``; a single entry larger than that cannot be written at all. A request OpenSearch still finds too
large (413) is halved and sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from customer_agent_shared.messaging.failures import PermanentHandlerError
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import TransportError

from ingestion_service.adapters.parse_limits import MIB

DEFAULT_BULK_MAX_BYTES = 5 * MIB
TOO_LARGE = 413


class IndexWriteError(RuntimeError):
    """OpenSearch refused some chunks of a bulk request."""


class ChunkTooLargeError(PermanentHandlerError):
    """A chunk that cannot be indexed even in a request of its own: its document fails, nothing else."""

    def __init__(self, *, document_id: str, url: str, size: int, why: str, written: int = 0) -> None:
        super().__init__(
            f"document {url or document_id!r} cannot be indexed: one of its chunks is {size:,} bytes "
            f"as an index request, {why}"
        )
        self.document_id = document_id
        self.url = url
        self.written = written
        """How many of the write's chunks, in order, were written before this one (0 when refused before any
        request was sent); none after it was."""


@dataclass(frozen=True)
class BulkEntry:
    """One chunk's lines of a bulk request (its action and its document), and whose chunk it is."""

    lines: bytes
    document_id: str
    url: str

    def too_large(self, why: str, *, written: int = 0) -> ChunkTooLargeError:
        """The error saying this entry cannot be written, and ``why`` (after the ``written`` entries before it)."""
        return ChunkTooLargeError(
            document_id=self.document_id, url=self.url, size=len(self.lines), why=why, written=written
        )


def bulk_batches(entries: list[BulkEntry], *, max_entries: int, max_bytes: int) -> Iterator[list[BulkEntry]]:
    """``entries`` in order, in groups of at most ``max_entries`` and ``max_bytes``; ``ChunkTooLargeError``
    before any group when an entry alone is larger than ``max_bytes``."""
    for entry in entries:
        if len(entry.lines) > max_bytes:
            raise entry.too_large(f"more than the {max_bytes:,} bytes a bulk request may carry")
    batch: list[BulkEntry] = []
    size = 0
    for entry in entries:
        if batch and (len(batch) >= max_entries or size + len(entry.lines) > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(entry)
        size += len(entry.lines)
    if batch:
        yield batch


def set_aside_oversized(
    entries: list[BulkEntry], *, max_bytes: int
) -> tuple[list[BulkEntry], list[ChunkTooLargeError]]:
    """``entries`` but those of the documents with an entry larger than ``max_bytes``, in one pass; and for each
    such document (in order) the error saying why it cannot be written."""
    refused: dict[str, ChunkTooLargeError] = {}
    for entry in entries:
        if len(entry.lines) > max_bytes and entry.document_id not in refused:
            refused[entry.document_id] = entry.too_large(f"more than the {max_bytes:,} bytes a bulk request may carry")
    kept = [entry for entry in entries if entry.document_id not in refused] if refused else entries
    return kept, list(refused.values())


async def send_all(
    client: AsyncOpenSearch, entries: list[BulkEntry], *, max_entries: int, max_bytes: int, refresh: bool
) -> None:
    """Send ``entries`` in requests of at most ``max_entries`` entries and ``max_bytes`` bytes, in order; a
    ``ChunkTooLargeError`` says how many were written before the one refused."""
    written = 0
    for batch in bulk_batches(entries, max_entries=max_entries, max_bytes=max_bytes):
        await send_bulk(client, batch, refresh=refresh, written=written)
        written += len(batch)


async def send_fitting(
    client: AsyncOpenSearch, entries: list[BulkEntry], *, max_entries: int, max_bytes: int, refresh: bool
) -> list[ChunkTooLargeError]:
    """Send ``entries`` but those of documents that cannot be written, and say why each of those was left out:
    every document with an entry over ``max_bytes`` is set aside before the first request; after an entry
    OpenSearch refuses even alone (413), only the entries not yet written, but its document's, are sent again."""
    unwritten, refused = set_aside_oversized(entries, max_bytes=max_bytes)
    while unwritten:
        try:
            await send_all(client, unwritten, max_entries=max_entries, max_bytes=max_bytes, refresh=refresh)
        except ChunkTooLargeError as error:
            refused.append(error)
            unwritten = [entry for entry in unwritten[error.written :] if entry.document_id != error.document_id]
        else:
            break
    return refused


async def send_bulk(client: AsyncOpenSearch, entries: list[BulkEntry], *, refresh: bool, written: int) -> None:
    """One bulk request, after ``written`` chunks of the write; halved and sent again when OpenSearch finds it
    too large (413), down to one chunk, which then fails its document for good: waiting never makes a
    request smaller."""
    try:
        result = await client.bulk(
            body=b"".join(entry.lines for entry in entries), refresh="true" if refresh else "false"
        )
    except TransportError as error:
        if error.status_code != TOO_LARGE:
            raise
        if len(entries) == 1:
            why = "more than OpenSearch accepts in one request (413)"
            raise entries[0].too_large(why, written=written) from error
        half = len(entries) // 2
        await send_bulk(client, entries[:half], refresh=refresh, written=written)
        await send_bulk(client, entries[half:], refresh=refresh, written=written + half)
        return
    if result.get("errors"):
        reasons = [
            str(item["index"].get("error", {}).get("reason", item["index"].get("error")))
            for item in result["items"]
            if "error" in item.get("index", {})
        ]
        raise IndexWriteError(f"{len(reasons)} chunks refused by OpenSearch: {reasons[:3]}")
