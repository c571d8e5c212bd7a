"""Fixtures for end-to-end tests: the five running services, driven only through REST and Kafka."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from tests.e2e.browser import browser_missing, chromium
from tests.e2e.journey import AdminClient, ChannelProvider

SHIPPING_PAGE = """<!doctype html><html lang="en"><head><title>Shipping and delivery</title></head>
<body><nav>Home | Shop | Contact</nav><main><h1>Shipping and delivery</h1>
<p>We ship every order within two business days. Standard delivery to Denmark takes three to five days
and costs 49 DKK. Orders above 500 DKK ship for free.</p>
<h2>Tracking your parcel</h2><p>You receive a tracking link by e-mail as soon as the parcel leaves our warehouse.</p>
</main><footer>© Example Shop</footer></body></html>"""

RETURNS_PAGE = """<!doctype html><html lang="en"><head><title>Returns and refunds</title></head>
<body><main><h1>Returns and refunds</h1><p>You can return any item within 30 days of delivery for a full refund.
Print the return label from your account and drop the parcel at any post office.</p></main></body></html>"""


@pytest.fixture
def local_site(tmp_path: Path) -> Iterator[str]:
    """A small website on loopback, as a customer's site would be."""
    (tmp_path / "index.html").write_text(
        '<html><head><title>Example Shop</title></head><body><a href="shipping.html">Shipping</a>'
        ' <a href="returns.html">Returns</a></body></html>'
    )
    (tmp_path / "shipping.html").write_text(SHIPPING_PAGE)
    (tmp_path / "returns.html").write_text(RETURNS_PAGE)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()


@pytest.fixture
async def operator_http() -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for admin-api with the operator's bootstrap token."""
    base = f"http://127.0.0.1:{os.environ.get('ADMIN_HTTP_PORT', '8000')}"
    token = os.environ.get("ADMIN_BOOTSTRAP_TOKEN", "dev-bootstrap-token")
    async with httpx.AsyncClient(base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


@pytest.fixture
async def admin(operator_http: httpx.AsyncClient) -> AsyncIterator[AdminClient]:
    """A fresh account with an edit key; its sources are removed afterwards."""
    client = await AdminClient.create_account(operator_http)
    yield client
    problems = await client.remove_sources()
    if problems:
        logging.getLogger(__name__).warning("e2e account %s kept content: %s", client.account_id, problems)
    await client.close()


@pytest.fixture
async def provider() -> AsyncIterator[ChannelProvider]:
    """A channel provider publishing with a plain Kafka producer and reading the outbound topics."""
    channel_provider = ChannelProvider(os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    await channel_provider.start()
    yield channel_provider
    await channel_provider.stop()


@pytest.fixture
def console_browser() -> Iterator[WebDriver]:
    """A headless Chromium (Debian's, as every browser test) for the admin console or webchat's demo page; fails
    (never skips) without it."""
    missing = browser_missing()
    if missing:
        pytest.fail(missing)
    with chromium("en-US") as driver:
        yield driver
