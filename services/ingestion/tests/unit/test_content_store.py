import json
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.messaging.failures import FailureKind, TransientHandlerError, classify
from ingestion_service.adapters import content_store
from ingestion_service.adapters.bulk_batches import ChunkTooLargeError
from ingestion_service.adapters.content_store import ChunkDocument, ContentStore, bulk_body
from opensearchpy.exceptions import TransportError


class RecordingClient:
    """Stands in for AsyncOpenSearch: keeps the bulk requests it is sent."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def bulk(self, *, body: bytes, refresh: str) -> dict[str, Any]:
        self.bodies.append(body)
        return {"errors": False, "items": []}


def chunk(position: int, body: str) -> ChunkDocument:
    """A chunk of one document, ``d1``."""
    return ChunkDocument(
        chunk_id=f"c{position}",
        account_id="acct",
        source_id="docs",
        source_kind="url",
        document_id="d1",
        url="https://shop.test/levering",
        title="Levering ¶",
        section="Priser",
        body=body,
        language="da",
        private=False,
        citations_allowed=True,
        position=position,
        content_hash="h",
        updated_at=datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC),
    )


async def test_bulk_request_is_one_json_line_per_action_and_document() -> None:
    client = RecordingClient()
    store = ContentStore(client, index="i", read_alias="r", write_alias="w")  # type: ignore[arg-type]
    chunks = [chunk(0, "Vi leverer på to dage — “hurtigt”."), chunk(1, "Zone | Pris\nDK | 49")]
    await store.write(chunks)
    (body,) = client.bodies
    assert body.endswith(b"\n")
    lines = [json.loads(line) for line in body.decode().splitlines()]
    assert lines == [
        {"index": {"_index": "w", "_id": "c0"}},
        chunks[0].source(),
        {"index": {"_index": "w", "_id": "c1"}},
        chunks[1].source(),
    ]
    assert lines[1]["stemmed"]["da"]["body"] == "Vi leverer på to dage — “hurtigt”."
    assert lines[1]["updated_at"] == "2026-01-02T03:04:05.000678+00:00"


def test_text_orjson_refuses_is_escaped_instead_of_failing_the_batch() -> None:
    body = bulk_body([({"index": {"_id": "x"}}, {"body": "broken \ud800 text"})])
    assert [json.loads(line) for line in body.splitlines()] == [{"index": {"_id": "x"}}, {"body": "broken \ud800 text"}]


class ConflictingClient:
    """Stands in for AsyncOpenSearch: its by-query calls meet ``conflicts`` changed chunks, one fewer each time."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    async def update_by_query(self, *, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        return self._answer("updated")

    async def delete_by_query(self, *, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        return self._answer("deleted")

    def _answer(self, counted: str) -> dict[str, Any]:
        self.calls += 1
        conflicts, self.conflicts = self.conflicts, max(self.conflicts - 1, 0)
        return {counted: 2 if self.calls == 1 else 1, "version_conflicts": conflicts}


def _conflicting_store(conflicts: int) -> tuple[ContentStore, ConflictingClient]:
    client = ConflictingClient(conflicts)
    store = ContentStore(client, index="i", read_alias="r", write_alias="w")  # type: ignore[arg-type]
    return store, client


async def test_a_chunk_changed_under_a_flag_update_is_updated_again(monkeypatch: Any) -> None:
    monkeypatch.setattr(content_store, "BY_QUERY_RETRY_SECONDS", 0.0)
    store, client = _conflicting_store(conflicts=2)
    await store.update_source_flags("acct", "docs", private=False, citations=False)
    assert client.calls == 3


async def test_a_chunk_changed_under_a_delete_is_deleted_again_and_counted(monkeypatch: Any) -> None:
    monkeypatch.setattr(content_store, "BY_QUERY_RETRY_SECONDS", 0.0)
    store, client = _conflicting_store(conflicts=1)
    assert await store.delete_source("acct", "docs") == 3
    assert client.calls == 2


async def test_chunks_that_keep_changing_are_a_transient_failure(monkeypatch: Any) -> None:
    monkeypatch.setattr(content_store, "BY_QUERY_RETRY_SECONDS", 0.0)
    store, client = _conflicting_store(conflicts=100)
    with pytest.raises(TransientHandlerError):
        await store.delete_source("acct", "docs")
    assert client.calls == content_store.BY_QUERY_ATTEMPTS


class SizeLimitedClient:
    """Stands in for AsyncOpenSearch: answers 413 to a bulk request larger than ``limit`` bytes."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sent: list[int] = []

    async def bulk(self, *, body: bytes, refresh: str) -> dict[str, Any]:
        if len(body) > self.limit:
            raise TransportError(413, "")
        self.sent.append(body.count(b"\n") // 2)
        return {"errors": False, "items": []}


async def test_a_request_opensearch_finds_too_large_is_halved_until_it_fits() -> None:
    client = SizeLimitedClient(limit=5_000)
    store = ContentStore(client, index="i", read_alias="r", write_alias="w")  # type: ignore[arg-type]
    await store.write([chunk(position, "word " * 100) for position in range(16)])
    assert sum(client.sent) == 16
    assert len(client.sent) > 1


async def test_a_single_chunk_opensearch_finds_too_large_fails_its_document_for_good() -> None:
    store = ContentStore(SizeLimitedClient(limit=100), index="i", read_alias="r", write_alias="w")  # type: ignore[arg-type]
    with pytest.raises(ChunkTooLargeError, match="413") as raised:
        await store.write([chunk(0, "word " * 100)])
    assert classify(raised.value).kind is FailureKind.PERMANENT
