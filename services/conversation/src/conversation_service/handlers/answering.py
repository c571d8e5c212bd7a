"""The answer pipeline shared by live threads and previews: retrieve, judge support, compose."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from conversation_service import metrics
from conversation_service.domain import texts
from conversation_service.domain.composer import ComposedAnswer, Persona, SourceRef, citations_for, compose
from conversation_service.domain.grounding import build_messages, parse_reply
from conversation_service.domain.retrieval import (
    AnswerThresholds,
    QueryTerms,
    Ranked,
    Retrieval,
    analyze_question,
    is_supported,
    rank_passages,
)

logger = logging.getLogger(__name__)
NEAREST_LIMIT = 3


class Retriever(Protocol):
    """Finds an account's passages for a question."""

    async def retrieve(self, account_id: str, terms: QueryTerms, size: int) -> Retrieval:
        """The best ``size`` passages and the weight of each question term."""
        ...

    async def prefetch(self, searches: Sequence[tuple[str, QueryTerms, int]]) -> None:
        """Fetch ahead, in one go, what ``retrieve`` will soon be asked for (account, terms, size)."""
        ...


class ChatModel(Protocol):
    """An OpenAI-compatible chat model."""

    async def complete(self, messages: list[dict[str, str]]) -> str:
        """The model's reply text (raises on failure)."""
        ...


@dataclass(frozen=True)
class AnswerPolicy:
    """Thresholds of the pipeline."""

    thresholds: AnswerThresholds = field(default_factory=AnswerThresholds)
    retrieval_size: int = 6


@dataclass(frozen=True)
class ExpectedQuestion:
    """A question the engine will probably be asked soon, with what its retrieval depends on."""

    account_id: str
    text: str
    language: str
    previous_questions: tuple[str, ...]


@dataclass(frozen=True)
class Attempt:
    """The outcome of trying to answer one question."""

    supported: bool
    answer: ComposedAnswer | None
    support: float  # the confidence the decision used: the best passage's similarity, or its word support
    nearest: tuple[SourceRef, ...]
    used_llm: bool = False


def nearest_content(ranked: Sequence[Ranked]) -> tuple[SourceRef, ...]:
    """The closest passages (for a knowledge gap), whether or not the visitor may see them."""
    refs: list[SourceRef] = []
    for item in ranked[:NEAREST_LIMIT]:
        passage = item.passage
        title = passage.title or passage.question or passage.chunk_id
        refs.append(SourceRef(title=title, url=passage.url))
    return tuple(refs)


class AnswerEngine:
    """Retrieval, the support decision, the extractive composer and the optional LLM."""

    def __init__(self, retriever: Retriever, policy: AnswerPolicy, llm: ChatModel | None = None) -> None:
        self._retriever = retriever
        self._policy = policy
        self._llm = llm

    async def prefetch(self, questions: Sequence[ExpectedQuestion]) -> None:
        """Retrieve for all ``questions`` in one request; ``answer`` then uses the results it matches."""
        size = self._policy.retrieval_size
        await self._retriever.prefetch(
            [
                (
                    question.account_id,
                    analyze_question(question.text, question.language, question.previous_questions),
                    size,
                )
                for question in questions
            ]
        )

    async def answer(
        self,
        account_id: str,
        question: str,
        *,
        language: str,
        previous_questions: Sequence[str],
        persona: Persona,
        greet: bool,
    ) -> Attempt:
        """Answer ``question`` from the account's content, or say why not."""
        terms = analyze_question(question, language, previous_questions)
        retrieval = await self._retriever.retrieve(account_id, terms, self._policy.retrieval_size)
        ranked = rank_passages(terms, retrieval.passages, weights=retrieval.weights, thresholds=self._policy.thresholds)
        best = ranked[0] if ranked else None
        if best is not None:
            metrics.RETRIEVAL_SUPPORT.observe(best.support)
            metrics.RETRIEVAL_SCORE.observe(best.passage.score)
            if best.passage.similarity is not None:
                metrics.RETRIEVAL_SIMILARITY.observe(best.passage.similarity)
        if best is None or not is_supported(best):
            confidence = best.confidence if best else 0.0
            return Attempt(supported=False, answer=None, support=confidence, nearest=nearest_content(ranked))
        composed = compose(terms, ranked, persona=persona, language=language, greet=greet)
        if self._llm is not None:
            generated = await self._generate(question, language, ranked, persona, greet)
            if generated is not None:
                return Attempt(True, generated, best.confidence, nearest_content(ranked), used_llm=True)
        return Attempt(True, composed, best.confidence, nearest_content(ranked))

    async def _generate(
        self, question: str, language: str, ranked: Sequence[Ranked], persona: Persona, greet: bool
    ) -> ComposedAnswer | None:
        assert self._llm is not None
        supporting = [item for item in ranked if item.supported] or list(ranked[:1])
        passages = [item.passage for item in supporting]
        label = texts.text_language(language)
        try:
            reply = await self._llm.complete(build_messages(question, label, passages, persona))
        except Exception as error:
            logger.warning("LLM failed; using the extractive answer", extra={"error": repr(error)[:300]})
            metrics.LLM_FALLBACKS.labels(reason="error").inc()
            metrics.LLM_REQUESTS.labels(outcome="fallback").inc()
            return None
        grounded = parse_reply(reply, len(passages))
        if grounded is None:
            logger.warning("LLM reply cites no given source; using the extractive answer")
            metrics.LLM_FALLBACKS.labels(reason="ungrounded").inc()
            metrics.LLM_REQUESTS.labels(outcome="fallback").inc()
            return None
        metrics.LLM_REQUESTS.labels(outcome="used").inc()
        cited = [supporting[index] for index in grounded.cited]
        lines = [texts.greeting(persona.personality, label, persona.name), grounded.text] if greet else [grounded.text]
        return ComposedAnswer(
            text="\n".join(lines),
            language=label,
            citations=citations_for(cited, supporting_only=False),
            passage=grounded.text,
        )
