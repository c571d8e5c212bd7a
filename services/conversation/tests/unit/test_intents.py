"""Requests for a person and short feedback are recognised before retrieval."""

from __future__ import annotations

import pytest
from conversation_service.domain.intents import Intent, classify


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want to talk to a human", Intent.HUMAN_REQUEST),
        ("Can I speak to a person please?", Intent.HUMAN_REQUEST),
        ("Kan jeg tale med et menneske?", Intent.HUMAN_REQUEST),
        ("Jeg vil gerne tale med en medarbejder", Intent.HUMAN_REQUEST),
        ("Ik wil een medewerker spreken", Intent.HUMAN_REQUEST),
        ("Ich möchte mit einem Mitarbeiter sprechen", Intent.HUMAN_REQUEST),
        ("Je veux parler à quelqu'un", Intent.HUMAN_REQUEST),
        ("Quiero hablar con una persona", Intent.HUMAN_REQUEST),
        ("Thanks, that helped!", Intent.POSITIVE_FEEDBACK),
        ("Tusind tak", Intent.POSITIVE_FEEDBACK),
        ("That didn't help", Intent.NEGATIVE_FEEDBACK),
        ("Det hjalp ikke", Intent.NEGATIVE_FEEDBACK),
        ("Thanks, but how do I reset my password?", Intent.QUESTION),
        ("How do I reset my password?", Intent.QUESTION),
        ("Is the price per person?", Intent.QUESTION),
    ],
)
def test_classify(text: str, expected: Intent) -> None:
    assert classify(text) is expected
