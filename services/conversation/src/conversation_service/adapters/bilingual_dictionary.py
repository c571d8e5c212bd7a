"""Bilingual dictionaries from FreeDict's Debian packages (``dict-freedict-<lang>-eng``), read once at start.

A dictd dictionary is two files: ``<name>.index``, one line per headword with the entry's offset and
length in base64, and ``<name>.dict.dz``, the entries' text, gzip-compressed. An entry is its headword
line, then its senses, one a line, with notes, cross-references and examples in between.
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import gzip
import logging
import re
import zlib
from array import array
from collections.abc import Iterator, Mapping
from pathlib import Path

from conversation_service import metrics
from conversation_service.domain.language import STOP_WORDS, words
from conversation_service.domain.lexicon import Lexicon

logger = logging.getLogger(__name__)

# FreeDict's three-letter names of the languages conversation speaks (Norwegian has no FreeDict
# dictionary in Debian; the lexicon reads Norwegian with the Danish one).
FREEDICT_NAMES = {
    "da": "dan",
    "nl": "nld",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "sv": "swe",
    "it": "ita",
    "pt": "por",
    "fi": "fin",
}
# The first senses of an entry are its common ones; later ones add rare meanings that mislead a search.
_MAX_SENSES = 3
_MAX_ENGLISH_WORDS = 6
_MAX_ENTRY_BYTES = 4096
# Some dictionaries follow a translation with a definition in the source language (fin-eng): a line
# of many words is a definition or an example, and a translation is a few words, not a sentence.
_MAX_SENSE_LINE_WORDS = 8
_MAX_TRANSLATION_WORDS = 4
_BASE64 = {
    character: value
    for value, character in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}
_NOT_A_SENSE = ("Note:", "see:", "Synonym", "Antonym", '"', "From ")
_ANNOTATION = re.compile(r"\[[^\]]*\]|<[^>]*>|\([^)]*\)|\{[^}]*\}")
_NUMBERING = re.compile(r"^\d+\.\s*")
_ENGLISH_STOP_WORDS = STOP_WORDS["en"]


class WordTable:
    """Headwords and their English words, sorted in one byte string (compact: German has ~340,000)."""

    def __init__(self, rows: Mapping[str, tuple[str, ...]]) -> None:
        # UTF-8 bytes sort as their code points do, so rows sorted as strings stay sorted as bytes.
        lines = [f"{headword}\t{' '.join(english)}".encode() for headword, english in sorted(rows.items())]
        self._text = b"\n".join(lines)
        self._starts = array("L", [0])
        for line in lines[:-1]:
            self._starts.append(self._starts[-1] + len(line) + 1)
        self._size = len(lines)

    def __len__(self) -> int:
        return self._size

    def _line(self, index: int) -> bytes:
        start = self._starts[index]
        end = self._text.find(b"\n", start)
        return self._text[start : end if end >= 0 else len(self._text)]

    def _headword(self, index: int) -> bytes:
        start = self._starts[index]
        return self._text[start : self._text.find(b"\t", start)]

    def get(self, headword: str) -> tuple[str, ...] | None:
        """The English words of ``headword``, or None when the dictionary lacks it."""
        wanted = headword.encode()
        index = bisect.bisect_left(range(self._size), wanted, key=self._headword)
        if index < self._size:
            found, _, english = self._line(index).partition(b"\t")
            if found == wanted:
                return tuple(english.decode().split())
        return None


def _decode_base64_number(text: str) -> int:
    value = 0
    for character in text:
        value = value * 64 + _BASE64[character]
    return value


def english_words(entry: str) -> tuple[str, ...]:
    """The English words of an entry's first senses (annotations, notes, glosses and stop words left out)."""
    found: dict[str, None] = {}
    senses = 0
    for line in entry.split("\n")[1:]:
        sense = _NUMBERING.sub("", _ANNOTATION.sub(" ", line.strip()))
        if not sense or line.strip().startswith(_NOT_A_SENSE) or len(sense.split()) > _MAX_SENSE_LINE_WORDS:
            continue
        for translation in re.split(r"[,;]", sense):
            translated = words(translation)
            if not translated or len(translated) > _MAX_TRANSLATION_WORDS:
                continue
            found.update((word, None) for word in translated if len(word) >= 3 and word not in _ENGLISH_STOP_WORDS)
            senses += 1
            if senses == _MAX_SENSES:
                return tuple(found)[:_MAX_ENGLISH_WORDS]
    return tuple(found)[:_MAX_ENGLISH_WORDS]


