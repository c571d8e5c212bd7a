"""Reading FreeDict's dictd files: entries, senses, the compact table, and what is missing."""

from __future__ import annotations

import gzip
import logging
import tomllib
from pathlib import Path

import pytest
from conversation_service import metrics
from conversation_service.adapters.bilingual_dictionary import (
    FREEDICT_NAMES,
    WordTable,
    english_words,
    load_dictionaries,
    read_dictionaries,
    read_freedict,
)
from conversation_service.domain.lexicon import Lexicon

_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _base64_number(value: int) -> str:
    digits = ""
    while True:
        value, digit = divmod(value, 64)
        digits = _BASE64[digit] + digits
        if not value:
            return digits


def write_dictd(directory: Path, name: str, entries: list[tuple[str, str]]) -> None:
    """A dictd dictionary as FreeDict ships it: gzip-compressed entries and a base64-offset index."""
    text = b""
    index_lines = ["00databaseinfo\tA\tB"]
    for headword, entry in entries:
        data = entry.encode()
        index_lines.append(f"{headword}\t{_base64_number(len(text))}\t{_base64_number(len(data))}")
        text += data
    (directory / f"{name}.dict.dz").write_bytes(gzip.compress(text))
    (directory / f"{name}.index").write_text("\n".join(index_lines) + "\n", encoding="utf-8")


def test_the_first_senses_give_the_english_words_without_annotations_or_notes() -> None:
    entry = "adgangskode /a:dgangsko:de/ <n>\n [Computer: Streng af tegn] password, access code\n Note: informal\n"
    assert english_words(entry) == ("password", "access", "code")
    numbered = "fil /fi:l/\n1. file\n2. line, rank, row, turn\n"
    assert english_words(numbered) == ("file", "line", "rank")  # three senses at most
    glossed = (
        "tiedosto <n>\nfile\ntietokoneessa yhdeksi kokonaisuudeksi ymmärrettävä tietojen tai tietueiden kokoelma\n"
    )
    assert english_words(glossed) == ("file",)  # a definition in the source language is no translation
    assert english_words('Aal\n "Aal in Aspik" - Jellied Eel\n see: {Aal blau}\n') == ()


def test_a_dictionary_is_read_into_a_sorted_table_with_merged_headwords(tmp_path: Path) -> None:
    write_dictd(
        tmp_path,
        "freedict-dan-eng",
        [
            ("Øl", "Øl\nbeer\n"),
            ("adgangskode", "adgangskode\npassword\n"),
            ("fil", "fil\nfile\n"),
            ("fil", "fil\nline\n"),
            ("ånd", "ånd\nspirit\n"),
            ("tom", "tom\n"),  # no sense: left out
        ],
    )
    table = read_freedict(tmp_path / "freedict-dan-eng.index", tmp_path / "freedict-dan-eng.dict.dz")
    assert len(table) == 4
    assert table.get("adgangskode") == ("password",)
    assert table.get("fil") == ("file", "line")
    assert table.get("øl") == ("beer",)  # lower-cased; sorted by code point past ASCII
    assert table.get("ånd") == ("spirit",)
    assert table.get("tom") is None
    assert table.get("zzz") is None
    assert table.get("") is None


def test_an_empty_table_finds_nothing() -> None:
    assert WordTable({}).get("fil") is None


def test_only_the_dictionaries_present_are_read(tmp_path: Path) -> None:
    write_dictd(tmp_path, "freedict-nld-eng", [("wachtwoord", "wachtwoord\npassword\n")])
    tables = read_dictionaries(tmp_path)
    assert list(tables) == ["nl"]


def test_a_corrupt_dictionary_is_left_out_and_the_others_still_serve(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_dictd(tmp_path, "freedict-nld-eng", [("wachtwoord", "wachtwoord\npassword\n")])
    write_dictd(tmp_path, "freedict-dan-eng", [("fil", "fil\nfile\n")])
    compressed = (tmp_path / "freedict-dan-eng.dict.dz").read_bytes()
    (tmp_path / "freedict-dan-eng.dict.dz").write_bytes(compressed[: len(compressed) // 2])  # truncated
    with caplog.at_level(logging.ERROR):
        tables = read_dictionaries(tmp_path)
    assert list(tables) == ["nl"]
    assert [record.__dict__["language"] for record in caplog.records if record.levelno == logging.ERROR] == ["da"]


async def test_loading_fills_the_lexicon_and_names_what_is_missing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_dictd(tmp_path, "freedict-nld-eng", [("wachtwoord", "wachtwoord\npassword\n")])
    lexicon = Lexicon()
    with caplog.at_level(logging.WARNING):
        await load_dictionaries(lexicon, str(tmp_path))
    assert lexicon.translate_token("wachtwoord", "nl") == ("password",)
    assert metrics.DICTIONARY_HEADWORDS.labels(language="nl")._value.get() == 1
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert "dict-freedict-dan-eng" in warning.__dict__["install"]
    assert "nl" not in warning.__dict__["languages"]


async def test_an_empty_directory_setting_turns_the_dictionaries_off() -> None:
    lexicon = Lexicon()
    await load_dictionaries(lexicon, "")
    assert lexicon.languages == ()


def test_the_declared_debian_packages_are_the_dictionaries_read() -> None:
    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    declared = tomllib.loads(pyproject.read_text())["tool"]["customer-agent"]["debian-packages"]
    assert sorted(declared) == sorted(f"dict-freedict-{name}-eng" for name in FREEDICT_NAMES.values())
