"""The extractive composer: sentence choice, framing by personality and role, citation rules."""

from __future__ import annotations

import pytest
from conversation_service.domain import texts
from conversation_service.domain.composer import Persona, compose, draft_answer, extract, frame
from conversation_service.domain.retrieval import Passage, analyze_question, rank_passages
from customer_agent_shared.events.config import AgentRole, Personality

BODY = (
    "Our shop is open every day. To reset your password, open Settings and choose Security. "
    "We send you a reset link. The link is valid for 24 hours. Shipping is free above 50 EUR."
)


def _passage(chunk_id: str, *, private: bool = False, citations_allowed: bool = True, language: str = "en") -> Passage:
    return Passage(
        chunk_id=chunk_id, score=5.0, title=f"Title {chunk_id}", url=f"https://x/{chunk_id}", body=BODY,
        language=language, private=private, citations_allowed=citations_allowed,
    )  # fmt: skip


def test_extract_takes_the_matching_sentences_in_order() -> None:
    passage = extract(analyze_question("How do I reset my password?", "en"), BODY)
    assert passage.startswith("To reset your password")
    assert "Shipping" not in passage
    assert "shop is open" not in passage


@pytest.mark.parametrize(
    ("private", "citations_allowed", "cited"),
    [(False, True, True), (True, True, False), (False, False, False), (True, False, False)],
)
def test_only_public_sources_with_citations_on_are_cited(private: bool, citations_allowed: bool, cited: bool) -> None:
    terms = analyze_question("How do I reset my password?", "en")
    ranked = rank_passages(terms, [_passage("a", private=private, citations_allowed=citations_allowed)])
    answer = compose(terms, ranked, persona=Persona(), language="en", greet=False)
    assert bool(answer.citations) is cited
    assert "To reset your password" in answer.text  # the content is still used


@pytest.mark.parametrize("personality", list(Personality))
@pytest.mark.parametrize("language", texts.TEXT_LANGUAGES)
def test_every_personality_greets_by_name_in_every_language(personality: Personality, language: str) -> None:
    text = frame("BODY", persona=Persona(name="Ada", personality=personality), language=language, greet=True,
                 other_language=False)  # fmt: skip
    lines = text.split("\n")
    assert "Ada" in lines[0]
    assert lines[1] == texts.INTRO[personality][language]
    assert lines[2] == "BODY"
    assert lines[3] == texts.CLOSING[AgentRole.CUSTOMER_SERVICE][language]


def test_personalities_and_roles_sound_different() -> None:
    framings = {
        frame("B", persona=Persona(personality=p, role=r), language="en", greet=True, other_language=False)
        for p in Personality
        for r in AgentRole
    }
    assert len(framings) == len(Personality) * len(AgentRole)


def test_a_passage_in_another_language_is_flagged_in_the_visitor_language() -> None:
    terms = analyze_question("Hvordan nulstiller jeg min adgangskode?", "da")
    ranked = rank_passages(terms, [_passage("a")])
    answer = compose(terms, ranked, persona=Persona(), language="da", greet=False)
    assert answer.language == "da"
    assert texts.OTHER_LANGUAGE_NOTE["da"] in answer.text
    assert texts.INTRO[Personality.FRIENDLY]["da"] in answer.text


def test_a_language_without_texts_is_labelled_english() -> None:
    terms = analyze_question("reset password", "fi")
    ranked = rank_passages(terms, [_passage("a")])
    answer = compose(terms, ranked, persona=Persona(), language="fi", greet=False)
    assert answer.language == "en"


def test_a_gaps_recommended_answer_is_the_nearest_extract_noted_in_the_gaps_language() -> None:
    terms = analyze_question("Hvordan nulstiller jeg min adgangskode?", "da")
    draft = draft_answer(terms, rank_passages(terms, [_passage("a")]), language="da")
    assert draft is not None
    assert "reset" in draft
    assert draft.endswith(texts.OTHER_LANGUAGE_NOTE["da"])
    assert draft_answer(terms, [], language="da") is None
