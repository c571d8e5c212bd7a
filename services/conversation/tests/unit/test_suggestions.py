"""A declined question near its answer offers the nearest pages with the rephrase request."""

from __future__ import annotations

from collections.abc import Sequence

from conversation_service.domain import texts
from conversation_service.domain.composer import Persona, SourceRef
from conversation_service.domain.model import TurnDecision, TurnOutcome
from conversation_service.domain.retrieval import Passage, QueryTerms, Retrieval
from conversation_service.handlers.answering import AnswerEngine, AnswerPolicy, Attempt
from conversation_service.handlers.replies import reply_for

HELP = "https://help.example.com"
PASSWORD = Passage(
    chunk_id="p",
    score=5.0,
    title="Passwords",
    url=f"{HELP}/password",
    body="Reset your password in Settings.",
    language="en",
)
PRIVATE = Passage(
    chunk_id="q",
    score=4.0,
    title="Internal",
    url=f"{HELP}/internal",
    body="Password policy.",
    language="en",
    private=True,
)


class StaticRetriever:
    """The same passages for every question."""

    async def retrieve(self, account_id: str, terms: QueryTerms, size: int) -> Retrieval:
        """The fixed passages."""
        return Retrieval([PASSWORD, PRIVATE])

    async def prefetch(self, searches: Sequence[tuple[str, QueryTerms, int]]) -> None:
        """Nothing to fetch ahead."""


async def _attempt(question: str, policy: AnswerPolicy) -> Attempt:
    engine = AnswerEngine(StaticRetriever(), policy)
    return await engine.answer("acc", question, language="en", previous_questions=(), persona=Persona(), greet=False)


async def test_a_question_half_supported_is_declined_with_the_citable_nearest_pages() -> None:
    attempt = await _attempt("How do I reset bitcoin?", AnswerPolicy())  # word support 1/2: below 0.6, above 0.3
    assert not attempt.supported
    assert [ref.url for ref in attempt.suggestions] == [PASSWORD.url]  # the private page is never offered


async def test_nothing_is_offered_below_the_floor_or_when_offers_are_off() -> None:
    assert (await _attempt("Can I pay with seashells?", AnswerPolicy())).suggestions == ()  # support 0
    off = AnswerPolicy(suggested_pages=0)
    assert (await _attempt("How do I reset bitcoin?", off)).suggestions == ()


def test_the_rephrase_request_names_the_offered_pages_in_the_visitors_language() -> None:
    page = SourceRef(title="Passwords", url=PASSWORD.url)
    rephrase = TurnDecision(TurnOutcome.REPHRASE, miss_count=1)
    reply = reply_for(rephrase, Attempt(False, None, 0.4, (), suggestions=(page,)), "da", handoff_notice=False)
    assert reply.text == f"{texts.REPHRASE_REQUEST['da']}\n{texts.RELATED_PAGES['da']}"
    assert reply.citations == (page,)
    plain = reply_for(rephrase, Attempt(False, None, 0.1, ()), "da", handoff_notice=False)
    assert plain.text == texts.REPHRASE_REQUEST["da"]
    assert plain.citations == ()


def test_every_text_language_has_the_offer_sentence() -> None:
    assert set(texts.TEXT_LANGUAGES) <= set(texts.RELATED_PAGES)
