"""The website crawler: robots.txt, sitemaps, same-site link following, dedup and conditional re-fetch.

It reports every page to a callback (changed, unchanged, duplicate or failed)
and never indexes anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.language import detect_language, warm_up
from ingestion_service.adapters.metrics import BYTES_FETCHED, PAGES_FETCHED
from ingestion_service.adapters.politeness import HostPoliteness
from ingestion_service.adapters.safe_http import FetchRefused, FetchResult, SafeFetcher
from ingestion_service.adapters.sitemaps import parse_sitemap
from ingestion_service.domain.chunking import content_hash
from ingestion_service.domain.documents import ParsedDocument, Section
from ingestion_service.domain.robots import ALLOW_ALL, RobotsPolicy, parse_robots, policy_for_status
from ingestion_service.domain.urls import (
    UrlRefused,
    canonicalize,
    origin_of,
    path_and_query,
    resolve_link,
    same_site,
)

logger = logging.getLogger(__name__)

HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", ""})
TEXT_TYPES = frozenset({"text/plain", "text/markdown"})
MAX_SITEMAPS = 20
MAX_CRAWL_DELAY = 10.0
DEFAULT_PARSE_WORKERS = 2


class PageKind(StrEnum):
    """What happened to one page."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    FAILED = "failed"


@dataclass(frozen=True)
class PreviousPage:
    """What the last sync remembered about a URL."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None
    links: tuple[str, ...] = ()


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


@dataclass
class CrawlSummary:
    """The end of a crawl."""

    discovered: int = 0
    complete: bool = True
    start_error: str | None = None
    visited: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class CrawlOptions:
    """Per-crawl knobs."""

    user_agent: str
    max_urls: int = 1000
    workers: int = 4
    max_seconds: float = 3600.0
    respect_crawl_delay: bool = True
    conditional: bool = True


PageCallback = Callable[[PageOutcome], Awaitable[None]]


class PageParsers:
    """Parses fetched pages in worker processes, so parsing neither blocks the crawl's event loop nor
    is bound to one core; with ``workers=0`` pages are parsed inline (in the event loop)."""

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

    async def parse(self, url: str, result: FetchResult, start: str) -> PageOutcome:
        """The outcome of one fetched page (see ``parse_page``); a page that kills its parser fails alone."""
        if self._pool is None:
            return parse_page(url, result, start)
        pool = self._pool
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, parse_page, url, result, start)
        except BrokenProcessPool:
            logger.exception("a page parser process died; starting new ones", extra={"url": url})
            if self._pool is pool:
                pool.shutdown(wait=False, cancel_futures=True)
                self._start()
            return PageOutcome(url, PageKind.FAILED, error=f"{url}: the parser crashed", failure_kind="internal")

    async def aclose(self) -> None:
        """Stop the worker processes (pages are parsed inline afterwards)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class Crawler:
    """Crawls one site from a start URL."""

    def __init__(
        self, fetcher: SafeFetcher, politeness: HostPoliteness, *, parse_workers: int = DEFAULT_PARSE_WORKERS
    ) -> None:
        self._fetcher = fetcher
        self._politeness = politeness
        self.parsers = PageParsers(parse_workers)

    async def _get(
        self, url: str, delay: float | None, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        host = urlsplit(url).netloc
        async with self._politeness.slot(host, delay):
            result = await self._fetcher.fetch(url, etag=etag, last_modified=last_modified)
        PAGES_FETCHED.labels(outcome=str(result.status_code // 100) + "xx").inc()
        BYTES_FETCHED.inc(len(result.body))
        return result

    async def robots_for(self, origin: str, user_agent: str) -> RobotsPolicy:
        """The robots.txt policy of an origin (RFC 9309 §2.3.1 for errors)."""
        try:
            result = await self._get(origin + "/robots.txt", None)
        except FetchRefused as error:
            if error.kind == "too_big":
                return ALLOW_ALL
            raise  # unreachable (RFC 9309: assume complete disallow): fail with the real reason
        by_status = policy_for_status(result.status_code)
        if by_status is not None:
            return by_status
        return parse_robots(result.body[:500_000].decode("utf-8", errors="replace"), user_agent)

    async def _sitemap_urls(self, origin: str, robots: RobotsPolicy, limit: int) -> list[str]:
        queue = list(robots.sitemaps) or [origin + "/sitemap.xml"]
        pages: list[str] = []
        fetched = 0
        while queue and fetched < MAX_SITEMAPS and len(pages) < limit:
            sitemap_url = queue.pop(0)
            fetched += 1
            try:
                result = await self._get(sitemap_url, None)
            except FetchRefused:
                continue
            if result.status_code != 200:
                continue
            sitemap = parse_sitemap(result.body)
            pages.extend(sitemap.pages)
            queue.extend(sitemap.sitemaps)
        return pages

    async def crawl(
        self,
        start_url: str,
        *,
        import_related: bool,
        options: CrawlOptions,
        previous: Mapping[str, PreviousPage],
        on_page: PageCallback,
    ) -> CrawlSummary:
        """Crawl from ``start_url``; call ``on_page`` for every page visited."""
        summary = CrawlSummary(discovered=1)
        try:
            start = canonicalize(start_url)
        except UrlRefused as error:
            summary.start_error = str(error)
            return summary
        origin = origin_of(start)
        try:
            robots = await self.robots_for(origin, options.user_agent)
        except FetchRefused as error:
            summary.start_error = error.reason
            return summary
        if not robots.allowed(path_and_query(start)):
            summary.start_error = f"robots.txt of {origin} disallows {start}"
            return summary
        delay = min(robots.crawl_delay or 0.0, MAX_CRAWL_DELAY) if options.respect_crawl_delay else None

        queued: set[str] = {start}
        queue: asyncio.Queue[str] = asyncio.Queue()
        queue.put_nowait(start)
        seen_hashes: dict[str, str] = {}
        deadline = time.monotonic() + options.max_seconds

        def admit(url: str | None) -> None:
            if url is None or url in queued or len(queued) >= options.max_urls:
                return
            if not same_site(url, start) or not robots.allowed(path_and_query(url)):
                return
            queued.add(url)
            queue.put_nowait(url)
            summary.discovered = len(queued)

        if import_related:
            for url in await self._sitemap_urls(origin, robots, options.max_urls):
                try:
                    admit(canonicalize(url))
                except UrlRefused:
                    continue

        async def visit(url: str) -> None:
            old = previous.get(url) if options.conditional else None
            try:
                result = await self._get(
                    url, delay, etag=old.etag if old else None, last_modified=old.last_modified if old else None
                )
            except FetchRefused as error:
                await self._report(
                    on_page,
                    summary,
                    url,
                    start,
                    PageOutcome(url, PageKind.FAILED, error=error.reason, failure_kind=error.kind),
                )
                return
            if result.not_modified and old is not None:
                links = list(old.links)
                outcome = PageOutcome(
                    url,
                    PageKind.UNCHANGED,
                    content_hash=old.content_hash,
                    etag=result.etag or old.etag,
                    last_modified=result.last_modified or old.last_modified,
                    links=links,
                )
            elif result.status_code != 200:
                await self._report(
                    on_page,
                    summary,
                    url,
                    start,
                    PageOutcome(
                        url,
                        PageKind.FAILED,
                        error=f"{url}: HTTP {result.status_code}",
                        failure_kind="http_status",
                        gone=result.status_code in (404, 410),
                    ),
                )
                return
            else:
                outcome = await self.parsers.parse(url, result, start)
                if outcome.kind is PageKind.CHANGED and outcome.content_hash is not None:
                    if outcome.content_hash in seen_hashes and seen_hashes[outcome.content_hash] != url:
                        outcome.kind = PageKind.DUPLICATE
                    else:
                        seen_hashes[outcome.content_hash] = url
                        if old is not None and old.content_hash == outcome.content_hash:
                            outcome.kind = PageKind.UNCHANGED
            if import_related:
                for link in outcome.links:
                    admit(link)
            await self._report(on_page, summary, url, start, outcome)

        async def worker() -> None:
            while True:
                url = await queue.get()
                try:
                    if time.monotonic() > deadline:
                        summary.complete = False
                        continue
                    await visit(url)
                except Exception:
                    logger.exception("crawler failed on a page", extra={"url": url})
                    await self._report(
                        on_page,
                        summary,
                        url,
                        start,
                        PageOutcome(url, PageKind.FAILED, error=f"{url}: internal error", failure_kind="internal"),
                    )
                finally:
                    queue.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(max(1, options.workers))]
        try:
            await queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return summary

    async def _report(
        self, on_page: PageCallback, summary: CrawlSummary, url: str, start: str, outcome: PageOutcome
    ) -> None:
        summary.visited.add(url)
        outcome.discovered = summary.discovered
        if url == start and outcome.kind is PageKind.FAILED:
            summary.start_error = outcome.error
        await on_page(outcome)


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
