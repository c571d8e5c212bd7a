"""Which language a visitor speaks: the browser locale decides, else a stop-word vote over the text."""

from __future__ import annotations

import re
import unicodedata

SUPPORTED_LANGUAGES = ("en", "da", "nl", "de", "fr", "es", "sv", "no", "it", "pt", "fi")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def word_list(text: str) -> list[str]:
    """The whitespace-separated words of a literal word list."""
    return text.split()


# Frequent function words per language; a word shared by several languages votes for each of them.
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


def detect_language(text: str) -> str | None:
    """Best guess from stop words and letters; None when the text gives no evidence."""
    tokens = words(text)
    if not tokens:
        return None
    scores: dict[str, float] = {}
    for language, stop_words in STOP_WORDS.items():
        hits = sum(1 for token in tokens if token in stop_words)
        if hits:
            scores[language] = float(hits)
    lowered = text.lower()
    # Letters that only some languages use break ties between close neighbours.
    if any(letter in lowered for letter in "æø"):
        scores["da"] = scores.get("da", 0.0) + 1.5
    if "å" in lowered and any(letter in lowered for letter in "äö"):
        scores["sv"] = scores.get("sv", 0.0) + 1.5
    if any(letter in lowered for letter in "ñ¿¡"):
        scores["es"] = scores.get("es", 0.0) + 1.5
    if "ß" in lowered or "ü" in lowered:
        scores["de"] = scores.get("de", 0.0) + 1.0
    if any(letter in lowered for letter in "çèêàù"):
        scores["fr"] = scores.get("fr", 0.0) + 1.0
    if "ij" in lowered and " ik " in f" {lowered} ":
        scores["nl"] = scores.get("nl", 0.0) + 0.5
    if not scores:
        return None
    best = max(scores.items(), key=lambda item: (item[1], item[0] == "en"))
    return best[0]


def choose_language(locale: str | None, text: str, default: str = "en") -> str:
    """The reply language: the locale's language, else the detected one, else the account default."""
    return language_of_locale(locale) or detect_language(text) or default
