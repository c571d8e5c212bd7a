"""The answer decision: a calibrated confidence over what the searches agree on, word support without vectors."""

from __future__ import annotations

import dataclasses

import pytest
from conversation_service.domain.confidence import (
    AnswerThresholds,
    ConfidenceModel,
    Evidence,
    decide,
    gather_evidence,
)
from conversation_service.domain.retrieval import Passage, Ranked


def _ranked(
    chunk_id: str,
    *,
    url: str,
    support: float,
    score: float = 0.0,
    similarity: float | None = None,
    language: str = "en",
) -> Ranked:
    passage = Passage(
        chunk_id=chunk_id, score=score, title=chunk_id, url=url, body="", language=language, similarity=similarity
    )
    return Ranked(passage, support, rank=0.0, supported=support >= 0.6)


def test_the_evidence_is_the_nearest_similarity_the_best_support_and_whether_the_searches_agree() -> None:
    ranked = [
        _ranked("a", url="https://x/a", support=0.8, score=5.0, similarity=0.84),
        _ranked("b", url="https://x/b", support=0.2, similarity=0.88),
    ]
    assert gather_evidence(ranked, language="en") == Evidence(
        similarity=0.88, support=0.8, agreement=False, cross_lingual=False
    )
    same_page = [_ranked("a", url="https://x/a", support=0.5, score=5.0, similarity=0.9)]
    evidence = gather_evidence(same_page, language="da")
    assert evidence is not None
    assert (evidence.agreement, evidence.cross_lingual) == (True, True)


def test_more_evidence_means_more_confidence() -> None:
    model = ConfidenceModel()
    weak = Evidence(similarity=0.80, support=0.1, agreement=False)
    stronger = [
        dataclasses.replace(weak, similarity=0.88),
        dataclasses.replace(weak, support=0.9),
        dataclasses.replace(weak, agreement=True),
    ]
    assert all(model.probability(other) > model.probability(weak) for other in stronger)
    assert 0.0 < model.probability(weak) < 1.0


@pytest.mark.parametrize(("threshold", "answers"), [(0.0, True), (0.999, False)])
def test_the_threshold_on_the_probability_decides(threshold: float, answers: bool) -> None:
    ranked = [_ranked("a", url="https://x/a", support=0.7, score=3.0, similarity=0.86)]
    decision = decide(ranked, AnswerThresholds(min_confidence=threshold), language="en")
    assert decision.answer is answers
    assert decision.evidence is not None
    assert decision.confidence == pytest.approx(ConfidenceModel().probability(decision.evidence))


@pytest.mark.parametrize(("support", "answers"), [(0.9, True), (0.6, True), (0.4, False)])
def test_without_any_vector_the_best_passage_word_support_decides_whatever_its_score(
    support: float, answers: bool
) -> None:
    # A raw BM25 score depends on every account's content in the shard, so it must not decide.
    ranked = [_ranked("a", url="https://x/a", support=support, score=50.0)]
    decision = decide(ranked, AnswerThresholds(min_support=0.6), language="en")
    assert (decision.answer, decision.confidence, decision.evidence) == (answers, support, None)


def test_nothing_found_is_not_answered() -> None:
    assert decide([], AnswerThresholds(), language="en").answer is False


def test_a_best_passage_without_its_vector_yet_is_judged_by_its_words() -> None:
    # Right after a sync some chunks have vectors and the page that answers may not: words decide for it.
    ranked = [
        _ranked("page", url="https://x/page", support=0.8, score=9.0),
        _ranked("other", url="https://x/other", support=0.1, similarity=0.75),
    ]
    decision = decide(ranked, AnswerThresholds(min_confidence=0.99, min_support=0.6), language="en")
    assert (decision.answer, decision.confidence, decision.evidence) == (True, 0.8, None)
