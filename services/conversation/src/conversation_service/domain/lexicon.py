"""Visitors' words in English, for cross-lingual retrieval: a support glossary and bilingual dictionaries.

Visitors often ask in a language the content is not written in (a Danish question over English
pages). Each visitor word the lexicon knows adds its English words to the query, so BM25 over the
English sub-fields still finds the page, and the word support sees the evidence. Two sources, merged:

- the support glossary, ``data/lexicon-<language>.txt``: ~100 stems a language of the vocabulary
  customers use (reset, password, refund, delivery), matched as word prefixes. General dictionaries
  lack much of it (FreeDict's Danish has no 'nulstille', its Dutch no 'wachtwoord');
- bilingual dictionaries (FreeDict's, read by ``adapters/bilingual_dictionary.py``): thousands to
  hundreds of thousands of headwords a language, for the words the glossary does not know. A general
  dictionary lists every sense of a word ('vare': continue, endure, keep), so for its own words the
  glossary's support sense alone counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from typing import Protocol

from conversation_service.domain.language import words

# A visitor's word is often an inflected form of a dictionary headword ('filerne', 'nulstiller'):
# without an exact entry, the longest headword the word starts with counts, at most this many letters shorter.
_MAX_INFLECTION_LETTERS = 4
_MIN_STEM_LETTERS = 3
_MAX_PHRASE_WORDS = 3
# Dictionary lookups per question are bounded: a pasted log or e-mail must not cost seconds of CPU.
MAX_TRANSLATED_WORDS = 64
_MIN_GLOSSARY_PREFIX = 4
_GLOSSARY_LANGUAGES = ("da", "nl", "de", "fr", "es")
# Norwegian Bokmål is written much as Danish is, and Debian ships no Norwegian-English FreeDict.
_READ_AS = {"no": "da"}


class WordTable(Protocol):
    """One language's headwords (lower case, one or a few words) and their English words."""

    def get(self, headword: str) -> tuple[str, ...] | None:
        """The English words of ``headword``, or None."""
        ...


def parse_glossary(text: str) -> dict[str, tuple[str, ...]]:
    """``stem: english words`` lines (``#`` starts a comment) as stem → English words."""
    table: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        row = line.split("#", 1)[0].strip()
        if not row:
            continue
        stem, separator, english = row.partition(":")
        if not separator or not stem.strip() or not english.split():
            raise ValueError(f"glossary line {line!r} is not 'stem: english words'")
        table[stem.strip().lower()] = tuple(english.split())
    return table


def _bundled_glossary() -> dict[str, dict[str, tuple[str, ...]]]:
    folder = resources.files("conversation_service.domain").joinpath("data")
    glossary = {
        language: parse_glossary(folder.joinpath(f"lexicon-{language}.txt").read_text(encoding="utf-8"))
        for language in _GLOSSARY_LANGUAGES
    }
    return glossary


SUPPORT_GLOSSARY = _bundled_glossary()


def _glossary_token(table: Mapping[str, tuple[str, ...]], token: str) -> tuple[str, ...]:
    """The entry of the longest glossary stem ``token`` starts with (whole words for short stems)."""
    if token in table:
        return table[token]
    best: tuple[str, ...] = ()
    best_length = 0
    for stem, english in table.items():
        if " " not in stem and len(stem) >= _MIN_GLOSSARY_PREFIX and token.startswith(stem) and len(stem) > best_length:
            best, best_length = english, len(stem)
    return best


def _dictionary_token(table: WordTable, token: str) -> tuple[str, ...]:
    """The token's own entry, else that of the headword it inflects."""
    if (english := table.get(token)) is not None:
        return english
    for cut in range(1, _MAX_INFLECTION_LETTERS + 1):
        stem = token[:-cut]
        if len(stem) < _MIN_STEM_LETTERS:
            break
        if (english := table.get(stem)) is not None:
            return english
    return ()


class Lexicon:
    """Visitor words to English words: the glossary's, else a dictionary's (dictionaries are added once read)."""

    def __init__(
        self,
        dictionaries: Mapping[str, WordTable] | None = None,
        *,
        glossary: Mapping[str, Mapping[str, tuple[str, ...]]] = SUPPORT_GLOSSARY,
    ) -> None:
        self._dictionaries: dict[str, WordTable] = dict(dictionaries or {})
        self._glossary = glossary

    def add(self, language: str, dictionary: WordTable) -> None:
        """Use ``dictionary`` for ``language`` from now on."""
        self._dictionaries[language] = dictionary

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages with a dictionary."""
        return tuple(sorted(self._dictionaries))

    def _sources(self, language: str) -> tuple[Mapping[str, tuple[str, ...]] | None, WordTable | None]:
        if language == "en":
            return None, None
        language = _READ_AS.get(language, language)
        return self._glossary.get(language), self._dictionaries.get(language)

    def translate_token(self, token: str, language: str) -> tuple[str, ...]:
        """English words for one visitor word: the glossary's, else the dictionary's."""
        glossary, dictionary = self._sources(language)
        found = _glossary_token(glossary, token) if glossary else ()
        if not found and dictionary is not None:
            found = _dictionary_token(dictionary, token)
        return found

    def translate_phrases(self, words: Iterable[str], language: str) -> dict[str, tuple[str, ...]]:
        """Multi-word entries among consecutive ``words``, with their English words ('mot de passe': password)."""
        glossary, dictionary = self._sources(language)
        sequence = list(words)
        found: dict[str, tuple[str, ...]] = {}
        for length in range(2, _MAX_PHRASE_WORDS + 1):
            for start in range(len(sequence) - length + 1):
                phrase = " ".join(sequence[start : start + length])
                english = (glossary or {}).get(phrase) or (dictionary.get(phrase) if dictionary else None)
                if english:
                    found[phrase] = english
        return found

    def english_terms(self, tokens: Iterable[str], language: str) -> dict[str, tuple[str, ...]]:
        """For each visitor word that the lexicon knows, its English words."""
        return {token: english for token in tokens if (english := self.translate_token(token, language))}

    def translate_question(
        self, terms: Sequence[str], text: str, language: str
    ) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
        """English words of a question's terms and of the multi-word entries in its text (the first
        ``MAX_TRANSLATED_WORDS`` of each); a term inside such an entry takes the entry's words ('mot' in
        'mot de passe' means password, not word)."""
        if self._sources(language) == (None, None):  # English, or a language with neither source
            return {}, ()
        phrases = self.translate_phrases(words(text)[:MAX_TRANSLATED_WORDS], language)
        translations = self.english_terms(terms[:MAX_TRANSLATED_WORDS], language)
        looked_up = set(terms[:MAX_TRANSLATED_WORDS])
        for phrase, english in phrases.items():
            for word in phrase.split():
                if word in looked_up:
                    translations[word] = english
        return translations, tuple(dict.fromkeys(word for english in phrases.values() for word in english))


GLOSSARY_ONLY = Lexicon()
NO_LEXICON = Lexicon(glossary={})
