"""The bilingual dictionaries the local stack installs (Debian's FreeDict packages), read as in production."""

from __future__ import annotations

from pathlib import Path

import pytest
from conversation_service.adapters.bilingual_dictionary import FREEDICT_NAMES, read_lexicon
from conversation_service.domain.retrieval import analyze_question
from conversation_service.settings import ConversationSettings

pytestmark = pytest.mark.integration


def test_every_declared_dictionary_is_installed_and_read() -> None:
    directory = ConversationSettings().dictionary_dir
    missing = [
        name for name in FREEDICT_NAMES.values() if not (Path(directory) / f"freedict-{name}-eng.index").is_file()
    ]
    assert not missing, f"run `make up` (deploy/local/infra.sh installs dict-freedict-*-eng): missing {missing}"
    assert set(read_lexicon(directory).languages) == set(FREEDICT_NAMES)


@pytest.mark.parametrize(
    ("question", "language", "english"),
    [
        ("Hvordan nulstiller jeg min adgangskode?", "da", "password"),
        ("Welk bestand moet ik installeren?", "nl", "install"),
        ("Wo liegt die Datei?", "de", "file"),
        ("Hvor finder jeg filen?", "da", "file"),
        ("Hur startar jag datorn?", "sv", "computer"),
        ("No puedo abrir el archivo", "es", "open"),
    ],
)
def test_a_visitors_words_find_their_english_words(question: str, language: str, english: str) -> None:
    lexicon = read_lexicon(ConversationSettings().dictionary_dir)
    assert english in analyze_question(question, language, lexicon=lexicon).english
