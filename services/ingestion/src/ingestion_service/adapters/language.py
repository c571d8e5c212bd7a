"""Language of a text, with a small bundled model (py3langid: no downloads at run time)."""

from __future__ import annotations

import threading

import py3langid  # type: ignore[import-untyped]

MIN_CHARS = 30
SAMPLE_CHARS = 1000
_lock = threading.Lock()
_ready = False


def warm_up() -> None:
    """Load the model now (about a second) instead of on the first document."""
    global _ready
    with _lock:
        if not _ready:
            py3langid.classify("warm up the language model")
            _ready = True


def detect_language(text: str, fallback: str = "en") -> str:
    """ISO 639-1 code of ``text``'s language; ``fallback`` when the text is too short to tell."""
    sample = " ".join(text[:SAMPLE_CHARS].split())
    if len(sample) < MIN_CHARS:
        return primary_subtag(fallback) or "en"
    if not _ready:
        warm_up()
    code, _score = py3langid.classify(sample)
    return str(code)


def primary_subtag(tag: str | None) -> str:
    """'da' from 'da-DK' (BCP 47 primary language subtag, lower-case)."""
    return (tag or "").split("-")[0].split("_")[0].strip().lower()
