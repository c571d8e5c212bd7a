"""Question terms, cross-lingual expansion, follow-ups, the query body and the support measure."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from conversation_service.adapters.content_search import passage_from_hit
from conversation_service.domain.lexicon import GLOSSARY_ONLY, SUPPORT_GLOSSARY, parse_glossary
from conversation_service.domain.retrieval import (
    Passage,
    analyze_question,
    build_query,
    content_terms,
    effective_weights,
    rank_passages,
    support,
)
from conversation_service.domain.term_statistics import frequency_aggregation, read_frequencies, term_weights

PASSWORD_PAGE = "Reset your password. To reset your password open Settings. The reset link is valid for 24 hours."


def _passage(chunk_id: str, body: str, score: float = 5.0, **fields: object) -> Passage:
    return Passage(
        chunk_id=chunk_id, score=score, title=str(fields.pop("title", "")), url=f"https://x/{chunk_id}", body=body,
        language="en", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How do I reset my password?", ("reset", "password")),
        ("How long does it take?", ()),
        ("Hvordan nulstiller jeg min adgangskode?", ("nulstiller", "adgangskode")),
    ],
)
def test_content_terms(text: str, expected: tuple[str, ...]) -> None:
    assert content_terms(text) == expected


@pytest.mark.parametrize(
    ("token", "language", "expected"),
    [
        ("adgangskode", "da", ("password",)),
        ("nulstiller", "da", ("reset",)),
        ("wachtwoord", "nl", ("password",)),
        ("leveringstid", "da", ("delivery", "shipping")),
        ("bezorging", "nl", ("delivery", "shipping")),
        ("rückerstattung", "de", ("refund",)),
        ("contraseña", "es", ("password",)),
        ("restablezco", "es", ("reset",)),
        ("password", "en", ()),  # English needs no translation
        ("zzzz", "da", ()),
    ],
)
def test_the_glossary_translates_support_vocabulary(token: str, language: str, expected: tuple[str, ...]) -> None:
    assert GLOSSARY_ONLY.translate_token(token, language) == expected


@pytest.mark.parametrize(
    ("question", "language", "expected"),
    [
        ("How do I reset my password?", "en", 1.0),
        ("Hvordan nulstiller jeg min adgangskode?", "da", 1.0),
        ("Hoe kan ik mijn wachtwoord resetten?", "nl", 1.0),
        ("Comment réinitialiser mon mot de passe ?", "fr", 1.0),
        ("Can I pay with bitcoin?", "en", 0.0),
        ("How long does it take?", "en", 0.0),
    ],
)
def test_support_is_the_share_of_topic_words_found(question: str, language: str, expected: float) -> None:
    assert support(analyze_question(question, language), PASSWORD_PAGE) == pytest.approx(expected)


def test_a_follow_up_borrows_the_previous_question_terms() -> None:
    terms = analyze_question("How long is it valid?", "en", ["I forgot my password"])
    assert terms.context_terms == ("forgot", "password")
    standalone = analyze_question("How do I change my delivery address?", "en", ["I forgot my password"])
    assert standalone.context_terms == ()


def _clauses(query: dict[str, object]) -> list[dict[str, Any]]:
    """The multi_match clauses of ``build_query``'s body."""
    clauses: list[dict[str, Any]] = query["bool"]["must"][0]["bool"]["should"]  # type: ignore[index]
    return clauses


def _multi_matches(query: dict[str, object]) -> dict[str, list[str]]:
    """Fields searched per query text, from ``build_query``'s body."""
    found: dict[str, list[str]] = {}
    for clause in _clauses(query):
        match = clause["multi_match"]
        found.setdefault(match["query"], []).extend(match["fields"])
    return found


def test_query_searches_the_visitor_language_and_the_english_translation() -> None:
    query = build_query(analyze_question("Hvordan nulstiller jeg min adgangskode?", "da"))
    fields = _multi_matches(query)
    native = fields["nulstiller adgangskode"]
    assert {"body", "stemmed.da.body", "title^2", "stemmed.da.title^2", "question^3", "answer"} <= set(native)
    assert not any(".en." in field for field in native)
    english = next(fields[text] for text in fields if "password" in text)
    assert {"stemmed.en.title^2", "stemmed.en.body", "stemmed.en.question^3"} <= set(english)
    assert all(field.startswith("stemmed.en.") for field in english)
    assert '"language": {"value": "da"' in json.dumps(query)


def test_a_translated_term_weighs_less_than_the_visitors_own_word() -> None:
    query = build_query(analyze_question("Hvor lang tid tager levering?", "da"))
    boosts: dict[str, list[float]] = {}
    for clause in _clauses(query):
        boosts.setdefault(clause["multi_match"]["query"], []).append(clause["multi_match"]["boost"])
    native, translated = boosts["levering"], boosts["delivery shipping"]
    assert len(native) == len(translated) == 2  # passage fields, then question fields
    assert all(english < own for english, own in zip(translated, native, strict=True))


def test_an_english_question_uses_the_english_fields_only() -> None:
    fields = _multi_matches(build_query(analyze_question("How do I reset my password?", "en")))
    assert set(fields) == {"reset password"}
    assert {"body", "stemmed.en.body", "stemmed.en.section", "stemmed.en.question^3"} <= set(fields["reset password"])


