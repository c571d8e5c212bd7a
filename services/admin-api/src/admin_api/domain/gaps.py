"""Knowledge gaps: unanswered questions grouped by similarity, with a drafted answer."""

from __future__ import annotations

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


@dataclass(frozen=True)
class GapCandidate:
    """An open gap to compare a new question with."""

    gap_id: str
    normalized_question: str


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


def matching_gap(normalized: str, candidates: Iterable[GapCandidate]) -> str | None:
    """The id of the most similar open gap at or above the threshold, or None for a new gap."""
    best_id, best_score = None, SIMILARITY_THRESHOLD
    for candidate in candidates:
        score = similarity(normalized, candidate.normalized_question)
        if score >= best_score and (best_id is None or score > best_score):
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


def draft_answer(question: str, nearest_content: list[Citation]) -> str | None:
    """A recommended answer to start from, pointing at the closest content; None without content."""
    if not nearest_content:
        return None
    first = nearest_content[0]
    others = [citation.title or citation.url for citation in nearest_content[1:3]]
    draft = f"Answer to “{question.strip()}”: see “{first.title or first.url}” ({first.url})."
    if others:
        draft += " Related: " + "; ".join(f"“{title}”" for title in others) + "."
    return draft


def recommended_answer(*, question: str, status: str, nearest_content: list[Citation]) -> str | None:
    """The drafted answer an open gap shows; a resolved gap already has its answer."""
    return draft_answer(question, nearest_content) if status == "open" else None
