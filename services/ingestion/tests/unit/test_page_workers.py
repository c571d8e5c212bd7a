"""The page workers: real worker processes (no network) parse pages, robots.txt files and sitemaps, each
request bounded in time."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from customer_agent_shared.messaging.failures import FailureKind, classify
from customer_agent_shared.testing.plumbing import eventually
from ingestion_service.adapters import page_worker_pool
from ingestion_service.adapters.page_parser import PageKind, parse_page
from ingestion_service.adapters.page_worker_pool import (
    DEFAULT_TIMEOUT_SECONDS,
    PageWorkers,
    WorkerFailed,
    WorkersBusy,
)
from ingestion_service.adapters.parse_limits import near_limit
from ingestion_service.adapters.safe_http import FetchResult

from .. import samples

DANISH_PAGE = (
    "<html lang='en'><head><title>Levering</title><link rel='canonical' href='/levering'></head><body>"
    "<nav><a href='/menu'>Menu</a></nav><main><h1>Levering</h1>"
    "<p>Vi sender alle ordrer inden for to hverdage, og leveringen tager normalt tre til fem dage.</p>"
    "<p>Se <a href='betaling.html#kort'>betaling</a>, <a href='https://fragt.test/'>fragt</a> og "
    "<a href='logo.png'>logo</a>.</p></main></body></html>"
)
PAGE_URL = "https://shop.test/info/levering.html"
START = "https://shop.test/"


def _fetched(body: str, url: str = PAGE_URL) -> FetchResult:
    return FetchResult(url, url, 200, "text/html", body.encode(), None, None, "utf-8")


@pytest.fixture
async def one_worker() -> AsyncIterator[PageWorkers]:
    """One started worker whose requests may take half a second."""
    workers = PageWorkers(1, timeout_seconds=0.5)
    await workers.start()
    try:
        yield workers
    finally:
        await workers.aclose()


async def test_a_page_parsed_in_a_worker_process_equals_one_parsed_inline(one_worker: PageWorkers) -> None:
    in_worker = await one_worker.parse(PAGE_URL, _fetched(DANISH_PAGE), START)
    assert in_worker == parse_page(PAGE_URL, _fetched(DANISH_PAGE), START)
    assert in_worker.kind is PageKind.CHANGED
    assert in_worker.language == "da"  # detected from the text, not the page's wrong lang attribute
    # Navigation links are followed (the logo is not a page, the carrier another site); the canonical URL is a
    # link of its own.
    assert in_worker.links == [
        "https://shop.test/menu",
        "https://shop.test/info/betaling.html",
        "https://shop.test/levering",
    ]
    assert in_worker.document is not None
    assert in_worker.document.canonical_url == "https://shop.test/levering"
    assert "Menu" not in in_worker.document.text


async def test_a_page_without_text_fails_with_its_links() -> None:
    outcome = await PageWorkers(0).parse(
        START, _fetched("<html><body><a href='/a.html'>&nbsp;</a></body></html>", START), START
    )
    assert (outcome.kind, outcome.failure_kind, outcome.links) == (
        PageKind.FAILED,
        "empty",
        ["https://shop.test/a.html"],
    )


async def test_a_page_over_the_time_limit_fails_and_its_worker_is_replaced(one_worker: PageWorkers) -> None:
    [first_pid] = one_worker.pids
    started = time.monotonic()
    outcome = await one_worker.parse(PAGE_URL, _fetched(samples.deeply_nested_html()), START)
    assert time.monotonic() - started < 5  # minutes unbounded
    assert (outcome.kind, outcome.failure_kind) == (PageKind.FAILED, "timeout")
    assert outcome.error == f"{PAGE_URL}: page took longer than 0.5 s to parse"
    with pytest.raises(ProcessLookupError):
        os.kill(first_pid, 0)
    after = await one_worker.parse(PAGE_URL, _fetched(DANISH_PAGE), START)
    assert after.kind is PageKind.CHANGED
    assert one_worker.pids != [first_pid]


async def test_a_worker_that_died_while_idle_is_replaced_before_its_next_page(one_worker: PageWorkers) -> None:
    [pid] = one_worker.pids
    os.kill(pid, signal.SIGKILL)

    async def reaped() -> bool:
        return _exited(pid)

    await eventually(reaped, "the killed worker reaped")
    outcome = await one_worker.parse(PAGE_URL, _fetched(DANISH_PAGE), START)
    assert outcome.kind is PageKind.CHANGED
    assert one_worker.pids != [pid]


def _exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_robots_txt_is_read_and_links_judged_in_a_worker(one_worker: PageWorkers) -> None:
    body = b"User-agent: *\nDisallow: /private/\nAllow: /private/open\nSitemap: https://shop.test/map.xml\n"
    robots = await one_worker.robots(body, "CustomerAgentBot/1.0")
    assert (robots.rules, robots.sitemaps, robots.crawl_delay) == (2, ("https://shop.test/map.xml",), None)
    urls = [
        "https://shop.test/a",
        "https://shop.test/private/x",
        "https://shop.test/private/open",
        "https://elsewhere.test/a",
    ]
    assert await one_worker.judge(robots, START, urls) == ["https://shop.test/a", "https://shop.test/private/open"]


async def test_a_sitemap_is_read_in_a_worker_up_to_the_limit(one_worker: PageWorkers) -> None:
    urls = "".join(f"<url><loc>https://shop.test/p{index}</loc></url>" for index in range(5))
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()
    sitemap = await one_worker.sitemap(body, 3)
    assert sitemap.pages == ["https://shop.test/p0", "https://shop.test/p1", "https://shop.test/p2"]


async def test_a_sitemap_over_the_time_limit_lists_nothing(one_worker: PageWorkers) -> None:
    [first_pid] = one_worker.pids
    # The largest sitemap a crawl reads takes about 1.3 s of CPU to parse, too near the fixture's 0.5 s limit.
    one_worker.timeout_seconds = 0.1
    sitemap = await one_worker.sitemap(samples.padded_sitemap(["https://shop.test/p"]).encode(), 1000)
    assert (sitemap.pages, sitemap.sitemaps) == ([], [])
    assert first_pid not in one_worker.pids


async def test_a_request_the_worker_cannot_answer_fails_and_the_worker_stays(one_worker: PageWorkers) -> None:
    pids = one_worker.pids
    with pytest.raises(WorkerFailed, match="unknown task 'nothing'"):
        await one_worker.request({"task": "nothing"})
    assert one_worker.pids == pids


def _resident_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) // 1024


async def test_a_worker_gives_back_the_memory_of_a_large_page(one_worker: PageWorkers) -> None:
    [pid] = one_worker.pids
    before = _resident_mib(pid)
    wide = "<html><body><main>" + '<div class="c"><span>x</span></div>' * 130_000 + "</main></body></html>"
    one_worker.timeout_seconds = DEFAULT_TIMEOUT_SECONDS  # a page of 5 MB may take a second or two
    outcome = await one_worker.parse(PAGE_URL, _fetched(wide), START)
    assert outcome.kind is PageKind.CHANGED
    assert _resident_mib(pid) - before < 40  # its tree alone is over 100 MiB


async def test_a_page_needing_more_memory_than_a_worker_may_use_fails_alone() -> None:
    workers = PageWorkers(1, timeout_seconds=30.0, memory_bytes=384 * 1024 * 1024)
    try:
        # 960,000 headings (4.8 MB): a worker, 290 MiB idle, peaks near 990 MiB parsing them without a limit,
        # far past this one (links, 300,000 in 4.8 MB, peaked at 485 MiB: too near it).
        greedy = await workers.parse(PAGE_URL, _fetched("<h2>x" * 960_000), START)
        assert greedy.kind is PageKind.FAILED
        assert greedy.failure_kind == "memory"
        assert greedy.error is not None
        assert "more memory than a page worker may use" in greedy.error
        after = await workers.parse(PAGE_URL, _fetched(DANISH_PAGE), START)
        assert after.kind is PageKind.CHANGED
    finally:
        await workers.aclose()


async def test_a_worker_that_came_near_its_memory_limit_is_replaced_even_when_it_succeeded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its peak never falls: a later ordinary failure would otherwise read as "out of memory".
    workers = PageWorkers(1, timeout_seconds=30.0)
    try:
        await workers.start()
        [first] = workers.pids
        assert (await workers.parse(PAGE_URL, _fetched(DANISH_PAGE), START)).kind is PageKind.CHANGED
        assert workers.pids == [first]
        monkeypatch.setattr(page_worker_pool, "near_limit", lambda pid, limit: pid == first)
        assert (await workers.parse(PAGE_URL, _fetched(DANISH_PAGE), START)).kind is PageKind.CHANGED
        assert workers.pids == []  # stopped after its answer
        assert (await workers.parse(PAGE_URL, _fetched(DANISH_PAGE), START)).kind is PageKind.CHANGED
        assert len(workers.pids) == 1
        assert workers.pids != [first]
    finally:
        await workers.aclose()


def test_the_peak_address_space_is_read_from_proc() -> None:
    peak_kib = next(
        int(line.split()[1])
        for line in Path("/proc/self/status").read_text().splitlines()
        if line.startswith("VmPeak:")
    )
    assert near_limit("self", peak_kib * 1024)
    assert not near_limit("self", peak_kib * 1024 * 2)
    assert not near_limit(2**22 + 12345, 1)  # no such process: nothing to say


async def test_a_request_waits_a_bounded_time_for_a_busy_worker_then_fails_as_transient(
    one_worker: PageWorkers,
) -> None:
    article = b"<html><body><p>Returns are free.</p></body></html>"
    slow = asyncio.create_task(one_worker.parse(PAGE_URL, _fetched(samples.deeply_nested_html()), START))
    await asyncio.sleep(0.05)  # the one worker is taken by the page until its 0.5 s limit
    with pytest.raises(WorkersBusy, match=r"no page worker came free within 0\.1 s") as busy:
        await one_worker.request({"task": "html"}, article, wait_seconds=0.1)
    assert classify(busy.value).kind is FailureKind.TRANSIENT  # waited out, never the article's fault
    await slow
    document = await one_worker.extract_html(article)
    assert "Returns are free." in document.text
