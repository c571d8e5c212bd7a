"""File parsers and HTML extraction on generated samples (no network)."""

from __future__ import annotations

import pytest
from ingestion_service.adapters.file_parsers import FileLimits, parse_file
from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.page_parser import parse_page
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.domain.documents import DocumentRefused, ParserStopped
from ingestion_service.domain.file_types import SUPPORTED_EXTENSIONS

from .. import samples

URL = "https://shop.example/prices"


@pytest.mark.parametrize("extension", SUPPORTED_EXTENSIONS)
async def test_every_file_type_parses_to_its_phrase(extension: str) -> None:
    document = await parse_file(f"sample.{extension}", samples.sample(extension), FileLimits())
    assert samples.phrase_for(extension) in document.text
    assert document.title


@pytest.mark.parametrize(
    ("filename", "content", "failure_type", "words"),
    [
        ("bomb.docx", samples.zip_bomb_docx(), "zip_bomb", "zip bomb"),
        ("xxe.xml", samples.XXE_XML, "xml_entities", "entity"),
        ("cut.pdf", samples.truncated_pdf(), "truncated_pdf", "truncated"),
        ("program.txt", samples.RENAMED_BINARY, "renamed_binary", "ELF executable"),
        # Damaged bytes fail alike on every attempt: refused at once, not retried as a parser crash.
        ("crc.docx", samples.docx_with_bad_crc(), "corrupt_zip", "corrupt Office file: Bad CRC-32"),
        ("deflate.docx", samples.docx_with_damaged_deflate(), "corrupt_zip", "corrupt Office file"),
        ("kids.pdf", samples.pdf_over_pypdf_limits(), "pdf_limits", "over the PDF reader's limits"),
    ],
)
async def test_hostile_files_are_refused_with_a_reason(
    filename: str, content: bytes, failure_type: str, words: str
) -> None:
    with pytest.raises(DocumentRefused) as refused:
        await parse_file(filename, content, FileLimits())
    assert refused.value.failure_type == failure_type
    assert words in refused.value.reason


async def test_zip_with_too_many_members_is_refused() -> None:
    with pytest.raises(DocumentRefused, match="members"):
        await parse_file("many.pptx", samples.pptx("x"), FileLimits(max_zip_members=1))


async def test_docx_keeps_headings_and_tables() -> None:
    document = await parse_file("a.docx", samples.docx("phrase"), FileLimits())
    assert document.sections[0].heading == "Returns policy"
    assert "Plan | Price" in document.text
    assert "Gold | 10 EUR" in document.text


async def test_legacy_encoding_is_detected() -> None:
    text = "Prisen er 100 kroner for en smørrebrød med rødspætte og æblegrød på Østerbro. " * 5
    document = await parse_file("da.txt", text.encode("cp1252"), FileLimits())
    assert "smørrebrød" in document.text


@pytest.mark.parametrize("extension", ["html", "htm"])
async def test_an_uploaded_html_file_is_read_in_the_charset_its_meta_element_declares(extension: str) -> None:
    # Labelled ISO-8859-1 but written in windows-1252 (quotes, dash, euro), as browsers read such a label:
    # the detection alone read "naïve" as "naďve".
    words = "\u201cQuoted\u201d prices \u2013 10 € a month, naïve café."
    html = f'<html><head><meta charset="iso-8859-1"><title>Prices</title></head><body><p>{words}</p></body></html>'
    body = html.encode("cp1252")
    document = await parse_file(f"prices.{extension}", body, FileLimits())
    assert words in document.text
    crawled = parse_page(URL, FetchResult(URL, URL, 200, "text/html", body, None, None, None), URL).document
    assert crawled is not None
    assert (document.title, document.text) == (crawled.title, crawled.text)


async def test_csv_rows_are_readable() -> None:
    document = await parse_file("p.csv", b"name,price\nGold,10\nSilver,5\n", FileLimits())
    assert "name: Gold; price: 10" in document.text


async def test_pdf_over_the_time_limit_is_stopped() -> None:
    with pytest.raises(ParserStopped, match="longer than") as stopped:
        await parse_file("slow.pdf", samples.pdf("x"), FileLimits(parse_timeout_seconds=0.001))
    assert stopped.value.failure_type == "parser_timeout"


def test_html_main_content_drops_navigation() -> None:
    html = """<html lang="da"><head><title>Levering</title><link rel="canonical" href="/levering"></head>
    <body><header>Logo</header><nav><a href="/a">Menu A</a></nav><div class="sidebar">Sidebar junk</div>
    <main><h1>Levering</h1><p>Vi leverer <b>hurtigt</b>.</p><h2>Priser</h2>
    <table><tr><th>Zone</th><th>Pris</th></tr><tr><td>DK</td><td>49</td></tr></table></main>
    <footer>Footer junk</footer></body></html>"""
    document = extract_html(html)
    assert document.title == "Levering"
    assert document.language == "da"
    assert document.canonical_url == "/levering"
    assert document.links == ["/a"]  # links are collected before the navigation is dropped
    assert [s.heading for s in document.sections] == ["Levering", "Priser"]
    assert "Vi leverer hurtigt." in document.text
    assert "Zone | Pris" in document.text
    for junk in ("Logo", "Menu A", "Sidebar junk", "Footer junk"):
        assert junk not in document.text


def test_structure_nested_in_inline_elements_still_splits_paragraphs() -> None:
    # Elements without structure below them are read in one call; anything structural inside an
    # inline element (a line break, a block, a table, a dropped tag) must still be seen.
    html = """<main><p>One <span>two<!-- note --><em> three</em></span> four</p>
    <p>Five <span>six<br>seven</span> eight</p>
    <span>nine <b>ten<div>eleven</div></b> twelve</span>
    <p>Kept <span>x<script>dropped()</script>y</span></p>
    <div><b>cell <table><tr><td>a <i>b</i></td><td>c</td></tr></table></b></div>
    <h2>Head <code>line</code></h2><p>  spaced\u00a0 out\t text </p></main>"""
    document = extract_html(html)
    assert [s.heading for s in document.sections] == ["", "Head line"]
    assert document.sections[0].text.split("\n\n") == [
        "One two three four",
        "Five six",
        "seven eight",
        "nine ten",
        "eleven",
        "twelve",
        "Kept xy",
        "cell",
        "a b | c",
    ]
    assert document.sections[1].text == "spaced out text"


def test_noindex_pages_have_no_text() -> None:
    document = extract_html('<html><head><meta name="robots" content="noindex"></head><body><p>x</p></body></html>')
    assert document.is_empty()
