"""Which language a visitor speaks: the browser locale decides, else a language-identification model."""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection, Iterable
from typing import Any

from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped]

SUPPORTED_LANGUAGES = ("en", "da", "nl", "de", "fr", "es", "sv", "no", "it", "pt", "fi")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def word_list(text: str) -> list[str]:
    """The whitespace-separated words of a literal word list."""
    return text.split()


# Frequent function words per language: they carry no topic, so retrieval leaves them out.
# Hand-written on purpose: the stop-words and stopwordsiso packages' lists (some 1,300 English words each,
# 'system', 'name', 'run', 'text' among them) lost 5 to 7 of 57 right first pages on bench/quality's dev
# split (bench/quality/README.md, seventh session).
STOP_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        word_list(
            "the a an is are was be do does did how what when where why who which can could i you my your we our "
            "to of in on for with and or not it this that there have has from please about me"
        )
    ),
    "da": frozenset(
        word_list(
            "og jeg du det er en et at på til med for ikke hvad hvordan hvornår hvor hvorfor kan min mit mine "
            "jeres vi har der som af om eller mig hvis skal vil være bliver nogen gerne tak"
        )
    ),
    "nl": frozenset(
        word_list(
            "de het een en ik je jij u is zijn wat hoe wanneer waar waarom kan kunnen mijn jullie we wij niet met "
            "voor van op te dat dit er of naar ook heb heeft graag bij om"
        )
    ),
    "de": frozenset(
        word_list(
            "der die das ein eine und ich du sie ist sind wie was wann wo warum kann können mein meine ihr wir "
            "nicht mit für von auf zu dass es oder habe hat bitte bei ich um"
        )
    ),
    "fr": frozenset(
        word_list(
            "le la les un une et je tu vous il est sont comment quoi quand où pourquoi peux peut puis mon ma mes "
            "votre vos nous ne pas avec pour de du des sur que qui ou est-ce ai a svp au"
        )
    ),
    "es": frozenset(
        word_list(
            "el la los las un una y yo tú usted es son cómo como qué que cuándo dónde por porqué puedo puede mi "
            "mis su sus nosotros no con para de del en o tengo tiene favor al"
        )
    ),
    "sv": frozenset(
        word_list(
            "och jag du det är en ett att på till med för inte vad hur när var varför kan min mitt mina vi har "
            "som av om eller mig skulle vill"
        )
    ),
}


def language_of_locale(locale: str | None) -> str | None:
    """Primary language subtag of a BCP 47 locale ('da-DK' → 'da'); None when absent or malformed."""
    if not locale:
        return None
    primary = locale.replace("_", "-").split("-", 1)[0].strip().lower()
    if primary in {"nb", "nn"}:
        return "no"
    if 2 <= len(primary) <= 3 and primary.isalpha():
        return primary
    return None


def words(text: str) -> list[str]:
    """Lower-cased alphabetic words of ``text``, accents kept."""
    return [word.lower() for word in _WORD.findall(unicodedata.normalize("NFC", text))]


_MIN_PROBABILITY = 0.3  # below it the text is too short or mixed to tell: the account's language is used
_identifier_lock = threading.Lock()
_identifier: Any = None


def _language_identifier() -> Any:
    """py3langid's model (shipped in the package), restricted to the languages the agent speaks."""
    global _identifier
    with _identifier_lock:
        if _identifier is None:
            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(SUPPORTED_LANGUAGES))
            _identifier = identifier
    return _identifier


def account_languages(default_language: str, configured: Iterable[str]) -> list[str]:
    """The languages an account speaks: its default and those it wrote messages in (primary subtags)."""
    found = {language_of_locale(tag) for tag in (default_language, *configured)}
    return sorted(language for language in found if language in SUPPORTED_LANGUAGES)


def detect_language(text: str, candidates: Collection[str] = ()) -> str | None:
    """The language the text is most likely in, among ``candidates`` when at least two are given (the
    account's languages: close neighbours such as Danish and Norwegian are told apart by which one the
    account speaks), else among all the agent speaks; None when unclear."""
    sample = " ".join(text[:1000].split())
    if not words(sample):
        return None
    ranking = [(str(language), float(score)) for language, score in _language_identifier().rank(sample)]
    if len(candidates) >= 2:
        ranking = [(language, score) for language, score in ranking if language in candidates]
    total = sum(score for _, score in ranking)
    if not ranking or total <= 0.0:
        return None
    language, score = ranking[0]
    return language if score / total >= _MIN_PROBABILITY else None


def choose_language(locale: str | None, text: str, default: str = "en", languages: Collection[str] = ()) -> str:
    """The reply language: the locale's language, else the one detected (among the account's ``languages``
    when it has several), else the account default."""
    return language_of_locale(locale) or detect_language(text, languages) or default
