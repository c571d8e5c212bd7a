"""The page workers: a few long-lived processes that parse what the crawler fetches and the bodies of
knowledge-base articles, each request bounded in time.

Every tenant's crawl and articles share them, so one site must not hold one for long: a request that outlives
``timeout_seconds`` has its worker killed (a new one starts for the next request) and fails alone. Workers
run ``page_worker`` in a scrubbed environment (no secrets); what they answer is only ever read as JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Any

import orjson
from customer_agent_shared.messaging.failures import TransientHandlerError

from ingestion_service.adapters.file_parsers import start_parser
from ingestion_service.adapters.page_parser import PageKind, PageOutcome, outcome_from_json
from ingestion_service.adapters.page_worker import LENGTH, frame, respond
from ingestion_service.adapters.parse_limits import near_limit
from ingestion_service.adapters.safe_http import FetchResult
from ingestion_service.adapters.sitemaps import Sitemap
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, document_from_json
from ingestion_service.domain.robots import SiteRobots

logger = logging.getLogger(__name__)

WORKER_MODULE = "ingestion_service.adapters.page_worker"
DEFAULT_PARSE_WORKERS = 2
DEFAULT_TIMEOUT_SECONDS = 10.0
# A worker idles at ~250 MiB of address space and a 5 MB page of ordinary HTML peaks near 400 MiB; a page
# of a million empty elements needs over 800 MiB, twice over with two workers: more than the pod holds.
DEFAULT_MEMORY_BYTES = 512 * 1024 * 1024
STARTUP_SECONDS = 60.0  # imports and the language model: about a second on an idle core
MAX_ANSWER_BYTES = 256 * 1024 * 1024
FETCHED_FIELDS = tuple(field.name for field in dataclasses.fields(FetchResult) if field.name != "body")


class WorkerTimeout(Exception):
    """A request outlived the time limit; its worker was killed."""


class WorkerFailed(Exception):
    """A worker did not start, died, or answered with an error instead of a result."""


class WorkerOutOfMemory(WorkerFailed):
    """The content needed more memory than a worker may use (its address-space limit)."""


class WorkersBusy(TransientHandlerError):
    """No worker came free in time: the pool is busy with other work (a transient failure, not the input's)."""


class _Worker:
    """One worker process, started on first use and again after it was stopped."""

    def __init__(self, memory_bytes: int | None) -> None:
        self.process: asyncio.subprocess.Process | None = None
        self._memory_bytes = memory_bytes
        self._arguments = (f"--memory-bytes={memory_bytes}",) if memory_bytes else ()

    def near_memory_limit(self) -> bool:
        """Whether the process's address space ever came within 5 % of its limit (its peak never falls, and
        the worker reads a failure at that peak as "out of memory": such a worker is replaced)."""
        if self.process is None or not self._memory_bytes:
            return False
        return near_limit(self.process.pid, self._memory_bytes)

    async def ensure_started(self) -> asyncio.subprocess.Process:
        """The running process, started (and awaited until it says it is ready) if there is none."""
        if self.process is not None and self.process.returncode is not None:
            self.process = None  # died between requests
        if self.process is None:
            self.process = await start_parser(WORKER_MODULE, stderr=None, arguments=self._arguments)
            try:
                async with asyncio.timeout(STARTUP_SECONDS):
                    await self.read_answer()
            except BaseException as error:
                await self.stop()
                raise WorkerFailed(f"a page worker did not start: {type(error).__name__}") from error
        return self.process

    async def ask(self, request: bytes, timeout_seconds: float) -> dict[str, Any]:
        """Send one request and wait at most ``timeout_seconds`` for its answer."""
        process = await self.ensure_started()
        assert process.stdin is not None
        async with asyncio.timeout(timeout_seconds):
            process.stdin.write(request)
            await process.stdin.drain()
            return await self.read_answer()

    async def read_answer(self) -> dict[str, Any]:
        """The next answer frame, as a JSON object."""
        assert self.process is not None
        stdout = self.process.stdout
        assert stdout is not None
        (size,) = LENGTH.unpack(await stdout.readexactly(LENGTH.size))
        if size > MAX_ANSWER_BYTES:
            raise WorkerFailed(f"a page worker answered {size:,} bytes")
        answer = orjson.loads(await stdout.readexactly(size))
        if not isinstance(answer, dict):
            raise WorkerFailed("a page worker answered something other than a JSON object")
        return answer

    async def stop(self) -> None:
        """Kill the process (a new one starts for the next request)."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


class PageWorkers:
    """Parses fetched pages, robots.txt files and sitemaps in ``workers`` processes, each request bounded by
    ``timeout_seconds`` and each process by ``memory_bytes`` of address space; with ``workers=0`` inline, in
    the event loop and unbounded (tests and debugging)."""

    def __init__(
        self,
        workers: int,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        memory_bytes: int | None = DEFAULT_MEMORY_BYTES,
    ) -> None:
        self.timeout_seconds = timeout_seconds
        self._workers = [_Worker(memory_bytes) for _ in range(workers)]
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        for worker in self._workers:
            self._idle.put_nowait(worker)

    @property
    def pids(self) -> list[int]:
        """Process ids of the workers running now."""
        return [worker.process.pid for worker in self._workers if worker.process is not None]

    async def start(self) -> None:
        """Start every worker now, so the first pages do not wait for them."""
        await asyncio.gather(*(worker.ensure_started() for worker in self._workers))

    async def aclose(self) -> None:
        """Stop every worker (a later request starts one again)."""
        await asyncio.gather(*(worker.stop() for worker in self._workers))

    async def request(
        self, header: dict[str, Any], content: bytes = b"", *, wait_seconds: float | None = None
    ) -> dict[str, Any]:
        """A worker's answer to one request (see ``page_worker.handle``); ``WorkerTimeout`` once it outlives
        the time limit, ``WorkerFailed`` when the worker dies or reports an error, ``WorkersBusy`` when none
        came free within ``wait_seconds`` (None: wait as long as it takes)."""
        encoded = orjson.dumps(header)
        if self._workers:
            answer = await self._ask_a_worker(frame(encoded) + frame(content), wait_seconds)
        else:
            answer = orjson.loads(respond(encoded, content))
        if "worker_error" in answer:
            failure = WorkerOutOfMemory if answer.get("memory") else WorkerFailed
            raise failure(str(answer["worker_error"]))
        return answer

    async def _ask_a_worker(self, request: bytes, wait_seconds: float | None) -> dict[str, Any]:
        try:
            async with asyncio.timeout(wait_seconds):
                worker = await self._idle.get()
        except TimeoutError as error:
            raise WorkersBusy(f"no page worker came free within {wait_seconds:g} s") from error
        try:
            answer = await worker.ask(request, self.timeout_seconds)
            if answer.get("memory") or worker.near_memory_limit():
                await worker.stop()  # its peak stays at the limit: a fresh one serves the next request
            return answer
        except TimeoutError as error:
            await worker.stop()
            raise WorkerTimeout(f"took longer than {self.timeout_seconds:g} s to parse") from error
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            await worker.stop()
            raise WorkerFailed("a page worker died") from error
        except BaseException:
            await worker.stop()  # cancelled or confused mid-request: its answer must not reach the next one
            raise
        finally:
            self._idle.put_nowait(worker)

    async def parse(self, url: str, result: FetchResult, start: str) -> PageOutcome:
        """The outcome of one fetched page (see ``page_parser.parse_page``); a page that takes too long or
        kills its worker fails alone."""
        header = {
            "task": "page",
            "url": url,
            "start": start,
            "fetched": {n: getattr(result, n) for n in FETCHED_FIELDS},
        }
        try:
            return outcome_from_json(await self.request(header, result.body))
        except WorkerTimeout as error:
            logger.warning("a page took too long to parse; its worker was replaced", extra={"url": url})
            return PageOutcome(url, PageKind.FAILED, error=f"{url}: page {error}", failure_kind="timeout")
        except WorkerOutOfMemory as error:
            logger.warning("a page needed too much memory to parse", extra={"url": url})
            return PageOutcome(url, PageKind.FAILED, error=f"{url}: {error}", failure_kind="memory")
        except WorkerFailed as error:
            logger.warning("a page worker failed on a page", extra={"url": url, "reason": str(error)})
            return PageOutcome(url, PageKind.FAILED, error=f"{url}: the parser crashed", failure_kind="internal")

    async def extract_html(self, markup: bytes) -> ParsedDocument:
        """The document of an HTML body (UTF-8) that is not a crawled page (a knowledge-base article);
        ``DocumentRefused`` saying why when it takes too long or needs too much memory. A worker that is busy
        (``WorkersBusy``, waited out) or fails to start or dies (``WorkerFailed``, retried a few times, then
        dead-lettered) does not refuse the body: that may be the host's doing, not the article's."""
        try:
            # The wait for a free worker is bounded apart from the parse, so a crawl keeping the workers busy
            # shows as a transient failure instead of eating the handler's time limit as a slow message.
            answer = await self.request({"task": "html"}, markup, wait_seconds=2 * self.timeout_seconds)
        except WorkerTimeout as error:
            raise DocumentRefused(f"its HTML {error}", failure_type="timeout") from error
        except WorkerOutOfMemory as error:
            raise DocumentRefused(f"its HTML: {error}", failure_type="memory") from error
        return document_from_json(answer)

    async def robots(self, body: bytes, user_agent: str) -> SiteRobots:
        """A site's robots.txt (``body``, already capped) as the crawl holds it."""
        answer = await self.request({"task": "robots", "user_agent": user_agent}, body)
        return SiteRobots(
            user_agent,
            body=body,
            sitemaps=tuple(answer["sitemaps"]),
            crawl_delay=answer["crawl_delay"],
            rules=answer["rules"],
        )

    async def judge(self, robots: SiteRobots, start: str, urls: list[str]) -> list[str]:
        """Those of ``urls`` on ``start``'s site that ``robots`` allows."""
        header = {
            "task": "judge",
            "start": start,
            "urls": urls,
            "user_agent": robots.user_agent,
            "parsed": robots.body is not None,
            "allow_all": robots.allow_all,
        }
        answer = await self.request(header, robots.body or b"")
        return [urls[index] for index in answer["allowed"]]

    async def sitemap(self, body: bytes, limit: int) -> Sitemap:
        """The first ``limit`` page URLs and the nested sitemaps a sitemap lists; nothing if it cannot be read
        in time."""
        try:
            answer = await self.request({"task": "sitemap", "limit": limit}, body)
        except (WorkerTimeout, WorkerFailed) as error:
            logger.warning("a sitemap was not read", extra={"reason": str(error)})
            return Sitemap()
        return Sitemap(pages=list(answer["pages"]), sitemaps=list(answer["sitemaps"]))
