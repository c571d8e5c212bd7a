"""The website crawler: robots.txt, sitemaps, same-site link following, dedup and conditional re-fetch.

It reports every page to a callback (changed, unchanged, duplicate or failed)
and never indexes anything itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ingestion_service.adapters.metrics import BYTES_FETCHED, LINKS_DROPPED, PAGES_FETCHED
from ingestion_service.adapters.page_parser import PageKind, PageOutcome
from ingestion_service.adapters.page_worker_pool import (
    DEFAULT_MEMORY_BYTES,
    DEFAULT_PARSE_WORKERS,
    DEFAULT_TIMEOUT_SECONDS,
    PageWorkers,
    WorkerFailed,
    WorkerTimeout,
)
from ingestion_service.adapters.politeness import HostPoliteness
from ingestion_service.adapters.safe_http import FetchRefused, FetchResult, SafeFetcher
from ingestion_service.adapters.sitemaps import MAX_SITEMAPS
from ingestion_service.domain.robots import (
    MAX_LINK_CHARS,
    MAX_ROBOTS_BYTES,
    SiteRobots,
    links_per_page,
    policy_for_status,
)
from ingestion_service.domain.urls import UrlRefused, canonicalize, origin_of

logger = logging.getLogger(__name__)

MAX_CRAWL_DELAY = 10.0


@dataclass(frozen=True)
class PreviousPage:
    """What the last sync remembered about a URL."""

    etag: str | None
    last_modified: str | None
    content_hash: str | None
    links: tuple[str, ...] = ()


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


class Crawler:
    """Crawls one site from a start URL."""

    def __init__(
        self,
        fetcher: SafeFetcher,
        politeness: HostPoliteness,
        *,
        parse_workers: int = DEFAULT_PARSE_WORKERS,
        parse_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        parse_memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self._fetcher = fetcher
        self._politeness = politeness
        self.workers = PageWorkers(
            parse_workers, timeout_seconds=parse_timeout_seconds, memory_bytes=parse_memory_bytes
        )

    async def fetch(
        self, url: str, delay: float | None, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch ``url`` within its host's politeness slot, counted in the fetch metrics."""
        host = urlsplit(url).netloc
        async with self._politeness.slot(host, delay):
            result = await self._fetcher.fetch(url, etag=etag, last_modified=last_modified)
        PAGES_FETCHED.labels(outcome=str(result.status_code // 100) + "xx").inc()
        BYTES_FETCHED.inc(len(result.body))
        return result

    async def robots_for(self, origin: str, user_agent: str) -> SiteRobots:
        """The robots.txt of an origin (RFC 9309 §2.3.1 for errors), read in a page worker."""
        try:
            result = await self.fetch(origin + "/robots.txt", None)
        except FetchRefused as error:
            if error.kind == "too_big":
                return SiteRobots(user_agent)
            raise  # unreachable (RFC 9309: assume complete disallow): fail with the real reason
        by_status = policy_for_status(result.status_code)
        if by_status is not None:
            return SiteRobots(user_agent, allow_all=by_status.allow_all)
        return await self.workers.robots(result.body[:MAX_ROBOTS_BYTES], user_agent)

    async def _sitemap_urls(self, origin: str, robots: SiteRobots, limit: int) -> list[str]:
        queue = list(robots.sitemaps) or [origin + "/sitemap.xml"]
        pages: list[str] = []
        fetched = 0
        while queue and fetched < MAX_SITEMAPS and len(pages) < limit:
            sitemap_url = queue.pop(0)
            fetched += 1
            try:
                result = await self.fetch(sitemap_url, None)
            except FetchRefused:
                continue
            if result.status_code != 200:
                continue
            sitemap = await self.workers.sitemap(result.body, limit - len(pages))
            pages.extend(sitemap.pages)
            queue.extend(sitemap.sitemaps)
        return pages[:limit]

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
            start_allowed = await self.workers.judge(robots, start, [start])
        except FetchRefused as error:
            summary.start_error = error.reason
            return summary
        except (WorkerTimeout, WorkerFailed) as error:
            summary.start_error = f"robots.txt of {origin} could not be read ({error})"
            return summary
        if not start_allowed:
            summary.start_error = f"robots.txt of {origin} disallows {start}"
            return summary
        run = _CrawlRun(
            self,
            _Frontier(start, robots, options.max_urls, summary, self.workers),
            import_related=import_related,
            options=options,
            previous=previous,
            on_page=on_page,
        )
        if import_related:
            sitemap_urls = await self._sitemap_urls(origin, robots, options.max_urls)
            await run.frontier.admit(_canonical(sitemap_urls), every=True)
        await run.run()
        return summary


def _canonical(urls: Iterable[str]) -> Iterable[str]:
    """The canonical form of each URL that has one."""
    for url in urls:
        try:
            yield canonicalize(url)
        except UrlRefused:
            continue


@dataclass
class _Frontier:
    """The URLs admitted to one crawl: same-site, allowed by robots.txt, at most ``max_urls``."""

    start: str
    robots: SiteRobots
    max_urls: int
    summary: CrawlSummary
    workers: PageWorkers
    queued: set[str] = field(default_factory=set)
    queue: asyncio.Queue[str] = field(default_factory=asyncio.Queue)

    def __post_init__(self) -> None:
        self.queued.add(self.start)
        self.queue.put_nowait(self.start)

    async def admit(self, urls: Iterable[str | None], *, every: bool = False) -> None:
        """Queue those of ``urls`` not queued yet, on the site and allowed by robots.txt, up to ``max_urls``.

        Links are judged in a page worker, ``links_per_page`` at a time (robots.txt's rules times links are
        bounded): of a page's links the rest are dropped and counted; ``every`` judges them all, that many at
        a time (the sitemaps' URLs, at most ``max_urls``). Links longer than ``MAX_LINK_CHARS`` are dropped.
        """
        if len(self.queued) >= self.max_urls:
            return
        fresh = [url for url in dict.fromkeys(urls) if url is not None and url not in self.queued]
        short = [url for url in fresh if len(url) <= MAX_LINK_CHARS]
        LINKS_DROPPED.labels(reason="too_long").inc(len(fresh) - len(short))
        per_call = links_per_page(self.robots.rules)
        if not every and len(short) > per_call:
            LINKS_DROPPED.labels(reason="per_page").inc(len(short) - per_call)
            del short[per_call:]
        for begin in range(0, len(short), per_call):
            if len(self.queued) >= self.max_urls:
                break
            self._queue(await self._judged(short[begin : begin + per_call]))
        self.summary.discovered = len(self.queued)

    async def _judged(self, urls: list[str]) -> list[str]:
        try:
            return await self.workers.judge(self.robots, self.start, urls)
        except (WorkerTimeout, WorkerFailed) as error:
            logger.warning("links were not judged against robots.txt", extra={"reason": str(error)})
            LINKS_DROPPED.labels(reason="unjudged").inc(len(urls))
            return []

    def _queue(self, urls: list[str]) -> None:
        for url in urls:
            if len(self.queued) >= self.max_urls:
                break
            if url not in self.queued:
                self.queued.add(url)
                self.queue.put_nowait(url)


class _CrawlRun:
    """One crawl under way: workers visit the frontier until it is empty or the time is up."""

    def __init__(
        self,
        crawler: Crawler,
        frontier: _Frontier,
        *,
        import_related: bool,
        options: CrawlOptions,
        previous: Mapping[str, PreviousPage],
        on_page: PageCallback,
    ) -> None:
        self.frontier = frontier
        self._crawler = crawler
        self._import_related = import_related
        self._options = options
        self._previous = previous
        self._on_page = on_page
        crawl_delay = min(frontier.robots.crawl_delay or 0.0, MAX_CRAWL_DELAY)
        self._delay = crawl_delay if options.respect_crawl_delay else None
        self._seen_hashes: dict[str, str] = {}
        self._deadline = time.monotonic() + options.max_seconds

    async def run(self) -> None:
        """Visit every admitted URL with ``options.workers`` concurrent workers."""
        workers = [asyncio.create_task(self._worker()) for _ in range(max(1, self._options.workers))]
        try:
            await self.frontier.queue.join()
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self) -> None:
        queue = self.frontier.queue
        while True:
            url = await queue.get()
            try:
                if time.monotonic() > self._deadline:
                    self.frontier.summary.complete = False
                    continue
                await self._visit(url)
            except Exception:
                logger.exception("crawler failed on a page", extra={"url": url})
                failure = PageOutcome(url, PageKind.FAILED, error=f"{url}: internal error", failure_kind="internal")
                await self._report(url, failure)
            finally:
                queue.task_done()

    async def _visit(self, url: str) -> None:
        old = self._previous.get(url) if self._options.conditional else None
        outcome = await self._outcome_of(url, old)
        if self._import_related:
            await self.frontier.admit(outcome.links)
        await self._report(url, outcome)

    async def _outcome_of(self, url: str, old: PreviousPage | None) -> PageOutcome:
        try:
            result = await self._crawler.fetch(
                url, self._delay, etag=old.etag if old else None, last_modified=old.last_modified if old else None
            )
        except FetchRefused as error:
            return PageOutcome(url, PageKind.FAILED, error=error.reason, failure_kind=error.kind)
        if result.not_modified and old is not None:
            return PageOutcome(
                url,
                PageKind.UNCHANGED,
                content_hash=old.content_hash,
                etag=result.etag or old.etag,
                last_modified=result.last_modified or old.last_modified,
                links=list(old.links),
            )
        if result.status_code != 200:
            return PageOutcome(
                url,
                PageKind.FAILED,
                error=f"{url}: HTTP {result.status_code}",
                failure_kind="http_status",
                gone=result.status_code in (404, 410),
            )
        outcome = await self._crawler.workers.parse(url, result, self.frontier.start)
        self._classify_content(url, outcome, old)
        return outcome

    def _classify_content(self, url: str, outcome: PageOutcome, old: PreviousPage | None) -> None:
        """A changed page whose text another URL of this crawl had is a duplicate; unchanged if as last time."""
        if outcome.kind is not PageKind.CHANGED or outcome.content_hash is None:
            return
        if outcome.content_hash in self._seen_hashes and self._seen_hashes[outcome.content_hash] != url:
            outcome.kind = PageKind.DUPLICATE
            return
        self._seen_hashes[outcome.content_hash] = url
        if old is not None and old.content_hash == outcome.content_hash:
            outcome.kind = PageKind.UNCHANGED

    async def _report(self, url: str, outcome: PageOutcome) -> None:
        summary = self.frontier.summary
        summary.visited.add(url)
        outcome.discovered = summary.discovered
        if url == self.frontier.start and outcome.kind is PageKind.FAILED:
            summary.start_error = outcome.error
        await self._on_page(outcome)
