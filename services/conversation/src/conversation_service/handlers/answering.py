"""The answer pipeline shared by live threads and previews: retrieve, decide, compose."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import tenacity

from conversation_service import metrics
from conversation_service.domain import texts
from conversation_service.domain.composer import (
    ComposedAnswer,
    Persona,
    SourceRef,
    citations_for,
    compose,
    draft_answer,
)
from conversation_service.domain.confidence import AnswerThresholds, Evidence, decide
from conversation_service.domain.gap_drafts import DraftSource, draft_sources
from conversation_service.domain.grounding import build_messages, parse_reply
from conversation_service.domain.lexicon import GLOSSARY_ONLY, Lexicon
from conversation_service.domain.links import cited_links, restrict_links
from conversation_service.domain.policy import SUGGEST_MIN_CONFIDENCE, SUGGESTED_PAGES
from conversation_service.domain.retrieval import (
    LEXICAL_SHARE,
    QueryTerms,
    Ranked,
    Retrieval,
    analyze_question,
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
    llm_retry_seconds: float = 0.3
    lexical_share: float = LEXICAL_SHARE
    suggested_pages: int = SUGGESTED_PAGES
    suggest_min_confidence: float = SUGGEST_MIN_CONFIDENCE


@dataclass(frozen=True)
class ExpectedQuestion:
    """A question the engine will probably be asked soon, with what its retrieval depends on."""

    account_id: str
    text: str
    language: str
    previous_questions: tuple[str, ...]


@dataclass(frozen=True)
class Judgement:
    """How to judge a question: its language, who speaks, and the least confidence to answer."""

    language: str
    persona: Persona
    min_confidence: float | None = None  # None: the service's tuned threshold
    greet: bool = False


@dataclass(frozen=True)
class Attempt:
    """The outcome of trying to answer one question."""

    supported: bool
    answer: ComposedAnswer | None
    confidence: float  # the calibrated confidence the decision used, or the word support without vectors
    nearest: tuple[SourceRef, ...]
    used_llm: bool = False
    evidence: Evidence | None = None
    draft: str | None = None
    """For a declined question: a recommended answer from the nearest content, for the knowledge gap."""
    draft_sources: tuple[DraftSource, ...] = ()
    """For a declined question: the nearest passages an LLM may draft the gap's answer from."""
    question_vector: tuple[float, ...] | None = None
    vector_model: str | None = None
    suggestions: tuple[SourceRef, ...] = ()
    """For a declined question likely near its answer: the nearest citable pages, offered as maybe helpful."""


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

    def __init__(
        self,
        retriever: Retriever,
        policy: AnswerPolicy,
        llm: ChatModel | None = None,
        *,
        lexicon: Lexicon = GLOSSARY_ONLY,
    ) -> None:
        self._retriever = retriever
        self._policy = policy
        self._llm = llm
        self._lexicon = lexicon

    def _terms(self, question: str, language: str, previous_questions: Sequence[str]) -> QueryTerms:
        return analyze_question(question, language, previous_questions, lexicon=self._lexicon)

    async def _complete_with_one_retry(self, messages: list[dict[str, str]]) -> str:
        """The model's reply; a failure is retried once after a short, jittered pause (a blip in a
        hosted API is common, and the visitor is better served by the model than by the extract)."""
        assert self._llm is not None
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(2),
            wait=tenacity.wait_random_exponential(multiplier=self._policy.llm_retry_seconds, max=2.0),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._llm.complete(messages)
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    async def prefetch(self, questions: Sequence[ExpectedQuestion]) -> None:
        """Retrieve for all ``questions`` in one request; ``answer`` then uses the results it matches."""
        size = self._policy.retrieval_size
        await self._retriever.prefetch(
            [
                (
                    question.account_id,
                    self._terms(question.text, question.language, question.previous_questions),
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
        min_confidence: float | None = None,
        recent_turns: Sequence[tuple[str, str]] = (),
    ) -> Attempt:
        """Answer ``question`` from the account's content, or say why not (``min_confidence``: the
        account's own threshold instead of the service's)."""
        terms = self._terms(question, language, previous_questions)
        retrieval = await self._retriever.retrieve(account_id, terms, self._policy.retrieval_size)
        ranked, attempt = self._judge(terms, retrieval, Judgement(language, persona, min_confidence, greet))
        if ranked:
            best = ranked[0]
            metrics.RETRIEVAL_SUPPORT.observe(best.support)
            metrics.RETRIEVAL_SCORE.observe(best.passage.score)
            metrics.ANSWER_CONFIDENCE.observe(attempt.confidence)
        if not attempt.supported or self._llm is None:
            return attempt
        generated = await self._generate(question, language, ranked, persona, greet, recent_turns)
        if generated is None:
            return attempt
        return Attempt(True, generated, attempt.confidence, attempt.nearest, True, attempt.evidence)

    async def replay(
        self, account_id: str, question: str, *, previous_questions: Sequence[str], judgements: Sequence[Judgement]
    ) -> list[Attempt]:
        """The extractive attempt under each judgement, searching once per language; never a model call
        (a replay of hundreds of questions must cost nothing) and never counted in the answer metrics."""
        searched: dict[str, tuple[QueryTerms, Retrieval]] = {}
        attempts: list[Attempt] = []
        for judgement in judgements:
            if judgement.language not in searched:
                terms = self._terms(question, judgement.language, previous_questions)
                retrieval = await self._retriever.retrieve(account_id, terms, self._policy.retrieval_size)
                searched[judgement.language] = (terms, retrieval)
            attempts.append(self._judge(*searched[judgement.language], judgement)[1])
        return attempts

    def _judge(self, terms: QueryTerms, retrieval: Retrieval, judgement: Judgement) -> tuple[list[Ranked], Attempt]:
        """Rank the passages, decide, and compose the extractive answer (or the knowledge gap's draft)."""
        thresholds = self._policy.thresholds
        if judgement.min_confidence is not None:
            thresholds = dataclasses.replace(thresholds, min_confidence=judgement.min_confidence)
        ranked = rank_passages(
            terms,
            retrieval.passages,
            weights=retrieval.weights,
            min_support=thresholds.min_support,
            lexical_share=self._policy.lexical_share,
        )
        language = judgement.language
        decision = decide(ranked, thresholds, language=language)
        if not ranked or not decision.answer:
            declined = Attempt(
                False,
                None,
                decision.confidence,
                nearest_content(ranked),
                evidence=decision.evidence,
                draft=draft_answer(terms, ranked, language=language),
                draft_sources=draft_sources(ranked),
                question_vector=retrieval.question_vector,
                vector_model=retrieval.vector_model,
                suggestions=self._suggestions(ranked, decision.confidence),
            )
            return ranked, declined
        composed = compose(terms, ranked, persona=judgement.persona, language=language, greet=judgement.greet)
        return ranked, Attempt(True, composed, decision.confidence, nearest_content(ranked), evidence=decision.evidence)

    def _suggestions(self, ranked: Sequence[Ranked], confidence: float) -> tuple[SourceRef, ...]:
        """The nearest citable pages of a declined question, when its confidence says they may well help."""
        if self._policy.suggested_pages <= 0 or confidence < self._policy.suggest_min_confidence:
            return ()
        return citations_for(ranked, supporting_only=False, limit=self._policy.suggested_pages)

    async def _generate(
        self,
        question: str,
        language: str,
        ranked: Sequence[Ranked],
        persona: Persona,
        greet: bool,
        recent_turns: Sequence[tuple[str, str]],
    ) -> ComposedAnswer | None:
        assert self._llm is not None
        # The best passage always: the decision may rest on its meaning while its words differ.
        supporting = [ranked[0], *(item for item in ranked[1:] if item.supported)]
        passages = [item.passage for item in supporting]
        label = texts.text_language(language)
        messages = build_messages(question, label, passages, persona, recent_turns)
        try:
            reply = await self._complete_with_one_retry(messages)
        except Exception as error:
            logger.warning("LLM failed twice; using the extractive answer", extra={"error": repr(error)[:300]})
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
        # The model may link only to the sources it cites: their pages, or addresses written in their text.
        allowed = cited_links((item.passage.url if item.passage.citable else "", item.passage.text) for item in cited)
        answer_text = restrict_links(grounded.text, allowed)
        lines = [texts.greeting(persona.personality, label, persona.name), answer_text] if greet else [answer_text]
        return ComposedAnswer(
            text="\n".join(lines),
            language=label,
            citations=citations_for(cited, supporting_only=False),
            passage=answer_text,
        )
