"""A crawled page: what happened to it, and parsing it (in worker processes, off the event loop)."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.language import detect_language, warm_up
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.domain.chunking import content_hash
from ingestion_service.domain.documents import ParsedDocument, Section
from ingestion_service.domain.urls import resolve_link, same_site

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
DEFAULT_PARSE_WORKERS = 2

T = TypeVar("T")


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


class PageParsers:
    """Parses fetched pages (and runs other CPU-bound crawl work) in worker processes, so it neither blocks the
    crawl's event loop nor is bound to one core; with ``workers=0`` it runs inline (in the event loop)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._start()

    def _start(self) -> None:
        if self.workers <= 0:
            return
        # Workers are forked now (while the service is being built) and load the language model once.
        self._pool = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("fork"), initializer=warm_up
        )
        for _ in range(self.workers):
            self._pool.submit(int)

    async def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in a worker process (inline with ``workers=0``); when a worker dies, new ones
        are started and ``BrokenProcessPool`` is raised (to every call that was under way)."""
        if self._pool is None:
            return function(*args)
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, function, *args)
        except BrokenProcessPool:
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._start()
            raise

    async def parse(self, url: str, result: FetchResult, start: str) -> PageOutcome:
        """The outcome of one fetched page (see ``parse_page``); a page that kills its parser fails alone."""
        try:
            return await self.call(parse_page, url, result, start)
        except BrokenProcessPool:
            logger.exception("a page parser process died; starting new ones", extra={"url": url})
            return PageOutcome(url, PageKind.FAILED, error=f"{url}: the parser crashed", failure_kind="internal")

    async def aclose(self) -> None:
        """Stop the worker processes (pages are parsed inline afterwards)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def parse_page(url: str, result: FetchResult, start: str) -> PageOutcome:
    """Extract a fetched page (CPU only, runs in a worker process): its document, links (canonical and
    final redirected URLs included), content hash and language."""
    markup = result.body.decode(result.encoding or "utf-8", errors="replace")
    if result.content_type in HTML_TYPES:
        document = extract_html(markup, base_url=result.url)
    elif result.content_type in TEXT_TYPES:
        document = ParsedDocument(title=url.rsplit("/", 1)[-1], sections=[Section("", markup)])
    else:
        return PageOutcome(
            url,
            PageKind.FAILED,
            error=f"{url}: unsupported content type {result.content_type!r}",
            failure_kind="content_type",
        )
    unique_hrefs = dict.fromkeys(href.split("#", 1)[0] for href in document.links)
    links = [link for href in unique_hrefs if (link := resolve_link(result.url, href)) is not None]
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
