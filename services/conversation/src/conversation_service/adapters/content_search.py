"""Reads the account's chunks from OpenSearch, always through ``AccountScopedSearch``."""

from __future__ import annotations

import logging
import math
import time
from array import array
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from contextvars import ContextVar
from typing import Any

from customer_agent_shared.content_index import (
    EMBEDDING_FIELD,
    EMBEDDING_MODEL_FIELD,
    AccountScopedSearch,
    ScopedSearch,
    account_filter,
    knn_query,
)
from customer_agent_shared.embeddings import Embedder
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import TransportError

from conversation_service import metrics
from conversation_service.domain.fusion import FusionWeights, cosine_from_score, fuse
from conversation_service.domain.retrieval import ContentUnavailableError, Passage, QueryTerms, Retrieval, build_query
from conversation_service.domain.term_statistics import (
    TermStatistics,
    frequency_aggregation,
    read_frequencies,
    term_weights,
)

logger = logging.getLogger(__name__)


MIN_FUSED_CANDIDATES = 10
# The vectors travel in ``_source`` but nothing here reads them: leave them out of every response.
_SOURCE_FILTER = {"excludes": [EMBEDDING_FIELD]}


def passage_from_hit(
    hit: dict[str, Any],
    *,
    dense: bool = False,
    question_vector: list[float] | None = None,
    model_id: str | None = None,
) -> Passage:
    """A search hit as a ``Passage`` (missing fields get safe defaults: private content is never citable).

    A hit of the vector search carries its cosine similarity instead of a BM25 score; a word-search hit
    whose stored vector is of ``model_id`` gets its similarity to ``question_vector`` too, so every
    candidate is judged on the same scale.
    """
    source: dict[str, Any] = hit.get("_source") or {}
    score = float(hit.get("_score") or 0.0)
    similarity = cosine_from_score(score) if dense else None
    stored = source.get(EMBEDDING_FIELD)
    comparable = (
        isinstance(stored, list)
        and question_vector is not None
        and source.get(EMBEDDING_MODEL_FIELD) == model_id
        and len(stored) == len(question_vector)
    )
    if similarity is None and comparable:
        assert question_vector is not None
        assert isinstance(stored, list)
        similarity = math.fsum(a * float(b) for a, b in zip(question_vector, stored, strict=True))
    return Passage(
        chunk_id=str(source.get("chunk_id") or hit.get("_id") or ""),
        score=0.0 if dense else score,
        similarity=similarity,
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
    """Hybrid search over one account's chunks: language-aware BM25 (with term frequencies in the same
    request) and, with an embedder, the nearest vectors of the question, fused into one ranking.

    ``prefetch`` runs the searches a batch of messages is expected to need in one ``_msearch``; a later
    ``retrieve`` of exactly the same search takes its result instead of asking again. OpenSearch spends
    most of a small search on the request itself, so one request for a batch costs a fraction of one
    request per message. Identical searches of one batch (the same account, question and size: visitors
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
        embedder: Embedder | None = None,
        dense_candidates: int = 20,
        fusion: FusionWeights | None = None,
        remembered_questions: int = 2048,
    ) -> None:
        self._search = AccountScopedSearch(client, index)
        self._weigh_terms = weigh_terms
        self._statistics = statistics or TermStatistics(0.0, clock=time.monotonic)
        self._embedder = embedder
        self._dense_candidates = dense_candidates
        self._fusion = fusion or FusionWeights()
        self._recent_vectors = RecentVectors(remembered_questions)
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
        [vector] = await self._vectors([terms])
        known = self._known_statistics(account_id, terms)
        try:
            responses = await self._search.search_many(self._requests(account_id, terms, size, known, vector))
        except OpenSearchConnectionError as error:
            raise ContentUnavailableError(f"content index unreachable: {error}") from error
        except TransportError as error:
            if isinstance(error.status_code, int) and error.status_code < 500 and error.status_code != 429:
                raise
            raise ContentUnavailableError(f"content index unavailable: {error}") from error
        lexical = responses[0]
        if _missing_index(lexical):
            return Retrieval([])
        if "error" in lexical:
            raise ContentUnavailableError(f"content search failed: {str(lexical['error'])[:300]}")
        return self._retrieval_from(account_id, terms, size, known, responses, vector)

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
        vectors = await self._vectors([terms for _, terms, _ in wanted.values()])
        known = [self._known_statistics(account_id, terms) for account_id, terms, _ in wanted.values()]
        requests: list[ScopedSearch] = []
        for (account_id, terms, size), statistics, vector in zip(wanted.values(), known, vectors, strict=True):
            requests += self._requests(account_id, terms, size, statistics, vector)
        try:
            responses = await self._search.search_many(requests)
        except (OpenSearchConnectionError, TransportError) as error:
            logger.warning("prefetching searches failed; each message searches alone", extra={"error": repr(error)})
            return
        prefetched: dict[Hashable, list[Retrieval]] = {}
        position = 0
        for (key, (account_id, terms, size)), statistics, vector in zip(wanted.items(), known, vectors, strict=True):
            count = 1 if vector is None else 2
            own = responses[position : position + count]
            position += count
            if "error" in own[0] or "hits" not in own[0]:
                continue  # a failed vector search alone still leaves the word search's result
            # Shared, not copied: a Retrieval is frozen and nothing downstream changes its passages.
            retrieval = self._retrieval_from(account_id, terms, size, statistics, own, vector)
            prefetched[key] = [retrieval] * expected[key]
        self._prefetched.set(prefetched)
        fetched = sum(map(len, prefetched.values()))
        metrics.PREFETCHED_SEARCHES.labels(outcome="fetched").inc(fetched)
        metrics.PREFETCHED_SEARCHES.labels(outcome="coalesced").inc(fetched - len(prefetched))

    async def _vectors(self, questions: Sequence[QueryTerms]) -> list[list[float] | None]:
        """Each question's vector, None without an embedder or when it fails (word search still answers).

        A question asked lately is not embedded again: visitors ask the same things, and a vector costs
        more than the search.
        """
        if self._embedder is None:
            return [None] * len(questions)
        texts = [terms.question for terms in questions]
        missing = list(dict.fromkeys(text for text in texts if self._recent_vectors.get(text) is None))
        computed: dict[str, list[float]] = {}
        if missing:
            started = time.perf_counter()
            try:
                vectors = await self._embedder.embed_queries(missing)
            except Exception as error:
                logger.warning("embedding the question failed; word search only", extra={"error": repr(error)[:300]})
                metrics.VECTOR_SEARCH_FAILURES.inc()
                return [None] * len(questions)
            metrics.QUESTION_EMBEDDING_SECONDS.observe(time.perf_counter() - started)
            for text, vector in zip(missing, vectors, strict=True):
                computed[text] = vector
                self._recent_vectors.put(text, vector)
        metrics.QUESTION_VECTORS.labels(outcome="embedded").inc(len(missing))
        metrics.QUESTION_VECTORS.labels(outcome="remembered").inc(len(texts) - len(missing))
        return [computed[text] if text in computed else self._recent_vectors.get(text) for text in texts]

    def _requests(
        self,
        account_id: str,
        terms: QueryTerms,
        size: int,
        known: tuple[dict[str, int], int] | None,
        vector: list[float] | None,
    ) -> list[ScopedSearch]:
        """The word search, then (with a vector) the vector search."""
        lexical = ScopedSearch(account_id, build_query(terms), size, self._extra(account_id, terms, known))
        if vector is None or self._embedder is None:
            return [lexical]
        dense_size = max(size, self._dense_candidates)
        nearest = knn_query(account_id, vector, k=dense_size, model_id=self._embedder.model_id)
        return [lexical, ScopedSearch(account_id, nearest, dense_size, {"_source": _SOURCE_FILTER})]

    def _known_statistics(self, account_id: str, terms: QueryTerms) -> tuple[dict[str, int], int] | None:
        if not self._weigh_terms or not terms.all_terms:
            return None
        return self._statistics.known(account_id, terms)

    def _extra(self, account_id: str, terms: QueryTerms, known: tuple[dict[str, int], int] | None) -> dict[str, Any]:
        # Nothing reads the number of matches: without counting them all, OpenSearch may skip the chunks
        # that cannot reach the top ``size`` (a large account's common words match thousands).
        extra: dict[str, Any] = {"track_total_hits": False}
        if self._embedder is None:
            extra["_source"] = _SOURCE_FILTER
        if self._weigh_terms and terms.all_terms and known is None:
            extra["aggs"] = {"frequencies": frequency_aggregation(terms, account_filter(account_id))}
        return extra

    def _retrieval_from(
        self,
        account_id: str,
        terms: QueryTerms,
        size: int,
        known: tuple[dict[str, int], int] | None,
        responses: Sequence[dict[str, Any]],
        vector: list[float] | None = None,
    ) -> Retrieval:
        lexical_result = responses[0]
        model_id = self._embedder.model_id if self._embedder else None
        passages = [
            passage_from_hit(hit, question_vector=vector, model_id=model_id)
            for hit in lexical_result.get("hits", {}).get("hits", [])
        ]
        if len(responses) > 1 and "hits" in responses[1]:
            nearest = [passage_from_hit(hit, dense=True) for hit in responses[1]["hits"].get("hits", [])]
            passages = fuse(passages, nearest, weights=self._fusion)[: max(size, MIN_FUSED_CANDIDATES)]
        elif len(responses) > 1:
            # Word search still answers: a vector search that fails (an index without vectors) degrades.
            logger.warning("vector search failed; word search only", extra={"error": str(responses[1])[:300]})
            metrics.VECTOR_SEARCH_FAILURES.inc()
        aggregation = lexical_result.get("aggregations", {}).get("frequencies")
        if isinstance(aggregation, dict):
            known = read_frequencies(aggregation)
            self._statistics.remember(account_id, terms, *known)
        weights = term_weights(*known) if known is not None else {}
        question_vector = tuple(vector) if vector is not None else None
        return Retrieval(passages, weights, question_vector=question_vector, vector_model=model_id)


class RecentVectors:
    """The vectors of the latest questions, least recently used forgotten first, stored compactly."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._vectors: OrderedDict[str, array[float]] = OrderedDict()

    def get(self, question: str) -> list[float] | None:
        """The remembered vector of ``question``, if any."""
        vector = self._vectors.get(question)
        if vector is None:
            return None
        self._vectors.move_to_end(question)
        return vector.tolist()

    def put(self, question: str, vector: list[float]) -> None:
        """Remember ``question``'s vector (single-precision, as OpenSearch keeps it)."""
        if self._capacity <= 0:
            return
        self._vectors[question] = array("f", vector)
        self._vectors.move_to_end(question)
        while len(self._vectors) > self._capacity:
            self._vectors.popitem(last=False)


def _missing_index(response: dict[str, Any]) -> bool:
    error = response.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


def _search_key(account_id: str, terms: QueryTerms, size: int) -> Hashable:
    return (account_id, size, terms.key)
