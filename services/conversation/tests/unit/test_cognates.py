"""Cognates let a foreign question word match the content's spelling of it."""

from __future__ import annotations

import pytest
from conversation_service.domain.retrieval import StemIndex, analyze_question, edit_distance, support

SHIPPING = "Standard delivery to Denmark takes three to five days and costs 49 DKK."


@pytest.mark.parametrize(
    ("first", "second", "limit", "expected"),
    [
        ("danmark", "denmark", 1, 1),
        ("produkt", "product", 1, 1),
        ("adresse", "address", 2, 2),
        ("kitten", "sitting", 2, 3),
    ],
)
def test_edit_distance_is_bounded(first: str, second: str, limit: int, expected: int) -> None:
    assert edit_distance(first, second, limit) == expected


@pytest.mark.parametrize(
    ("term", "matches"),
    [("danmark", True), ("denmarks", True), ("bitcoin", False), ("dan", False), ("kanmark", False)],
)
def test_cognates_need_the_same_first_letter_and_few_edits(term: str, matches: bool) -> None:
    assert StemIndex(SHIPPING).contains_cognate(term) is matches


def test_a_danish_question_over_an_english_page_is_fully_supported() -> None:
    terms = analyze_question("Hvor lang tid tager levering til Danmark?", "da")
    assert support(terms, SHIPPING) == 1.0


def test_cognates_are_not_used_for_english_questions() -> None:
    terms = analyze_question("How long does delivery to Danmark take?", "en")
    assert support(terms, SHIPPING) < 1.0
