"""Language choice: the locale decides, else detection from the text, else the account default."""

from __future__ import annotations

import pytest
from conversation_service.domain.language import (
    account_languages,
    choose_language,
    detect_language,
    language_of_locale,
)


@pytest.mark.parametrize(
    ("locale", "expected"),
    [("da-DK", "da"), ("nl_BE", "nl"), ("EN", "en"), ("nb-NO", "no"), ("", None), (None, None), ("x", None)],
)
def test_language_of_locale(locale: str | None, expected: str | None) -> None:
    assert language_of_locale(locale) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I reset my password?", "en"),
        ("Hvordan nulstiller jeg min adgangskode?", "da"),
        ("Hvor lang tid tager levering?", "da"),
        ("Hoe kan ik mijn wachtwoord resetten?", "nl"),
        ("Wanneer is de klantenservice open?", "nl"),
        ("Wie kann ich mein Passwort zurücksetzen?", "de"),
        ("Comment réinitialiser mon mot de passe ?", "fr"),
        ("¿Cómo restablezco mi contraseña?", "es"),
        ("Come posso reimpostare la mia password?", "it"),  # not French
        ("Como faço para redefinir minha senha?", "pt"),  # not Spanish
        ("Kan jag byta lösenord själv?", "sv"),
        ("12345 ???", None),
    ],
)
def test_detect_language(text: str, expected: str | None) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize(
    ("locale", "text", "default", "expected"),
    [
        ("da-DK", "How do I reset my password?", "en", "da"),  # the browser language wins
        (None, "Hoe kan ik mijn wachtwoord resetten?", "en", "nl"),
        (None, "1234", "de", "de"),
    ],
)
def test_choose_language(locale: str | None, text: str, default: str, expected: str) -> None:
    assert choose_language(locale, text, default) == expected


def test_the_account_languages_settle_close_neighbours() -> None:
    # Short Danish reads as Norwegian as often as not; an account that speaks Danish and not Norwegian decides.
    danish = "Kan jeg betale med kort?"
    assert detect_language(danish, ["da", "en"]) == "da"
    assert detect_language(danish, ["no", "en"]) == "no"
    assert choose_language(None, danish, "en", ["da", "en"]) == "da"


def test_one_account_language_does_not_restrict_detection() -> None:
    # An account that configured nothing but its default still answers a German visitor in German.
    assert choose_language(None, "Wie kann ich mein Passwort zurücksetzen?", "en", ["en"]) == "de"


def test_account_languages_are_the_default_and_the_configured_messages_primary_subtags() -> None:
    assert account_languages("en", ["da-DK", "nl", "xx-unknown", "EN"]) == ["da", "en", "nl"]
