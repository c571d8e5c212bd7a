"""A crawled page: what happened to it, and parsing it (in a page worker, see ``page_worker``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.language import detect_language
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.adapters.text_decoding import decode_page
from ingestion_service.domain.chunking import content_hash
from ingestion_service.domain.documents import ParsedDocument, Section, document_from_json
from ingestion_service.domain.file_types import binary_content
from ingestion_service.domain.urls import resolve_link, same_site

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})


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


def _refusal(url: str, result: FetchResult) -> PageOutcome | None:
    """The failed outcome of a page that is not of a type the crawler reads, or binary data served as text."""
    if result.content_type not in HTML_TYPES | TEXT_TYPES:
        reason = f"unsupported content type {result.content_type!r}"
    elif what := binary_content(result.body):
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
        document = document_from_json(document)
    return PageOutcome(kind=PageKind(answer.pop("kind")), document=document, **answer)
