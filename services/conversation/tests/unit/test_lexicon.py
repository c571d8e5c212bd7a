"""Translating a visitor's words to English with a bilingual dictionary."""

from __future__ import annotations

import pytest
from conversation_service.domain.lexicon import MAX_TRANSLATED_WORDS, NO_LEXICON, Lexicon
from conversation_service.domain.retrieval import analyze_question

from .lexicons import SAMPLE_LEXICON


@pytest.mark.parametrize(
    ("token", "language", "expected"),
    [
        ("adgangskode", "da", ("password",)),
        ("nulstiller", "da", ("reset",)),  # an inflected form finds its headword
        ("leveringen", "da", ("delivery", "shipping")),
        ("getallen", "nl", ("number",)),
        ("adgangskode", "no", ("password",)),  # Norwegian is read with the Danish dictionary
        ("password", "en", ()),  # English needs no translation
        ("zzzz", "da", ()),
        ("adgangskode", "pl", ()),  # no dictionary for the language
    ],
)
def test_translate_token(token: str, language: str, expected: tuple[str, ...]) -> None:
    assert SAMPLE_LEXICON.translate_token(token, language) == expected


def test_an_inflection_is_a_short_ending_on_a_stem_of_three_letters_or_more() -> None:
    lexicon = Lexicon({"da": {"fil": ("file",), "levering": ("delivery",), "en": ("one",)}}, glossary={})
    assert lexicon.translate_token("leveringsbetingelser", "da") == ()  # a compound, not an inflection
    assert lexicon.translate_token("filerne", "da") == ("file",)
    assert lexicon.translate_token("ene", "da") == ()  # 'en' is shorter than a stem may be


def test_multi_word_headwords_are_found_among_consecutive_words() -> None:
    words = ["comment", "changer", "mon", "mot", "de", "passe"]
    assert SAMPLE_LEXICON.translate_phrases(words, "fr") == {"mot de passe": ("password",)}
    assert SAMPLE_LEXICON.translate_phrases(["mot", "passe", "de"], "fr") == {}
    assert SAMPLE_LEXICON.translate_phrases(words, "en") == {}


def test_english_terms_keep_only_the_words_the_dictionary_knows() -> None:
    assert SAMPLE_LEXICON.english_terms(["nulstiller", "min", "adgangskode"], "da") == {
        "nulstiller": ("reset",),
        "adgangskode": ("password",),
    }


def test_dictionaries_added_later_are_used_from_then_on() -> None:
    lexicon = Lexicon(glossary={})
    assert lexicon.translate_token("wachtwoord", "nl") == ()
    lexicon.add("nl", {"wachtwoord": ("password",)})
    assert lexicon.translate_token("wachtwoord", "nl") == ("password",)
    assert lexicon.languages == ("nl",)
    assert NO_LEXICON.languages == ()
    assert NO_LEXICON.translate_token("adgangskode", "da") == ()


def test_the_glossary_wins_for_its_words_and_the_dictionary_knows_the_rest() -> None:
    dictionaries = {"nl": {"bestand": ("dossier", "file", "truce"), "fiets": ("bicycle", "bike")}}
    lexicon = Lexicon(dictionaries, glossary={"nl": {"bestand": ("file", "files")}})
    assert lexicon.translate_token("bestanden", "nl") == ("file", "files")
    assert lexicon.translate_token("fietsen", "nl") == ("bicycle", "bike")
    assert lexicon.translate_token("bestand", "de") == ()


def test_a_phrase_of_the_glossary_or_a_dictionary_is_found() -> None:
    lexicon = Lexicon({"fr": {"mot de passe": ("password",)}}, glossary={"fr": {"mot de passe": ("password", "pin")}})
    assert lexicon.translate_phrases(["mon", "mot", "de", "passe"], "fr") == {"mot de passe": ("password", "pin")}
    dictionary_only = Lexicon({"fr": {"mot de passe": ("password",)}}, glossary={})
    assert dictionary_only.translate_phrases(["mot", "de", "passe"], "fr") == {"mot de passe": ("password",)}


def test_a_long_question_is_translated_in_its_first_words_only() -> None:
    lexicon = Lexicon({"da": {"fil": ("file",)}}, glossary={})
    terms = (*(f"ord{index}" for index in range(MAX_TRANSLATED_WORDS)), "fil")
    translations, _ = lexicon.translate_question(terms, " ".join(terms), "da")
    assert translations == {}  # 'fil' comes after the words looked up
    translations, _ = lexicon.translate_question(("fil", *terms), "fil", "da")
    assert translations == {"fil": ("file",)}


def test_a_follow_up_of_a_long_question_still_translates_the_earlier_question() -> None:
    lexicon = Lexicon({"da": {"fil": ("file",), "slette": ("delete",)}}, glossary={})
    earlier = "Hvordan kan jeg slette en fil " + " ".join(f"ord{index}" for index in range(100))
    terms = analyze_question("Og den?", "da", [earlier], lexicon=lexicon)
    assert terms.translations == {"slette": ("delete",), "fil": ("file",)}
