"""The content index contract: where ingestion writes chunks and conversation reads them.

Like a topic, the index is a contract between services: its aliases and field
names live here. Ingestion owns the documents (it is the only writer); readers
go through ``AccountScopedSearch`` so every query is filtered by account in one
place that no caller can skip.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch

INDEX_VERSION = 1
READ_ALIAS = "customer-agent-chunks"
WRITE_ALIAS = "customer-agent-chunks-write"


def concrete_index_name(version: int = INDEX_VERSION) -> str:
    """Name of a concrete index behind the aliases (mapping changes bump the version)."""
    return f"customer-agent-chunks-v{version}"


# Languages with a dedicated analyzer; anything else uses the standard analyzer.
LANGUAGE_ANALYZERS: dict[str, str] = {
    "en": "english",
    "da": "danish",
    "nl": "dutch",
    "de": "german",
    "fr": "french",
    "es": "spanish",
    "sv": "swedish",
    "no": "norwegian",
    "it": "italian",
    "pt": "portuguese",
    "fi": "finnish",
}


def analyzed_subfields() -> dict[str, Any]:
    """Per-language sub-fields of a text field, so a query can use the visitor's language."""
    return {analyzer: {"type": "text", "analyzer": analyzer} for analyzer in LANGUAGE_ANALYZERS.values()}


def index_body() -> dict[str, Any]:
    """Settings and mappings of the chunk index."""
    text_field = {"type": "text", "analyzer": "standard", "fields": analyzed_subfields()}
    return {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0, "refresh_interval": "1s"},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "chunk_id": {"type": "keyword"},
                "account_id": {"type": "keyword"},
                "source_id": {"type": "keyword"},
                "source_kind": {"type": "keyword"},
                "document_id": {"type": "keyword"},
                "url": {"type": "keyword"},
                "title": text_field,
                "section": text_field,
                "body": text_field,
                "question": text_field,
                "answer": {"type": "text", "analyzer": "standard"},
                "language": {"type": "keyword"},
                "private": {"type": "boolean"},
                "citations_allowed": {"type": "boolean"},
                "position": {"type": "integer"},
                "content_hash": {"type": "keyword"},
                "updated_at": {"type": "date"},
            },
        },
    }


def account_filter(account_id: str) -> dict[str, Any]:
    """The filter clause every read carries."""
    if not account_id:
        raise ValueError("account_id is required for every content query")
    return {"term": {"account_id": account_id}}


class AccountScopedSearch:
    """Read access to the chunk index that always restricts results to one account."""

    def __init__(self, client: AsyncOpenSearch, index: str = READ_ALIAS) -> None:
        self._client = client
        self._index = index

    async def search(self, account_id: str, query: dict[str, Any], *, size: int = 10, **extra: Any) -> dict[str, Any]:
        """Run ``query`` for one account: it is wrapped in a bool query with the account filter."""
        scoped = {"bool": {"must": [query], "filter": [account_filter(account_id)]}}
        body = {"query": scoped, "size": size, **extra}
        result: dict[str, Any] = await self._client.search(index=self._index, body=body)
        return result

    async def count(self, account_id: str, query: dict[str, Any] | None = None) -> int:
        """Count one account's chunks matching ``query`` (all of them by default)."""
        scoped = {"bool": {"must": [query or {"match_all": {}}], "filter": [account_filter(account_id)]}}
        result = await self._client.count(index=self._index, body={"query": scoped})
        return int(result["count"])