def _entries(index_path: Path, dictionary_path: Path) -> Iterator[tuple[str, str]]:
    """(lower-cased headword, entry text) for every index line that points into the dictionary."""
    with gzip.open(dictionary_path, "rb") as compressed:
        text = compressed.read()
    with index_path.open(encoding="utf-8", errors="replace") as index:
        for line in index:
            fields = line.rstrip("\n").split("\t")
            headword = fields[0].strip().lower()
            if len(fields) < 3 or not headword or headword.startswith("00database"):
                continue
            try:
                offset, length = _decode_base64_number(fields[1]), _decode_base64_number(fields[2])
            except KeyError:
                continue
            yield headword, text[offset : offset + min(length, _MAX_ENTRY_BYTES)].decode("utf-8", "replace")


def read_freedict(index_path: Path, dictionary_path: Path) -> WordTable:
    """One dictd dictionary as a word table (the entries of one headword merged)."""
    rows: dict[str, tuple[str, ...]] = {}
    for headword, entry in _entries(index_path, dictionary_path):
        if english := english_words(entry):
            rows[headword] = tuple(dict.fromkeys(rows.get(headword, ()) + english))[:_MAX_ENGLISH_WORDS]
    return WordTable(rows)


@functools.cache
def read_dictionaries(directory: Path) -> dict[str, WordTable]:
    """Every FreeDict dictionary to English found in ``directory``, by visitor language (read once a process);
    one that cannot be read is logged and left out, the others still serve."""
    tables: dict[str, WordTable] = {}
    for language, name in FREEDICT_NAMES.items():
        index_path = directory / f"freedict-{name}-eng.index"
        dictionary_path = directory / f"freedict-{name}-eng.dict.dz"
        if not (index_path.is_file() and dictionary_path.is_file()):
            continue
        try:
            tables[language] = read_freedict(index_path, dictionary_path)
        except (OSError, EOFError, zlib.error) as error:  # a truncated or corrupt file, unreadable permissions
            logger.error(
                "bilingual dictionary unreadable, left out",
                extra={"language": language, "path": str(dictionary_path), "error": repr(error)},
            )
    return tables


def fill_lexicon(lexicon: Lexicon, directory: str) -> None:
    """Add the dictionaries in ``directory`` to ``lexicon`` in the calling thread; say which are missing."""
    if not directory:
        logger.info("bilingual dictionaries off (CONVERSATION_DICTIONARY_DIR is empty)")
        return
    tables = read_dictionaries(Path(directory))
    for language, table in tables.items():
        lexicon.add(language, table)
        metrics.DICTIONARY_HEADWORDS.labels(language=language).set(len(table))
    missing = sorted(set(FREEDICT_NAMES) - set(tables))
    if missing:
        packages = " ".join(f"dict-freedict-{FREEDICT_NAMES[language]}-eng" for language in missing)
        logger.warning(
            "bilingual dictionaries missing: questions in these languages find English content by vectors only",
            extra={"languages": missing, "directory": directory, "install": f"apt-get install {packages}"},
        )
    logger.info("bilingual dictionaries loaded", extra={"languages": sorted(tables)})


def read_lexicon(directory: str) -> Lexicon:
    """The support glossary and the dictionaries in ``directory``, read in the calling thread (benchmarks, tools)."""
    lexicon = Lexicon()
    fill_lexicon(lexicon, directory)
    return lexicon


async def load_dictionaries(lexicon: Lexicon, directory: str) -> None:
    """Add the dictionaries in ``directory`` to ``lexicon`` off the event loop (the service's start-up step)."""
    await asyncio.to_thread(fill_lexicon, lexicon, directory)
