"""Content-index migration on real OpenSearch: a version-1 index behind the aliases is moved to the
current version without losing chunks, and two instances migrating at once agree on the outcome."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.content_index import (
    EMBEDDING_FIELD,
    EMBEDDING_MODEL_FIELD,
    INDEX_VERSION,
    REFRESH_INTERVAL,
    index_body,
    localized_field,
)
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.adapters.content_store import ChunkDocument, ContentStore
from opensearchpy import AsyncOpenSearch

pytestmark = pytest.mark.integration

V1_TEXT = {"type": "text", "analyzer": "standard", "fields": {"english": {"type": "text", "analyzer": "english"}}}


def v1_index_body() -> dict[str, Any]:
    """The version-1 mapping shape: language sub-fields on every text field, no per-language object, no _meta,
    and no vectors (a plain index, as before the k-NN plugin was needed)."""
    body = index_body()
    properties = body["mappings"]["properties"]
    del properties["stemmed"]
    del properties[EMBEDDING_FIELD]
    del properties[EMBEDDING_MODEL_FIELD]
    del body["settings"]["knn"]
    del body["mappings"]["_meta"]
    for name in ("title", "section", "body", "question"):
        properties[name] = V1_TEXT
    return body


def chunk(account_id: str, number: int, language: str, body: str) -> dict[str, Any]:
    """A chunk as version 1 stored it."""
    return {
        "chunk_id": f"c{number}",
        "account_id": account_id,
        "source_id": "site",
        "source_kind": "url",
        "document_id": f"d{number}",
        "url": f"https://example.test/{number}",
        "title": f"Page {number}",
        "section": "",
        "body": body,
        "language": language,
        "private": False,
        "citations_allowed": True,
        "position": 0,
        "content_hash": f"h{number}",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }


@pytest.fixture
async def client(infrastructure: InfrastructureSettings) -> AsyncIterator[AsyncOpenSearch]:
    """A client of the shared OpenSearch."""
    opensearch = create_opensearch_client(infrastructure.opensearch_url)
    try:
        yield opensearch
    finally:
        await opensearch.close()


@pytest.fixture
async def old_index(client: AsyncOpenSearch) -> AsyncIterator[tuple[str, str]]:
    """A version-1 index with both aliases and three chunks of one account; yields (name prefix, account)."""
    prefix = unique_name("test-migration")
    account = unique_name("acc")
    body = v1_index_body()
    body["aliases"] = {f"{prefix}-read": {}, f"{prefix}-write": {"is_write_index": True}}
    await client.indices.create(index=f"{prefix}-v1", body=body)
    documents = [
        chunk(account, 1, "en", "Running shoes are shipped within two days."),
        chunk(account, 2, "da", "Løbeskoene sendes inden for to dage."),
        chunk(account, 3, "xx", "Untranslatable gibberish words."),
    ]
    lines: list[dict[str, Any]] = []
    for document in documents:
        lines.extend(({"index": {"_index": f"{prefix}-write", "_id": document["chunk_id"]}}, document))
    result = await client.bulk(body=lines, refresh="true")
    assert not result["errors"]
    try:
        yield prefix, account
    finally:
        await client.indices.delete(index=f"{prefix}-v*")


def store(client: AsyncOpenSearch, prefix: str) -> ContentStore:
    """The current version's store over the test's aliases."""
    return ContentStore(
        client, index=f"{prefix}-v{INDEX_VERSION}", read_alias=f"{prefix}-read", write_alias=f"{prefix}-write"
    )


async def search_ids(client: AsyncOpenSearch, index: str, account: str, field: str, text: str) -> list[str]:
    """Chunk ids of one account matching ``text`` in ``field``."""
    query = {"bool": {"must": [{"match": {field: text}}], "filter": [{"term": {"account_id": account}}]}}
    result = await client.search(index=index, body={"query": query})
    return sorted(hit["_id"] for hit in result["hits"]["hits"])


async def test_an_old_index_is_migrated_behind_the_aliases(client: AsyncOpenSearch, old_index: tuple[str, str]) -> None:
    prefix, account = old_index
    current = f"{prefix}-v{INDEX_VERSION}"

    await store(client, prefix).ensure_index()

    assert set(await client.indices.get_alias(name=f"{prefix}-read")) == {current}
    write = await client.indices.get_alias(name=f"{prefix}-write")
    assert write == {current: {"aliases": {f"{prefix}-write": {"is_write_index": True}}}}
    assert not await client.indices.exists(index=f"{prefix}-v1")
    read = f"{prefix}-read"
    assert await search_ids(client, read, account, "body", "shipped") == ["c1"]
    # English stemming ('ship' finds 'shipped') only in the English chunk's own-language field.
    assert await search_ids(client, read, account, str(localized_field("en", "body")), "ship") == ["c1"]
    assert await search_ids(client, read, account, str(localized_field("da", "body")), "løbesko") == ["c2"]
    assert await search_ids(client, read, account, str(localized_field("en", "body")), "dage") == []
    assert await search_ids(client, read, account, "body", "gibberish") == ["c3"]
    count = await client.count(index=read, body={"query": {"term": {"account_id": account}}})
    assert count["count"] == 3


async def test_two_instances_migrating_at_once_agree(client: AsyncOpenSearch, old_index: tuple[str, str]) -> None:
    prefix, account = old_index
    current = f"{prefix}-v{INDEX_VERSION}"

    await asyncio.gather(store(client, prefix).ensure_index(), store(client, prefix).ensure_index())
    await store(client, prefix).ensure_index()  # and once more: nothing left to do

    assert set(await client.indices.get_alias(name=f"{prefix}-read")) == {current}
    assert set(await client.indices.get_alias(name=f"{prefix}-write")) == {current}
    count = await client.count(index=f"{prefix}-read", body={"query": {"term": {"account_id": account}}})
    assert count["count"] == 3


async def test_writes_after_the_migration_fill_only_their_own_language(
    client: AsyncOpenSearch, old_index: tuple[str, str]
) -> None:
    prefix, account = old_index
    migrated = store(client, prefix)
    await migrated.ensure_index()
    fields = {
        **chunk(account, 4, "de", "Die Laufschuhe werden versendet."),
        "updated_at": datetime(2026, 1, 2, tzinfo=UTC),
    }
    await migrated.write([ChunkDocument(**fields)], refresh=True)

    read = f"{prefix}-read"
    assert await search_ids(client, read, account, str(localized_field("de", "body")), "Laufschuh") == ["c4"]
    assert await search_ids(client, read, account, str(localized_field("en", "body")), "Laufschuhe") == []


async def test_a_newer_index_behind_the_aliases_is_left_alone(client: AsyncOpenSearch) -> None:
    prefix = unique_name("test-migration")
    newer = f"{prefix}-v{INDEX_VERSION + 1}"
    body = index_body()
    body["mappings"]["_meta"] = {"index_version": INDEX_VERSION + 1}
    body["aliases"] = {f"{prefix}-read": {}, f"{prefix}-write": {"is_write_index": True}}
    await client.indices.create(index=newer, body=body)
    try:
        await store(client, prefix).ensure_index()  # e.g. an old replica restarting after an upgrade

        assert set(await client.indices.get_alias(name=f"{prefix}-read")) == {newer}
        assert set(await client.indices.get_alias(name=f"{prefix}-write")) == {newer}
        assert not await client.indices.exists(index=f"{prefix}-v{INDEX_VERSION}")
    finally:
        await client.indices.delete(index=f"{prefix}-v*")


async def test_the_current_index_gets_the_contract_s_refresh_interval(client: AsyncOpenSearch) -> None:
    prefix = unique_name("test-migration")
    current = store(client, prefix)
    body = index_body()
    body["settings"]["refresh_interval"] = "1s"  # created before the interval changed
    body["aliases"] = {current.read_alias: {}, current.write_alias: {"is_write_index": True}}
    await client.indices.create(index=current.index, body=body)
    try:
        await current.ensure_index()

        settings = await client.indices.get_settings(index=current.index, name="index.refresh_interval")
        assert settings[current.index]["settings"]["index"]["refresh_interval"] == REFRESH_INTERVAL != "1s"
    finally:
        await client.indices.delete(index=current.index)
