"""The built-in extractive composer: the best supported sentences, framed in the agent's voice."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from customer_agent_shared.events.config import AgentRole, Personality

from conversation_service.domain import texts
from conversation_service.domain.retrieval import QueryTerms, Ranked, StemIndex

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_SENTENCES = 2
MAX_PASSAGE_CHARS = 600
MAX_CITATIONS = 3


@dataclass(frozen=True)
class Persona:
    """Who speaks: the agent's name, role and personality."""

    name: str = "Customer Agent"
    role: AgentRole = AgentRole.CUSTOMER_SERVICE
    personality: Personality = Personality.FRIENDLY


@dataclass(frozen=True)
class SourceRef:
    """A source the visitor may be shown."""

    title: str
    url: str


@dataclass(frozen=True)
class ComposedAnswer:
    """An answer's text, the language it is labelled with, and its citations."""

    text: str
    language: str
    citations: tuple[SourceRef, ...]
    passage: str


def sentences(text: str) -> list[str]:
    """Split a passage into sentences (and lines), dropping empty ones."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _sentence_score(terms: QueryTerms, sentence: str) -> int:
    index = StemIndex(sentence)
    score = 0
    for term in terms.all_terms:
        options = (term, *terms.translations.get(term, ()))
        if any(index.contains(option) for option in options):
            score += 1
    score += sum(1 for english in terms.phrase_translations if index.contains(english))
    return score


def extract(terms: QueryTerms, text: str, *, max_sentences: int = MAX_SENTENCES) -> str:
    """The sentences of ``text`` that match the question best, in their original order."""
    parts = sentences(text)
    if not parts:
        return ""
    scored = [(_sentence_score(terms, part), position) for position, part in enumerate(parts)]
    best = sorted(scored, key=lambda item: (-item[0], item[1]))
    if best[0][0] == 0:
        chosen = list(range(min(max_sentences, len(parts))))
    else:
        chosen = sorted(position for score, position in best[:max_sentences] if score > 0)
        # A matching sentence is often followed by the one that completes it.
        if len(chosen) < max_sentences and chosen[-1] + 1 < len(parts):
            chosen.append(chosen[-1] + 1)
    passage = " ".join(parts[position] for position in chosen)
    if len(passage) > MAX_PASSAGE_CHARS:
        passage = passage[: MAX_PASSAGE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return passage


def citations_for(
    ranked: Sequence[Ranked], *, supporting_only: bool = True, limit: int = MAX_CITATIONS
) -> tuple[SourceRef, ...]:
    """Citations of the best passage and the other supporting ones (all with ``supporting_only`` off):
    only citable sources (citations on, not private), one per URL."""
    refs: list[SourceRef] = []
    seen: set[str] = set()
    for position, item in enumerate(ranked):
        if position > 0 and supporting_only and not item.supported:
            continue
        passage = item.passage
        if not passage.citable or passage.url in seen:
            continue
        seen.add(passage.url)
        refs.append(SourceRef(title=passage.title or passage.url, url=passage.url))
        if len(refs) >= limit:
            break
    return tuple(refs)


def frame(body: str, *, persona: Persona, language: str, greet: bool, other_language: bool) -> str:
    """Wrap an answer body in the agent's greeting, introduction and closing, in the visitor's language."""
    lines: list[str] = []
    if greet:
        lines.append(texts.greeting(persona.personality, language, persona.name))
    lines.append(texts.intro(persona.personality, language))
    lines.append(body)
    if other_language:
        lines.append(texts.pick(texts.OTHER_LANGUAGE_NOTE, language))
    lines.append(texts.closing(persona.role, language))
    return "\n".join(lines)


def compose(
    terms: QueryTerms,
    ranked: Sequence[Ranked],
    *,
    persona: Persona,
    language: str,
    greet: bool,
) -> ComposedAnswer:
    """Compose the extractive answer from the best passage (``ranked`` must not be empty)."""
    best = ranked[0].passage
    passage = best.text.strip() if best.is_short_answer else extract(terms, best.text)
    label = texts.text_language(language)
    text = frame(
        passage,
        persona=persona,
        language=label,
        greet=greet,
        other_language=bool(best.language) and best.language != language,
    )
    return ComposedAnswer(text=text, language=label, citations=citations_for(ranked), passage=passage)


def draft_answer(terms: QueryTerms, ranked: Sequence[Ranked], *, language: str) -> str | None:
    """A recommended answer for a knowledge gap, from the nearest passage (``None`` without one): its best
    sentences, noted in the gap's language when the passage is in another."""
    if not ranked:
        return None
    nearest = ranked[0].passage
    passage = nearest.text.strip() if nearest.is_short_answer else extract(terms, nearest.text)
    if not passage:
        return None
    label = texts.text_language(language)
    if nearest.language and nearest.language != language:
        return f"{passage}\n{texts.pick(texts.OTHER_LANGUAGE_NOTE, label)}"
    return passage
