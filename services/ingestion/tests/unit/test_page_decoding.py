"""A crawled page's bytes: which encoding they are read in, and binary data served as text refused."""

from __future__ import annotations

import pytest
from ingestion_service.adapters.page_parser import PageKind, parse_page
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.adapters.text_decoding import decode_page, meta_charset

URL = "https://shop.example/cafe"
WORDS = "Rødgrød med fløde, café crème brûlée and naïve façade: these words are accented on the page."


def _page(head: str = "", words: str = WORDS) -> str:
    return f"<html><head>{head}<title>Café</title></head><body><p>{words}</p></body></html>"


def _fetched(body: bytes, *, content_type: str = "text/html", charset: str | None = None) -> FetchResult:
    return FetchResult(URL, URL, 200, content_type, body, None, None, charset)


@pytest.mark.parametrize(
    "head",
    [
        '<meta charset="windows-1252">',
        "<meta charset=windows-1252>",
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">',
        "<META HTTP-EQUIV='content-type' CONTENT='text/html;charset=Windows-1252'>",
    ],
)
def test_a_page_declaring_its_charset_only_in_a_meta_element_is_read_in_it(head: str) -> None:
    outcome = parse_page(URL, _fetched(_page(head).encode("cp1252")), URL)
    assert outcome.kind is PageKind.CHANGED
    assert outcome.document is not None
    assert outcome.document.title == "Café"
    assert WORDS in outcome.document.text


def test_the_http_charset_wins_over_the_meta_one() -> None:
    body = _page('<meta charset="utf-8">').encode("cp1252")
    assert WORDS in decode_page(body, charset="windows-1252", html=True)


def test_a_byte_order_mark_wins_over_both() -> None:
    body = b"\xef\xbb\xbf" + _page('<meta charset="windows-1252">').encode("utf-8")
    assert decode_page(body, charset="iso-8859-1", html=True).startswith("<html>")
    assert WORDS in decode_page(body, charset="iso-8859-1", html=True)


def test_latin_1_is_read_as_windows_1252_as_browsers_do() -> None:
    text = "Prices from 10 \u20ac \u2013 \u201cquoted\u201d"  # euro sign, en dash, curly quotes: not in Latin-1
    assert decode_page(text.encode("cp1252"), charset="ISO-8859-1", html=False) == text


@pytest.mark.parametrize("charset", ["x-no-such-codec", "base64", "idna", "undefined"])
def test_an_unknown_or_unusable_http_charset_falls_back_to_the_meta_one(charset: str) -> None:
    outcome = parse_page(URL, _fetched(_page('<meta charset="windows-1252">').encode("cp1252"), charset=charset), URL)
    assert outcome.kind is PageKind.CHANGED
    assert outcome.document is not None
    assert WORDS in outcome.document.text


def test_without_any_declaration_the_encoding_is_detected() -> None:
    words = "Prisen er 100 kroner for en smørrebrød med rødspætte og æblegrød på Østerbro i dag. " * 5
    assert words in decode_page(_page(words=words).encode("cp1252"), charset=None, html=True)


def test_utf_8_without_any_declaration_stays_utf_8() -> None:
    assert WORDS in decode_page(_page().encode("utf-8"), charset=None, html=True)


def test_a_meta_charset_is_looked_for_only_in_the_first_bytes() -> None:
    late = "<!-- " + "x" * 2000 + ' --><meta charset="windows-1252">'
    assert meta_charset(_page('<meta charset="windows-1252">').encode()) == "windows-1252"
    assert meta_charset(_page(late).encode()) is None


def test_a_meta_charset_counts_in_html_only() -> None:
    body = '<meta charset="windows-1252"> café'.encode()
    assert decode_page(body, charset=None, html=False).endswith(" café")
    assert decode_page(body, charset=None, html=True).endswith(" cafÃ©")


def test_a_meta_element_claiming_utf_16_is_read_as_utf_8() -> None:
    assert meta_charset(b'<meta charset="UTF-16LE">') == "utf-8"


@pytest.mark.parametrize(
    ("body", "content_type", "what"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "text/html", "a PNG image"),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "text/plain", "an ELF executable"),
        (b"<html>" + bytes(range(32)) * 50, "", "binary data"),
    ],
)
def test_binary_data_served_as_text_fails_with_what_it_is(body: bytes, content_type: str, what: str) -> None:
    outcome = parse_page(URL, _fetched(body, content_type=content_type, charset="utf-8"), URL)
    assert outcome.kind is PageKind.FAILED
    assert outcome.failure_kind == "content_type"
    assert outcome.error is not None
    assert outcome.error.endswith(f"but its content is {what}")


def test_a_utf_16_page_with_its_byte_order_mark_is_text() -> None:
    outcome = parse_page(URL, _fetched(_page().encode("utf-16")), URL)
    assert outcome.kind is PageKind.CHANGED
    assert outcome.document is not None
    assert WORDS in outcome.document.text