def test_term_frequencies_count_native_and_translated_matches_per_term() -> None:
    terms = analyze_question("Hvordan nulstiller jeg min adgangskode?", "da")
    account = {"term": {"account_id": "acc"}}
    aggregation = frequency_aggregation(terms, account)
    assert aggregation["aggs"]["account"]["filter"] == account
    filters = aggregation["aggs"]["account"]["aggs"]["terms"]["filters"]["filters"]
    assert set(filters) == {"nulstiller", "adgangskode"}
    native, english = filters["adgangskode"]["bool"]["should"]
    assert set(native["multi_match"]["fields"]) == {
        "title", "stemmed.da.title", "body", "stemmed.da.body", "question", "stemmed.da.question"
    }  # fmt: skip
    assert english["multi_match"]["query"] == "password"
    assert set(english["multi_match"]["fields"]) == {"stemmed.en.title", "stemmed.en.body"}


def test_a_language_without_its_own_analyzer_uses_the_standard_fields() -> None:
    fields = _multi_matches(build_query(analyze_question("Wie kann ich mein Passwort ändern?", "pl")))
    assert all("stemmed" not in field for searched in fields.values() for field in searched)


def test_empty_question_matches_nothing() -> None:
    assert build_query(analyze_question("???", "en")) == {"match_none": {}}


def test_a_short_answer_whose_question_matches_wins_over_a_higher_scored_page() -> None:
    terms = analyze_question("Do you offer gift cards?", "en")
    page = _passage("page", "Terms for orders, gift cards and vouchers.", score=9.0, title="Terms")
    short = _passage(
        "short", "Yes, gift cards exist.", score=4.0, source_kind="short_answer",
        question="Do you offer gift cards?", answer="Yes, gift cards exist.",
    )  # fmt: skip
    ranked = rank_passages(terms, [page, short])
    assert ranked[0].passage.chunk_id == "short"


def test_word_support_ranks_a_hybrid_result_beside_the_fused_rank() -> None:
    terms = analyze_question("reset password", "en")
    meaning_only = dataclasses.replace(_passage("m", "Change your login secret here"), fused=0.05, similarity=0.9)
    words_too = dataclasses.replace(_passage("w", "How to reset your password"), fused=0.04, similarity=0.85)
    ranked = rank_passages(terms, [meaning_only, words_too], lexical_share=0.7)
    assert [item.passage.chunk_id for item in ranked] == ["w", "m"]
    assert [item.supported for item in ranked] == [True, False]
    assert [item.passage.chunk_id for item in rank_passages(terms, [meaning_only, words_too], lexical_share=0.0)] == [
        "m",
        "w",
    ]


def test_a_rare_term_the_page_lacks_outweighs_common_terms_it_has() -> None:
    terms = analyze_question("How much does a pizza cost?", "en")
    page = "The cost of a function call is small."
    assert support(terms, page) == pytest.approx(0.5)  # unweighted: one of two topic words
    weights = term_weights({"pizza": 0, "cost": 40}, total=1000)
    assert support(terms, page, weights) < 0.4


def test_an_untranslatable_foreign_word_weighs_no_more_than_the_average_translated_term() -> None:
    terms = analyze_question("Hoe genereer ik willekeurige getallen?", "nl")
    assert "genereer" not in terms.translations
    weights = term_weights({"genereer": 0, "willekeurige": 30, "getallen": 300}, total=10_000)
    effective = effective_weights(terms, weights)
    # Its own (inflated) weight does not raise the cap.
    assert effective["genereer"] == pytest.approx((weights["willekeurige"] + weights["getallen"]) / 2)
    assert effective["willekeurige"] == weights["willekeurige"]
    assert effective_weights(analyze_question("pizza cost", "en"), weights) == weights


def test_without_any_translated_term_the_cap_is_the_average_of_all() -> None:
    terms = analyze_question("pizza hamburger", "da")
    assert terms.translations == {}
    assert effective_weights(terms, {"pizza": 5.0, "hamburger": 1.0}) == {"pizza": 3.0, "hamburger": 1.0}


def test_frequencies_are_read_from_the_aggregation() -> None:
    aggregation = {"doc_count": 99, "account": {"doc_count": 12, "terms": {"buckets": {"reset": {"doc_count": 3}}}}}
    assert read_frequencies(aggregation) == ({"reset": 3}, 12)
    assert read_frequencies({}) == ({}, 0)


def test_passage_defaults_never_make_unknown_content_citable_by_accident() -> None:
    passage = passage_from_hit({"_id": "x", "_score": 2.0, "_source": {"url": "https://x", "private": True}})
    assert passage.citable is False
    assert passage_from_hit({"_id": "y", "_source": {}}).citable is False  # no URL, nothing to cite


def test_glossary_data_files_parse_into_stems_and_english_words() -> None:
    assert parse_glossary("# a comment\nAdgangskode: password  # trailing note\n\nmot de passe: password\n") == {
        "adgangskode": ("password",),
        "mot de passe": ("password",),
    }
    assert all(SUPPORT_GLOSSARY[language] for language in ("da", "nl", "de", "fr", "es"))
    assert GLOSSARY_ONLY.translate_token("adgangskode", "no") == ("password",)  # Norwegian is read as Danish


def test_a_glossary_line_without_english_words_is_refused() -> None:
    with pytest.raises(ValueError, match="stem: english words"):
        parse_glossary("adgangskode:\n")
