"""Knowledge gaps: unanswered questions grouped by similarity, with a drafted answer."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from customer_agent_shared.events.channels import Citation

SIMILARITY_THRESHOLD = 0.6
_WORD = re.compile(r"\w+", re.UNICODE)
# A few function words in the default languages; they say nothing about the topic.
STOPWORDS = frozenset(
    " ".join(
        (
            "a an the is are do does did i my me you your we our to of in on for and or how what can could",
            "please with it this that be at by from",
            "jeg min mit du din vi vores er en et og at til på hvordan hvad kan",
            "ik mijn je jij het een de en hoe wat kan van op",
            "ich mein meine du dein wir unser ist ein eine der die das und wie was kann zu",
            "je mon ma vous votre nous est un une le la les et comment quoi peux de du",
            "yo mi tu su es un una el la los las y como qué puedo de en",
        )
    ).split()
)


DRAFTED_BY_EXTRACT = "extract"
DRAFTED_BY_MODEL = "llm"

VECTOR_THRESHOLD = 0.92
"""Cosine of two questions' vectors (multilingual-e5-small) above which they are one gap, in any language.

Chosen on bench/quality's dev questions: over pairs on one corpus, those about the same pages merge with
precision 0.8 at 0.92 (0.43 at 0.90); the vectors group near-identical questions, not merely related ones."""


@dataclass(frozen=True)
class GapCandidate:
    """An open gap to compare a new question with."""

    gap_id: str
    normalized_question: str
    embedding: tuple[float, ...] | None = None
    embedding_model: str | None = None


@dataclass(frozen=True)
class AskedQuestion:
    """A question the agent could not answer, as the gap grouping sees it."""

    normalized: str
    embedding: tuple[float, ...] | None = None
    embedding_model: str | None = None


def normalize_question(question: str) -> str:
    """Lower-case words without punctuation, single-spaced."""
    return " ".join(_WORD.findall(question.casefold()))


def question_terms(normalized: str) -> frozenset[str]:
    """The content words of a normalized question (all words if it has only function words)."""
    words = normalized.split()
    terms = frozenset(word for word in words if word not in STOPWORDS)
    return terms or frozenset(words)


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of two normalized questions' content words, 0..1."""
    if first == second:
        return 1.0
    a, b = question_terms(first), question_terms(second)
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def cosine(first: tuple[float, ...], second: tuple[float, ...]) -> float:
    """Cosine similarity of two vectors of one length (0 for mismatched or zero vectors)."""
    if len(first) != len(second) or not first:
        return 0.0
    dot = sum(a * b for a, b in zip(first, second, strict=True))
    norms = math.sqrt(sum(a * a for a in first)) * math.sqrt(sum(b * b for b in second))
    return dot / norms if norms else 0.0


def _score(question: AskedQuestion, candidate: GapCandidate) -> float:
    """How alike a question and a gap are: shared words, or their vectors when both have one of one model."""
    words = similarity(question.normalized, candidate.normalized_question)
    if words >= SIMILARITY_THRESHOLD:
        return words
    comparable = (
        question.embedding is not None
        and candidate.embedding is not None
        and question.embedding_model == candidate.embedding_model
    )
    if comparable:
        assert question.embedding is not None
        assert candidate.embedding is not None
        closeness = cosine(question.embedding, candidate.embedding)
        if closeness >= VECTOR_THRESHOLD:
            return closeness
    return 0.0


def matching_gap(question: AskedQuestion, candidates: Iterable[GapCandidate]) -> str | None:
    """The id of the most alike open gap (by words, else by meaning across languages), or None for a new gap."""
    best_id, best_score = None, 0.0
    for candidate in candidates:
        score = _score(question, candidate)
        if score > best_score:
            best_id, best_score = candidate.gap_id, score
    return best_id


def merge_nearest_content(existing: list[Citation], new: list[Citation], limit: int = 5) -> list[Citation]:
    """Keep the distinct nearest content (by URL), newest first, at most ``limit``."""
    merged: list[Citation] = []
    seen: set[str] = set()
    for citation in [*new, *existing]:
        if citation.url not in seen:
            seen.add(citation.url)
            merged.append(citation)
    return merged[:limit]


def recommended_answer(*, status: str, drafted: str | None) -> str | None:
    """The drafted answer an open gap shows (conversation's extract of the nearest content, or the LLM's draft
    in the gap's language); a resolved or dismissed gap shows none."""
    return drafted if status == "open" else None


def takes_model_draft(*, status: str, gap_language: str | None, drafted_by: str | None, draft_language: str) -> bool:
    """Whether the LLM's draft for one of a gap's questions becomes the gap's recommended answer: only an open
    gap's, in its language, in place of an extract or nothing (a model's earlier draft stays, so the answer an
    admin is reading does not change under them)."""
    same_language = gap_language is None or _primary(gap_language) == _primary(draft_language)
    return status == "open" and drafted_by != DRAFTED_BY_MODEL and same_language


def _primary(language: str) -> str:
    return language.split("-")[0].casefold()
