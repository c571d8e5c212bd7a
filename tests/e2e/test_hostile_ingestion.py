"""A hostile website and hostile uploads never make the running ingestion's /readyz slower than 1 s, nor kill it.

The site, on loopback, has a robots.txt of a megabyte of backtracking wildcard rules and pages whose thousands
of links each meet all of them, a page just under the size limit whose markup takes seconds to parse, a page
nested so deeply that parsing it would take minutes, a sitemap of 5 MB, gzip bombs (one stacked) and a response
that drips a byte at a time; the uploads are the hostile corpus of ingestion's own tests. Parsing any of it on
ingestion's event loop, or matching the links against robots.txt there without bound, holds every request of
the process, /readyz included, for seconds; without a bound in the page workers, the crawl takes hours.
"""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import os
import re
import threading
import time
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import ModuleType

import httpx
import pytest
from aiohttp import web

from tests.e2e import stack_control
from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e

INGESTION = f"http://127.0.0.1:{os.environ.get('INGESTION_HTTP_PORT', '8001')}"
READY_WITHIN_SECONDS = 1.0
PROBE_INTERVAL_SECONDS = 0.1
FAN_PAGES = 4
LINKS_PER_PAGE = 2_000
DRIPS = 20  # one byte every half second: the read timeout never fires, the response takes 10 s


def ingestion_samples() -> ModuleType:
    """``services/ingestion/tests/samples.py``, loaded by path: its package is another one named ``tests``."""
    path = stack_control.REPO / "services" / "ingestion" / "tests" / "samples.py"
    spec = importlib.util.spec_from_file_location("ingestion_samples", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gzip_of_zeros(size: int) -> bytes:
    """``size`` zero bytes gzipped a megabyte at a time (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    parts = [packer.compress(bytes(1 << 20)) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


def fan_page(number: int) -> str:
    """The next such page, and thousands of links robots.txt disallows (each checked against every rule)."""
    onward = f'<a href="/fan/{number + 1}">next</a>' if number + 1 < FAN_PAGES else ""
    links = "".join(f'<a href="/deep/{number}/{index}/{"a" * 200}">x</a>' for index in range(LINKS_PER_PAGE))
    return f"<html><body><main><h1>Fan {number}</h1><p>Fan-out page {number}.</p>{onward}{links}</main></body></html>"


class HostileSite:
    """The site's responses, all built before it is served, so that serving never holds the test's loop."""

    def __init__(self) -> None:
        samples = ingestion_samples()
        self.robots = samples.robots_of_many_rules("Disallow: /deep/")
        self.sitemap = ""  # lists /listed, once the site's address is known
        paths = ["/huge", "/nested", "/over-limit", "/bomb", "/stacked", "/slow", "/fan/0"]
        links = "".join(f'<a href="{path}">{path}</a> ' for path in paths)
        self.pages = {
            "/": f"<html><body><main><h1>Welcome</h1><p>Our shop sells tea.</p>{links}</main></body></html>",
            # Just under ingestion's 5 MB page limit: about two seconds of parsing.
            "/huge": "<html><body><main>" + '<div class="c"><span>x</span></div>' * 130_000 + "</main></body></html>",
            "/nested": samples.deeply_nested_html(),
            "/listed": "<html><body><main><h1>Listed</h1><p>Only the sitemap lists this page.</p></main></body></html>",
            "/over-limit": "<html><body><p>" + "word " * 1_300_000 + "</p></body></html>",
            **{f"/fan/{number}": fan_page(number) for number in range(FAN_PAGES)},
        }
        self.encoded = {
            "/bomb": (gzip_of_zeros(64_000_000), "gzip"),
            "/stacked": (gzip.compress(gzip_of_zeros(128_000_000)), "gzip, gzip"),
        }
        self.hits: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        if request.path == "/robots.txt":
            return web.Response(text=self.robots, content_type="text/plain")
        if request.path == "/sitemap.xml":
            return web.Response(text=self.sitemap, content_type="application/xml")
        if request.path == "/slow":
            return await self.drip(request)
        if request.path in self.encoded:
            body, encoding = self.encoded[request.path]
            return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": encoding})
        if request.path in self.pages:
            return web.Response(text=self.pages[request.path], content_type="text/html")
        return web.Response(status=404, text="not found")

    async def drip(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<html><body><p>Slow ")
        for _ in range(DRIPS):
            await asyncio.sleep(0.5)
            await response.write(b"x")
        await response.write(b"</p></body></html>")
        await response.write_eof()
        return response


@pytest.fixture
async def hostile_site() -> AsyncIterator[tuple[str, HostileSite]]:
    """The hostile site on 127.0.0.1 (ingestion runs with loopback allowed, see deploy/local/services.sh)."""
    site = HostileSite()
    app = web.Application()
    app.router.add_get("/{tail:.*}", site.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/"
    site.sitemap = ingestion_samples().padded_sitemap([url + "listed"])
    try:
        yield url, site
    finally:
        await runner.cleanup()


def hostile_uploads() -> dict[str, bytes]:
    """Files that amplify, nest, bomb, exhaust memory or backtrack, as a tenant could upload them."""
    samples = ingestion_samples()
    return {
        "keys.json": samples.amplifying_json(),
        "deep.json": samples.deeply_nested_json(),
        "lists.json": samples.json_of_empty_lists(megabytes=14),
        "field.csv": samples.csv_with_huge_field(),
        "columns.csv": samples.csv_with_many_columns(),
        "run.docx": samples.docx_repeating_one_run(),
        "bomb.docx": samples.zip_bomb_docx(),
        "defaults.cfg": samples.config_repeating_defaults(),
        "entity.xml": samples.XXE_XML,
        "notes.md": ("# a" + " " * 20_000 + "b\n" + "| " + "-  " * 10_000 + "x\n").encode(),
    }


@dataclass(frozen=True)
class Probe:
    """One /readyz request: how long it took and what it answered."""

    seconds: float
    answer: str


class ReadinessProbe(threading.Thread):
    """Asks /readyz every 100 ms from its own thread, so the test's event loop never delays a measurement."""

    def __init__(self) -> None:
        super().__init__(name="readyz-probe", daemon=True)
        self.probes: list[Probe] = []
        self.done = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=INGESTION, timeout=10) as client:
            while not self.done.is_set():
                started = time.perf_counter()
                try:
                    answer = str(client.get("/readyz").status_code)
                except httpx.HTTPError as error:
                    answer = repr(error)
                self.probes.append(Probe(time.perf_counter() - started, answer))
                self.done.wait(PROBE_INTERVAL_SECONDS)

    def stop(self) -> list[Probe]:
        self.done.set()
        self.join()
        return self.probes


