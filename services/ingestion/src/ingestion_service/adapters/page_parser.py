"""A crawled page: what happened to it, and parsing it (in a page worker, see ``page_worker``)."""

from __future__ import annotations

import codecs
import contextlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.language import detect_language
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.adapters.text_parsers import bom_encoding, decode_text
from ingestion_service.domain.chunking import content_hash
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, Section
from ingestion_service.domain.file_types import looks_binary, sniff
from ingestion_service.domain.urls import resolve_link, same_site

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})

# <meta charset="…"> or <meta http-equiv="Content-Type" content="…; charset=…">, looked for where browsers do.
META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
META_PRESCAN_BYTES = 1024
# Labels browsers read as windows-1252 (WHATWG Encoding), and so do the pages that declare them.
WEB_ALIASES = {"ascii": "cp1252", "iso8859-1": "cp1252"}


class PageKind(StrEnum):
    """What happened to one page."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass
class PageOutcome:
    """One crawled page."""

    url: str
    kind: PageKind
    document: ParsedDocument | None = None
    content_hash: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    links: list[str] = field(default_factory=list)
    error: str | None = None
    failure_kind: str | None = None
    gone: bool = False  # 404/410: the page no longer exists
    discovered: int = 0  # URLs admitted to the crawl so far
    language: str = ""  # detected from the page's text (changed pages)


def _decoded(body: bytes, label: str) -> str | None:
    """``body`` decoded as the charset ``label`` names; None when Python has no text encoding of that name."""
    try:
        name = codecs.lookup(label).name
        return body.decode(WEB_ALIASES.get(name, name), errors="replace")
    except (LookupError, UnicodeError, ValueError):  # unknown, not a text codec ('base64'), or 'idna'-like
        return None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` element of its first bytes, if any."""
    found = META_CHARSET.search(body[:META_PRESCAN_BYTES])
    if found is None:
        return None
    label = found.group(1).decode("ascii").lower()
    # A page whose ASCII <meta> could be read is not UTF-16, whatever it says (browsers read UTF-8 then).
    return "utf-8" if label.startswith(("utf-16", "utf16")) else label


def decode_page(body: bytes, *, charset: str | None, html: bool) -> str:
    """A page's text: in the encoding its byte order mark names, else its HTTP charset, else its ``<meta>`` one,
    else the one detected as for uploads. A charset Python does not know is passed over, not an error."""
    for label in (bom_encoding(body), charset, meta_charset(body) if html else None):
        if label and (text := _decoded(body, label)) is not None:
            return text
    with contextlib.suppress(DocumentRefused):  # no encoding detected: what UTF-8 makes of it
        return decode_text(body, "page")
    return body.decode("utf-8", errors="replace")


def _refusal(url: str, result: FetchResult) -> PageOutcome | None:
    """The failed outcome of a page that is not of a type the crawler reads, or binary data served as text."""
    if result.content_type not in HTML_TYPES | TEXT_TYPES:
        reason = f"unsupported content type {result.content_type!r}"
    elif what := sniff(result.body) or ("binary data" if looks_binary(result.body) else None):
        reason = f"served as {result.content_type or 'text'} but its content is {what}"
    else:
        return None
    return PageOutcome(url, PageKind.FAILED, error=f"{url}: {reason}", failure_kind="content_type")


def parse_page(url: str, result: FetchResult, start: str) -> PageOutcome:
    """Extract a fetched page (CPU only, runs in a page worker): its document, links on ``start``'s site
    (canonical and final redirected URLs included), content hash and language."""
    if refused := _refusal(url, result):
        return refused
    html = result.content_type in HTML_TYPES
    markup = decode_page(result.body, charset=result.encoding, html=html)
    if html:
        document = extract_html(markup, base_url=result.url)
    else:
        document = ParsedDocument(title=url.rsplit("/", 1)[-1], sections=[Section("", markup)])
    unique_hrefs = dict.fromkeys(href.split("#", 1)[0] for href in document.links)
    resolved = (resolve_link(result.url, href) for href in unique_hrefs)
    links = [link for link in resolved if link is not None and same_site(link, start)]  # others are never crawled
    links = list(dict.fromkeys(links))
    if result.url != url:
        links.append(result.url)  # a same-site redirect target is a page of its own
    canonical = resolve_link(result.url, document.canonical_url) if document.canonical_url else None
    if canonical and canonical != url and same_site(canonical, start):
        links.append(canonical)
        document.canonical_url = canonical
    else:
        document.canonical_url = url
    if document.is_empty():
        return PageOutcome(
            url,
            PageKind.FAILED,
            error=f"{url}: no text content",
            failure_kind="empty",
            etag=result.etag,
            last_modified=result.last_modified,
            links=links,
        )
    text = document.text
    document.links = []  # resolved in ``links``; not sent back from the worker twice
    return PageOutcome(
        url,
        PageKind.CHANGED,
        document=document,
        content_hash=content_hash(text),
        etag=result.etag,
        last_modified=result.last_modified,
        links=links,
        language=detect_language(text, fallback=document.language or "en"),
    )


def outcome_from_json(answer: dict[str, Any]) -> PageOutcome:
    """A page outcome from the JSON object a page worker answers (the outcome as orjson writes it)."""
    document = answer.pop("document")
    if document is not None:
        sections = [Section(**section) for section in document.pop("sections")]
        document = ParsedDocument(sections=sections, **document)
    return PageOutcome(kind=PageKind(answer.pop("kind")), document=document, **answer)
