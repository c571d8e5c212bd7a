"""Trigger words and phrases: whole words, any case, accents folded, any configured language."""

from __future__ import annotations

import pytest
from routing_service.domain.triggers import TriggerMatcher, fold

TRIGGERS = ["human", "talk to a person", "opérateur", "menneske", "Mitarbeiter", "hablar con un agente"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want a human", "human"),
        ("HUMAN please!", "human"),
        ("Can I TALK to a   person?", "talk to a person"),
        ("talk to a\nperson", "talk to a person"),
        ("je veux un operateur", "operateur"),  # accent in the trigger, none in the text
        ("JE VEUX UN OPÉRATEUR", "operateur"),
        ("Må jeg tale med et menneske?", "menneske"),
        ("Einen MITARBEITER bitte", "mitarbeiter"),
        ("Quiero hablar con un agénte", "hablar con un agente"),  # accent in the text only
        ("humanity is great", None),  # not a whole word
        ("inhuman", None),
        ("talk to a personal trainer", None),  # phrase must end on a word boundary
        ("person to a talk", None),  # words out of order
        ("menneskelig", None),
        ("", None),
    ],
)
def test_trigger_matching(text: str, expected: str | None) -> None:
    assert TriggerMatcher(TRIGGERS).match(text) == expected


def test_no_triggers_never_match() -> None:
    assert TriggerMatcher([]).match("human") is None
    assert TriggerMatcher(["  ", "!!"]).match("human !!") is None


def test_fold_strips_accents_and_case() -> None:
    assert fold("Crème Brûlée ÅÄÖ") == "creme brulee aao"
