"""How specific each question word is in an account's content, and remembering it between questions."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from typing import Any

from conversation_service.domain.retrieval import QueryTerms, TermWeights, english_fields_for, fields_for


def term_weights(document_frequencies: dict[str, int], total: int) -> TermWeights:
    """IDF-like weights: a term few of the account's chunks contain (or none) counts the most."""
    return {term: math.log((total + 1.0) / (frequency + 0.5)) + 1.0 for term, frequency in document_frequencies.items()}


def frequency_aggregation(terms: QueryTerms, account_filter: dict[str, Any]) -> dict[str, Any]:
    """An aggregation counting, over all of the account's chunks, those that contain each question term."""
    native_fields = [
        *fields_for(terms.language, "title"),
        *fields_for(terms.language, "body"),
        *fields_for(terms.language, "question"),
    ]
    filters: dict[str, Any] = {}
    for term in terms.all_terms:
        should: list[dict[str, Any]] = [{"multi_match": {"query": term, "fields": native_fields}}]
        english = " ".join(terms.translations.get(term, ()))
        if english:
            english_fields = [*english_fields_for("title"), *english_fields_for("body")]
            should.append({"multi_match": {"query": english, "fields": english_fields}})
        filters[term] = {"bool": {"should": should, "minimum_should_match": 1}}
    return {
        "global": {},
        "aggs": {"account": {"filter": account_filter, "aggs": {"terms": {"filters": {"filters": filters}}}}},
    }


def read_frequencies(aggregation: dict[str, Any]) -> tuple[dict[str, int], int]:
    """Document frequency per term and the account's chunk count, from ``frequency_aggregation``'s result."""
    account = aggregation.get("account")
    if not isinstance(account, dict):
        return {}, 0
    buckets = account.get("terms", {}).get("buckets", {})
    frequencies = {term: int(bucket.get("doc_count", 0)) for term, bucket in buckets.items()}
    return frequencies, int(account.get("doc_count", 0))


class TermStatistics:
    """Remembered document frequencies of an account's terms, so most questions need no aggregation.

    They change only when the account's content does, slowly and by little, and a weight only ranks a
    term against the question's other terms; asking OpenSearch for them costs about as much as the
    search itself. Entries expire after ``ttl_seconds`` (0 remembers nothing); past ``max_terms`` the
    oldest entries are forgotten first.
    """

    def __init__(self, ttl_seconds: float, *, max_terms: int = 100_000, clock: Callable[[], float]) -> None:
        self._ttl = ttl_seconds
        self._max_terms = max_terms
        self._clock = clock
        self._terms: dict[Hashable, tuple[float, int]] = {}
        self._totals: dict[str, tuple[float, int]] = {}

    def known(self, account_id: str, terms: QueryTerms) -> tuple[dict[str, int], int] | None:
        """The frequency of every term of ``terms`` and the account's chunk count, or None if any is not fresh."""
        if self._ttl <= 0:
            return None
        oldest = self._clock() - self._ttl
        total = self._totals.get(account_id)
        if total is None or total[0] < oldest:
            return None
        frequencies: dict[str, int] = {}
        for term in terms.all_terms:
            entry = self._terms.get(_statistics_key(account_id, terms, term))
            if entry is None or entry[0] < oldest:
                return None
            frequencies[term] = entry[1]
        return frequencies, total[1]

    def remember(self, account_id: str, terms: QueryTerms, frequencies: dict[str, int], total: int) -> None:
        """Keep what an aggregation over ``terms`` returned."""
        if self._ttl <= 0:
            return
        now = self._clock()
        self._totals[account_id] = (now, total)
        for term in terms.all_terms:
            key = _statistics_key(account_id, terms, term)
            self._terms.pop(key, None)  # re-inserted last: the dict's order is oldest first
            self._terms[key] = (now, frequencies.get(term, 0))
        while len(self._terms) > self._max_terms:
            del self._terms[next(iter(self._terms))]
        if len(self._totals) > self._max_terms:
            self._totals.clear()


def _statistics_key(account_id: str, terms: QueryTerms, term: str) -> Hashable:
    # The aggregation counts a term in its language's fields or through its English translations.
    return (account_id, terms.language, term, terms.translations.get(term, ()))
