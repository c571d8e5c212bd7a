"""Remembered document frequencies: fresh ones replace the aggregation, stale or partial ones do not."""

from __future__ import annotations

from dataclasses import dataclass

from conversation_service.domain.retrieval import QueryTerms, analyze_question
from conversation_service.domain.term_statistics import TermStatistics


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


def _statistics(ttl: float = 60.0, **options: int) -> tuple[TermStatistics, Clock]:
    clock = Clock()
    return TermStatistics(ttl, clock=clock, **options), clock


PASSWORD = analyze_question("How do I reset my password?", "en")


def test_known_after_remember_until_they_expire() -> None:
    statistics, clock = _statistics()
    assert statistics.known("acc", PASSWORD) is None
    statistics.remember("acc", PASSWORD, {"reset": 3, "password": 7}, 40)
    assert statistics.known("acc", PASSWORD) == ({"reset": 3, "password": 7}, 40)
    clock.now += 59
    assert statistics.known("acc", PASSWORD) is not None
    clock.now += 2
    assert statistics.known("acc", PASSWORD) is None


def test_a_term_the_aggregation_did_not_count_is_remembered_as_absent() -> None:
    statistics, _ = _statistics()
    statistics.remember("acc", PASSWORD, {"reset": 3}, 40)
    assert statistics.known("acc", PASSWORD) == ({"reset": 3, "password": 0}, 40)


def test_one_unknown_term_means_asking_again() -> None:
    statistics, _ = _statistics()
    statistics.remember("acc", PASSWORD, {"reset": 3, "password": 7}, 40)
    assert statistics.known("acc", analyze_question("Can I reset my email?", "en")) is None


def test_accounts_languages_and_translations_are_kept_apart() -> None:
    statistics, _ = _statistics()
    statistics.remember("acc", PASSWORD, {"reset": 3, "password": 7}, 40)
    assert statistics.known("other", PASSWORD) is None
    same_words = QueryTerms(language="da", terms=PASSWORD.terms)
    assert statistics.known("acc", same_words) is None
    translated = QueryTerms(language="en", terms=PASSWORD.terms, translations={"reset": ("restore",)})
    assert statistics.known("acc", translated) is None


def test_zero_seconds_remembers_nothing() -> None:
    statistics, _ = _statistics(ttl=0.0)
    statistics.remember("acc", PASSWORD, {"reset": 3, "password": 7}, 40)
    assert statistics.known("acc", PASSWORD) is None


def test_the_oldest_terms_are_forgotten_first_past_the_limit() -> None:
    statistics, clock = _statistics(max_terms=3)
    statistics.remember("acc", PASSWORD, {"reset": 3, "password": 7}, 40)
    clock.now += 1
    refund = analyze_question("Where is my refund?", "en")
    statistics.remember("acc", refund, {"refund": 2}, 40)
    clock.now += 1
    statistics.remember("acc", analyze_question("Do you ship abroad?", "en"), {"ship": 1, "abroad": 1}, 40)
    assert statistics.known("acc", PASSWORD) is None  # its terms were the oldest
    assert statistics.known("acc", refund) == ({"refund": 2}, 40)
