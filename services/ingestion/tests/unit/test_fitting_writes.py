"""A website batch with pages too large to index: each page that fits is sent once, not again after a refusal, and
every page too large for any request is set aside in one pass."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest
from customer_agent_shared.events.sources import SourceKind, SourceState
from ingestion_service.adapters import content_store
from ingestion_service.adapters.content_store import ContentStore
from ingestion_service.domain.model import Source
from ingestion_service.handlers.indexing import DocumentIndexer, PreparedDocument
from opensearchpy.exceptions import TransportError

from .test_content_store import chunk

SOURCE = Source("acct", "docs", SourceKind.URL, SourceState.SYNCING)  # the source of `chunk`'s chunks
SMALL = "word " * 20  # about 600 bytes as a bulk entry
LARGE = "word " * 1000  # about 10,400 bytes
OPENSEARCH_LIMIT = 4_000  # bytes of a request OpenSearch takes (http.max_content_length); LARGE alone is over


class LimitedClient:
    """Stands in for AsyncOpenSearch: answers 413 to a bulk request over ``OPENSEARCH_LIMIT`` bytes, keeps the
    chunk ids of the requests it takes and the documents its deletes by query name."""

    def __init__(self) -> None:
        self.requests = 0
        self.written: list[str] = []
        self.deleted: list[str] = []
        self.trimmed: list[str] = []

    async def bulk(self, *, body: bytes, refresh: str) -> dict[str, Any]:
        self.requests += 1
        if len(body) > OPENSEARCH_LIMIT:
            raise TransportError(413, "")
        self.written += [json.loads(action)["index"]["_id"] for action in body.splitlines()[::2]]
        return {"errors": False, "items": []}

    async def delete_by_query(self, *, index: str, body: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        query = body["query"]["bool"]
        [document] = [term for term in query["filter"] if "terms" in term or "document_id" in term.get("term", {})]
        if "must_not" in query:  # a document's chunks past its new end
            self.trimmed.append(document["term"]["document_id"])
        else:
            self.deleted += document["terms"]["document_id"]
        return {"deleted": 0, "version_conflicts": 0}


def page(name: str, *bodies: str, previous_chunks: int = 0) -> PreparedDocument:
    """A prepared page of ``bodies``, one chunk each."""
    chunks = [
        replace(chunk(position, body), chunk_id=f"{name}-{position}", document_id=name, url=f"https://shop.test/{name}")
        for position, body in enumerate(bodies)
    ]
    return PreparedDocument(name, f"https://shop.test/{name}", name, "en", name, chunks, 0.0, previous_chunks)


def writer(client: LimitedClient, **bounds: int) -> DocumentIndexer:
    """An indexer writing through a content store over ``client``."""
    store = ContentStore(client, index="i", read_alias="r", write_alias="w", **bounds)  # type: ignore[arg-type]
    return DocumentIndexer(store, chunk_chars=1200, overlap_chars=200)


def chunk_ids(*pages: PreparedDocument) -> list[str]:
    """The ids of the pages' chunks, in order."""
    return [piece.chunk_id for document in pages for piece in document.chunks]


async def test_each_chunk_is_sent_once_though_two_pages_are_refused() -> None:
    client = LimitedClient()
    fitting = [page("p0", SMALL, SMALL, previous_chunks=3), page("p2", SMALL), page("p3", SMALL), page("p5", SMALL)]
    refused = [page("p1", SMALL, LARGE), page("p4", SMALL, LARGE)]
    p0, p2, p3, p5 = fitting
    p1, p4 = refused

    errors = await writer(client, bulk_max_chunks=1).write_fitting(SOURCE, [p0, p1, p2, p3, p4, p5])

    # One request per chunk and none sent twice: the pages written before a refusal are not written again.
    assert client.requests == len(chunk_ids(*fitting, *refused))
    assert client.written == chunk_ids(p0, p1)[:3] + chunk_ids(p2, p3) + chunk_ids(p4)[:1] + chunk_ids(p5)
    assert [error.document_id for error in errors] == client.deleted == ["p1", "p4"]  # no half page is left
    assert client.trimmed == ["p0"]  # written before the first refusal, and its old third chunk still dropped


async def test_requests_halved_after_a_413_resume_after_the_refused_page() -> None:
    client = LimitedClient()
    pages = [page(f"p{number}", SMALL, SMALL) for number in range(6)]
    pages.insert(2, page("big", SMALL, LARGE))

    errors = await writer(client).write_fitting(SOURCE, pages)

    written = Counter(client.written)
    assert set(written.values()) == {1}  # none sent twice
    fitting = [document for document in pages if document.document_id != "big"]
    assert set(written) - {"big-0"} == set(chunk_ids(*fitting))  # the big page's first chunk may have gone first
    assert [error.document_id for error in errors] == client.deleted == ["big"]


async def test_a_page_refused_before_any_request_leaves_the_others_to_one_write() -> None:
    client = LimitedClient()
    pages = [page("p0", SMALL), page("big", LARGE), page("p2", SMALL)]

    errors = await writer(client, bulk_max_bytes=OPENSEARCH_LIMIT).write_fitting(SOURCE, pages)

    assert (client.requests, client.written) == (1, ["p0-0", "p2-0"])
    assert [error.document_id for error in errors] == client.deleted == ["big"]


async def test_every_page_too_large_for_a_request_is_set_aside_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    client = LimitedClient()
    huge = "word " * 3000  # about 31,000 bytes: over the store's bound below, set aside before any request
    pages = [
        page("p0", SMALL),
        page("huge1", SMALL, huge),
        page("p2", SMALL),
        page("large3", SMALL, LARGE),  # under the store's bound: only OpenSearch refuses it (413)
        page("huge4", huge),
        page("huge5", huge, SMALL),
        page("p6", SMALL),
    ]
    built: Counter[str] = Counter()
    build = content_store.bulk_body

    def counted(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> bytes:
        built.update(action["index"]["_id"] for action, _ in pairs)
        return build(pairs)

    monkeypatch.setattr(content_store, "bulk_body", counted)

    errors = await writer(client, bulk_max_chunks=1, bulk_max_bytes=20_000).write_fitting(SOURCE, pages)

    assert built == Counter(chunk_ids(*pages))  # each chunk's request lines built once, not once per refusal
    assert client.written == ["p0-0", "p2-0", "large3-0", "p6-0"]  # each sent once, the others never
    assert client.requests == len(client.written) + 1  # and large3's second chunk, refused
    assert [error.document_id for error in errors] == client.deleted == ["huge1", "huge4", "huge5", "large3"]
