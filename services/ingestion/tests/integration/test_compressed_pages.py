"""A real HTTP server sends compressed pages: they are inflated with the page limit held all along."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from ingestion_service.adapters.safe_http import FetchLimits, FetchRefused, SafeFetcher
from ingestion_service.domain.network_policy import AddressPolicy, parse_networks

pytestmark = pytest.mark.integration

PAGE = ("<html><body><p>" + "Delivery takes three days. " * 200 + "</p></body></html>").encode()
LIMIT = 1_000_000


def _bomb(size: int) -> bytes:
    """``size`` zero bytes, gzipped a megabyte at a time (never held whole)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    megabyte = bytes(1 << 20)
    parts = [packer.compress(megabyte) for _ in range(size >> 20)]
    return b"".join([*parts, packer.flush()])


BODIES: dict[str, tuple[bytes, str]] = {
    "/gzip": (gzip.compress(PAGE), "gzip"),
    "/members": (gzip.compress(PAGE[:100]) + gzip.compress(PAGE[100:]), "gzip"),
    "/deflate": (zlib.compress(PAGE), "deflate"),
    "/raw-deflate": (zlib.compress(PAGE)[2:-4], "deflate"),
    "/bomb": (_bomb(64 * LIMIT), "gzip"),
    "/stacked": (gzip.compress(_bomb(128 * LIMIT)), "gzip, gzip"),
    "/brotli": (b"not really brotli", "br"),
}


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """An aiohttp server on 127.0.0.1 answering each path with its body and Content-Encoding as given."""

    async def handle(request: web.Request) -> web.Response:
        body, encoding = BODIES[request.path]
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": encoding})

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    """The crawler's fetcher, allowed to reach loopback."""
    policy = AddressPolicy(parse_networks("127.0.0.0/8"))
    fetcher = SafeFetcher(policy, user_agent="CustomerAgentBot/test", limits=FetchLimits(max_bytes=LIMIT))
    try:
        yield fetcher
    finally:
        await fetcher.aclose()


@pytest.mark.parametrize("path", ["/gzip", "/members", "/deflate", "/raw-deflate"])
async def test_compressed_pages_arrive_whole(server: str, fetcher: SafeFetcher, path: str) -> None:
    result = await fetcher.fetch(server + path)
    assert result.body == PAGE


@pytest.mark.parametrize(("path", "kind"), [("/bomb", "too_big"), ("/stacked", "encoding"), ("/brotli", "encoding")])
async def test_bombs_and_unasked_encodings_are_refused_within_the_limit(
    server: str, fetcher: SafeFetcher, path: str, kind: str
) -> None:
    await fetcher.fetch(server + "/gzip")  # the first request's one-time setup (~7.5 MB) is not the bomb's
    tracemalloc.start()
    try:
        with pytest.raises(FetchRefused) as refused:
            await fetcher.fetch(server + path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.kind == kind
    assert peak < 4 * LIMIT  # before: a 660-byte 'gzip, gzip' page peaked at 603 MiB
