"""A small bilingual lexicon of customer-support vocabulary, for cross-lingual retrieval.

Visitors often ask in a language the content is not written in (a Danish question over
English pages). Each visitor word whose stem is in the lexicon adds its English terms to
the query, so BM25 over the English sub-fields still finds the page — offline, on the CPU,
with no model. The tables are data files, ``data/lexicon-<language>.txt``: lower-case stems
matched as word prefixes (at least four letters, or the whole word for shorter keys), each
with its English words.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

_MIN_PREFIX = 4


_LANGUAGES = ("da", "nl", "de", "fr", "es")


def parse_table(text: str) -> dict[str, tuple[str, ...]]:
    """``stem: english words`` lines (``#`` starts a comment) as stem → English words."""
    table: dict[str, tuple[str, ...]] = {}
    for line in text.splitlines():
        row = line.split("#", 1)[0].strip()
        if not row:
            continue
        stem, separator, english = row.partition(":")
        if not separator or not stem.strip() or not english.split():
            raise ValueError(f"lexicon line {line!r} is not 'stem: english words'")
        table[stem.strip().lower()] = tuple(english.split())
    return table


def _load(language: str) -> dict[str, tuple[str, ...]]:
    data = resources.files("conversation_service.domain").joinpath("data", f"lexicon-{language}.txt")
    return parse_table(data.read_text(encoding="utf-8"))


LEXICON: dict[str, dict[str, tuple[str, ...]]] = {language: _load(language) for language in _LANGUAGES}
# Norwegian and Swedish share much support vocabulary with Danish.
LEXICON["no"] = LEXICON["da"]
LEXICON["sv"] = LEXICON["da"]


def translate_token(token: str, language: str) -> tuple[str, ...]:
    """English terms for one visitor word: the entry of the longest lexicon stem the word starts with."""
    table = LEXICON.get(language)
    if not table:
        return ()
    if token in table:
        return table[token]
    best: tuple[str, ...] = ()
    best_length = 0
    for stem, english in table.items():
        if " " in stem or len(stem) < _MIN_PREFIX:
            continue
        if token.startswith(stem) and len(stem) > best_length:
            best, best_length = english, len(stem)
    return best


def translate_phrases(text: str, language: str) -> tuple[str, ...]:
    """English terms of multi-word lexicon entries found in ``text`` ('mot de passe' → password)."""
    table = LEXICON.get(language)
    if not table:
        return ()
    lowered = f" {text.lower()} "
    found: list[str] = []
    for stem, english in table.items():
        if " " in stem and f" {stem} " in lowered:
            found.extend(english)
    return tuple(found)


def english_terms(tokens: Iterable[str], language: str) -> dict[str, tuple[str, ...]]:
    """For each visitor word that the lexicon knows, its English terms."""
    return {token: terms for token in tokens if (terms := translate_token(token, language))}
