"""The real OpenSearch with language analyzers: a Danish inflection matches its stem."""

from __future__ import annotations

import pytest
from customer_agent_shared.clients import create_opensearch_client
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name

pytestmark = pytest.mark.integration


async def test_danish_analyzer_matches_an_inflected_word(infrastructure: InfrastructureSettings) -> None:
    client = create_opensearch_client(infrastructure.opensearch_url)
    index = unique_name("test-danish")
    try:
        await client.indices.create(
            index=index, body={"mappings": {"properties": {"body": {"type": "text", "analyzer": "danish"}}}}
        )
        await client.index(index=index, id="1", body={"body": "Bilerne holder på parkeringspladsen"}, refresh=True)
        await client.index(index=index, id="2", body={"body": "Cyklen står i skuret"}, refresh=True)
        hits = await client.search(index=index, body={"query": {"match": {"body": "bil"}}})
        assert [hit["_id"] for hit in hits["hits"]["hits"]] == ["1"]
        tokens = await client.indices.analyze(body={"analyzer": "danish", "text": "bilerne"})
        assert [token["token"] for token in tokens["tokens"]] == ["bil"]
    finally:
        await client.indices.delete(index=index, ignore_unavailable=True)
        await client.close()
