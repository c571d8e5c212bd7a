"""System texts exist in six languages; the miss policy and the resolution rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from conversation_service.domain import texts
from conversation_service.domain.policy import MissOutcome, ResolutionFacts, is_resolved, misses_after, on_miss
from customer_agent_shared.events.config import AgentRole, Personality

REQUIRED = {"en", "da", "nl", "de", "fr", "es"}


@pytest.mark.parametrize(
    "table",
    [
        texts.REPHRASE_REQUEST,
        texts.HANDOFF_NOTICE,
        texts.FEEDBACK_THANKS,
        texts.OTHER_LANGUAGE_NOTE,
        *texts.GREETING.values(),
        *texts.INTRO.values(),
        *texts.CLOSING.values(),
    ],
)
def test_every_system_text_exists_in_the_six_languages(table: dict[str, str]) -> None:
    assert set(table) >= REQUIRED
    assert all(table[language].strip() for language in REQUIRED)
    assert len({table[language] for language in REQUIRED}) == len(REQUIRED)  # really translated


def test_tables_cover_every_personality_and_role() -> None:
    assert set(texts.GREETING) == set(Personality) == set(texts.INTRO)
    assert set(texts.CLOSING) == set(AgentRole)


def test_missing_language_falls_back_to_english() -> None:
    assert texts.pick(texts.REPHRASE_REQUEST, "fi") == texts.REPHRASE_REQUEST["en"]
    assert texts.text_language("fi") == "en"
    assert texts.text_language("da") == "da"


@pytest.mark.parametrize(
    ("misses_before", "outcome", "misses_then"),
    [(0, MissOutcome.REPHRASE, 1), (1, MissOutcome.CANNOT_ANSWER, 0), (3, MissOutcome.CANNOT_ANSWER, 0)],
)
def test_first_miss_rephrases_second_gives_up(misses_before: int, outcome: MissOutcome, misses_then: int) -> None:
    assert on_miss(misses_before) is outcome
    assert misses_after(outcome, misses_before) == misses_then


def test_an_answer_resets_the_miss_counter() -> None:
    assert misses_after(None, 1) == 0


NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def _facts(
    *, replied: bool = True, handed_off: bool = False, negative: bool = False, quiet: int = 99, resolved: bool = False
) -> ResolutionFacts:
    return ResolutionFacts(
        agent_replied=replied, handed_off=handed_off, negative_feedback=negative,
        last_message_at=NOW - timedelta(hours=quiet), resolved=resolved,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("facts", "hours", "expected"),
    [
        (_facts(quiet=73), 72, True),
        (_facts(quiet=71), 72, False),
        (_facts(quiet=5), 4, True),  # the account's own rule
        (_facts(replied=False), 72, False),
        (_facts(handed_off=True), 72, False),
        (_facts(negative=True), 72, False),
        (_facts(resolved=True), 72, False),
    ],
)
def test_resolution_rule(facts: ResolutionFacts, hours: int, expected: bool) -> None:
    assert is_resolved(facts, NOW, hours) is expected
