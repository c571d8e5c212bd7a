"""Availability texts are chosen in the visitor's language, then the account's, then English."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.config import AvailabilityMessages, HandoffSettings
from routing_service.domain.handoff import Notice
from routing_service.domain.messages import BUILT_IN_TEXTS, notice_text


def texts(language: str) -> AvailabilityMessages:
    return AvailabilityMessages(
        available=f"{language}:available",
        away=f"{language}:away",
        at_capacity=f"{language}:at_capacity",
        outside_hours=f"{language}:outside_hours",
        handoff_unavailable=f"{language}:handoff_unavailable",
    )


SETTINGS = HandoffSettings(messages={"en": texts("en"), "da": texts("da"), "pt-BR": texts("pt-BR")})


@pytest.mark.parametrize(
    ("locale", "default_language", "expected_language"),
    [
        ("da-DK", "en", "da"),
        ("DA", "en", "da"),
        ("da_DK", "en", "da"),
        ("pt-BR", "en", "pt-BR"),
        ("fr-FR", "da", "da"),  # visitor language not configured: account default
        ("fr-FR", "fr", "en"),  # neither configured: English
        (None, "da", "da"),
    ],
)
def test_language_choice(locale: str | None, default_language: str, expected_language: str) -> None:
    for notice in Notice:
        text = notice_text(SETTINGS, notice, locale, default_language)
        assert text.language == expected_language
        assert text.text == f"{expected_language}:{notice.value}"


def test_built_in_english_when_nothing_is_configured() -> None:
    text = notice_text(HandoffSettings(), Notice.OUTSIDE_HOURS, "da-DK", "da")
    assert (text.language, text.text) == ("en", BUILT_IN_TEXTS.outside_hours)
