"""Handoff trigger words and phrases: whole words, any case, accents folded."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Lower-case ``text`` and strip accents (NFKD, combining marks removed)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()


def words(text: str) -> tuple[str, ...]:
    """The folded words of ``text``."""
    return tuple(_WORD.findall(fold(text)))


class TriggerMatcher:
    """Matches any configured trigger (a word or a phrase) as whole words in a message."""

    def __init__(self, triggers: Iterable[str]) -> None:
        phrases = {words(trigger) for trigger in triggers}
        self._phrases: tuple[tuple[str, ...], ...] = tuple(sorted(phrase for phrase in phrases if phrase))

    def match(self, text: str) -> str | None:
        """The first trigger (as folded words) found in ``text``, or None."""
        if not self._phrases:
            return None
        message = words(text)
        for phrase in self._phrases:
            size = len(phrase)
            for start in range(len(message) - size + 1):
                if message[start : start + size] == phrase:
                    return " ".join(phrase)
        return None
