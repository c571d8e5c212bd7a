"""Reading the content index: every query filtered by account in one place no caller can skip."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opensearchpy import AsyncOpenSearch

from customer_agent_shared.content_index.contract import READ_ALIAS, account_filter


@dataclass(frozen=True)
class ScopedSearch:
    """One search of ``AccountScopedSearch.search_many``: a query run over one account's chunks."""

    account_id: str
    query: dict[str, Any]
    size: int = 10
    extra: Mapping[str, Any] = field(default_factory=dict)


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

    async def search_many(self, searches: Sequence[ScopedSearch]) -> list[dict[str, Any]]:
        """Run several searches, each for its own account, in one ``_msearch`` request.

        The responses come back in order; one that failed is a dict with an ``error`` key (and no ``hits``).
        """
        if not searches:
            return []
        lines: list[dict[str, Any]] = []
        for search in searches:
            scoped = {"bool": {"must": [search.query], "filter": [account_filter(search.account_id)]}}
            lines.append({})
            lines.append({"query": scoped, "size": search.size, **search.extra})
        result: dict[str, Any] = await self._client.msearch(index=self._index, body=lines)
        responses: list[dict[str, Any]] = result.get("responses", [])
        return responses

    async def count(self, account_id: str, query: dict[str, Any] | None = None) -> int:
        """Count one account's chunks matching ``query`` (all of them by default)."""
        scoped = {"bool": {"must": [query or {"match_all": {}}], "filter": [account_filter(account_id)]}}
        result = await self._client.count(index=self._index, body={"query": scoped})
        return int(result["count"])
