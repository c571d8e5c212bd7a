"""Reads the account's chunks from OpenSearch, always through ``AccountScopedSearch``."""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from contextvars import ContextVar
from typing import Any

from customer_agent_shared.content_index import AccountScopedSearch, ScopedSearch, account_filter
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import NotFoundError, TransportError

from conversation_service import metrics
from conversation_service.domain.retrieval import (
    ContentUnavailableError,
    Passage,
    QueryTerms,
    Retrieval,
    TermStatistics,
    build_query,
    frequency_aggregation,
    read_frequencies,
    term_weights,
)

logger = logging.getLogger(__name__)


def passage_from_hit(hit: dict[str, Any]) -> Passage:
    """A search hit as a ``Passage`` (missing fields get safe defaults: private content is never citable)."""
    source: dict[str, Any] = hit.get("_source") or {}
    return Passage(
        chunk_id=str(source.get("chunk_id") or hit.get("_id") or ""),
        score=float(hit.get("_score") or 0.0),
        title=str(source.get("title") or ""),
        url=str(source.get("url") or ""),
        body=str(source.get("body") or ""),
        language=str(source.get("language") or ""),
        source_kind=str(source.get("source_kind") or ""),
        section=str(source.get("section") or ""),
        question=str(source.get("question") or ""),
        answer=str(source.get("answer") or ""),
        private=bool(source.get("private", False)),
        citations_allowed=bool(source.get("citations_allowed", True)),
    )


class ContentSearch:
    """Language-aware BM25 over one account's chunks, with term frequencies in the same request.

    ``prefetch`` runs the searches a batch of messages is expected to need in one ``_msearch``; a later
    ``retrieve`` of exactly the same search takes its result instead of asking again. OpenSearch spends
    most of a small search on the request itself, so one request for a batch costs a fraction of one
    request per message. Identical searches of one batch (the same account, terms and size: visitors
    asking the same thing at once) are sent once and share the result, which is what each would have got
    alone from the same index. The prefetched results belong to the task that fetched them: batches
    handled at once (one task each) never take or drop each other's.
    """

    def __init__(
        self,
        client: AsyncOpenSearch,
        index: str,
        *,
        weigh_terms: bool = True,
        statistics: TermStatistics | None = None,
    ) -> None:
        self._search = AccountScopedSearch(client, index)
        self._weigh_terms = weigh_terms
        self._statistics = statistics or TermStatistics(0.0, clock=time.monotonic)
        self._prefetched: ContextVar[dict[Hashable, list[Retrieval]] | None] = ContextVar(
            f"prefetched_searches_{id(self)}", default=None
        )

    async def retrieve(self, account_id: str, terms: QueryTerms, size: int) -> Retrieval:
        """The best ``size`` chunks for the question and how specific each term is; empty without an index."""
        if terms.is_empty:
            return Retrieval([])
        prefetched = self._prefetched.get()
        ready = prefetched.get(_search_key(account_id, terms, size)) if prefetched else None
        if ready:
            metrics.PREFETCHED_SEARCHES.labels(outcome="used").inc()
            return ready.pop()
        known = self._known_statistics(account_id, terms)
        try:
            result = await self._search.search(
                account_id, build_query(terms), size=size, **self._extra(account_id, terms, known)
            )
        except NotFoundError:
            return Retrieval([])
        except OpenSearchConnectionError as error:
            raise ContentUnavailableError(f"content index unreachable: {error}") from error
        except TransportError as error:
            if isinstance(error.status_code, int) and error.status_code < 500:
                raise
            raise ContentUnavailableError(f"content index unavailable: {error}") from error
        return self._retrieval_from(account_id, terms, known, result)

    async def prefetch(self, searches: Sequence[tuple[str, QueryTerms, int]]) -> None:
        """Run the given retrievals in one request and keep their results for ``retrieve``.

        Results of an earlier prefetch that nobody took are dropped. A failure only logs: each ``retrieve``
        then asks on its own, with its own error handling.
        """
        self._prefetched.set(None)
        # One request per distinct search, with how many messages of the batch expect it.
        wanted: dict[Hashable, tuple[str, QueryTerms, int]] = {}
        expected: dict[Hashable, int] = {}
        for account_id, terms, size in searches:
            if terms.is_empty:
                continue
            key = _search_key(account_id, terms, size)
            wanted.setdefault(key, (account_id, terms, size))
            expected[key] = expected.get(key, 0) + 1
        if not wanted:
            return
        known = [self._known_statistics(account_id, terms) for account_id, terms, _ in wanted.values()]
        requests = [
            ScopedSearch(account_id, build_query(terms), size, self._extra(account_id, terms, statistics))
            for (account_id, terms, size), statistics in zip(wanted.values(), known, strict=True)
        ]
        try:
            responses = await self._search.search_many(requests)
        except (OpenSearchConnectionError, TransportError) as error:
            logger.warning("prefetching searches failed; each message searches alone", extra={"error": repr(error)})
            return
        prefetched: dict[Hashable, list[Retrieval]] = {}
        for (key, (account_id, terms, _)), statistics, response in zip(wanted.items(), known, responses, strict=False):
            if "error" in response or "hits" not in response:
                continue
            # Shared, not copied: a Retrieval is frozen and nothing downstream changes its passages.
            prefetched[key] = [self._retrieval_from(account_id, terms, statistics, response)] * expected[key]
        self._prefetched.set(prefetched)
        fetched = sum(map(len, prefetched.values()))
        metrics.PREFETCHED_SEARCHES.labels(outcome="fetched").inc(fetched)
        metrics.PREFETCHED_SEARCHES.labels(outcome="coalesced").inc(fetched - len(prefetched))

    def _known_statistics(self, account_id: str, terms: QueryTerms) -> tuple[dict[str, int], int] | None:
        if not self._weigh_terms or not terms.all_terms:
            return None
        return self._statistics.known(account_id, terms)

    def _extra(self, account_id: str, terms: QueryTerms, known: tuple[dict[str, int], int] | None) -> dict[str, Any]:
        # The whole _source, per-language copies included: naming the wanted fields makes OpenSearch build
        # a filter for every search, which costs it more (~0.3 ms a search) than reading the copies costs us.
        # Nothing reads the number of matches: without counting them all, OpenSearch may skip the chunks
        # that cannot reach the top ``size`` (a large account's common words match thousands).
        extra: dict[str, Any] = {"track_total_hits": False}
        if self._weigh_terms and terms.all_terms and known is None:
            extra["aggs"] = {"frequencies": frequency_aggregation(terms, account_filter(account_id))}
        return extra

    def _retrieval_from(
        self,
        account_id: str,
        terms: QueryTerms,
        known: tuple[dict[str, int], int] | None,
        result: dict[str, Any],
    ) -> Retrieval:
        passages = [passage_from_hit(hit) for hit in result.get("hits", {}).get("hits", [])]
        aggregation = result.get("aggregations", {}).get("frequencies")
        if isinstance(aggregation, dict):
            known = read_frequencies(aggregation)
            self._statistics.remember(account_id, terms, *known)
        if known is None:
            return Retrieval(passages)
        return Retrieval(passages, term_weights(*known))


def _search_key(account_id: str, terms: QueryTerms, size: int) -> Hashable:
    return (account_id, size, terms.key)