async def test_hostile_crawl_and_uploads_keep_ingestion_ready(
    admin: AdminClient, hostile_site: tuple[str, HostileSite]
) -> None:
    url, site = hostile_site
    uploads = hostile_uploads()
    pid = stack_control.service_pid("ingestion")
    probe = ReadinessProbe()
    probe.start()
    try:
        await admin.call("POST", "/sources", json={"kind": "url", "url": url, "import_related": True})
        for name, content in uploads.items():
            await admin.call("POST", "/sources/files", files={"file": (name, content, "application/octet-stream")})
        sources = await admin.wait_sources_settled()
    finally:
        probes = probe.stop()

    assert len(sources) == 1 + len(uploads)
    # The crawl met every hostile part of the site.
    hostile = {"/robots.txt", "/sitemap.xml", "/huge", "/nested", "/bomb", "/stacked", "/slow"}
    assert {*hostile, "/listed", *(f"/fan/{n}" for n in range(FAN_PAGES))} <= set(site.hits)
    assert not [hit for hit in site.hits if hit.startswith("/deep/")], "robots.txt was not applied"
    [crawled] = [source for source in sources if source["kind"] == "url"]
    failures = {failure["url"]: failure["error"] for failure in crawled["recent_failures"]}
    assert re.fullmatch(r".*/nested: page took longer than [0-9.]+ s to parse", failures[url + "nested"])
    late = [probe for probe in probes if probe.seconds >= READY_WITHIN_SECONDS or probe.answer != "200"]
    assert not late, f"{len(late)} of {len(probes)} /readyz answers late or not ready: {late[:10]}"
    assert len(probes) >= 20
    assert stack_control.service_pid("ingestion") == pid
    os.kill(pid, 0)  # still there
    async with httpx.AsyncClient(base_url=INGESTION, timeout=5) as client:
        assert (await client.get("/healthz")).status_code == 200
