"""The webchat in a real headless Chromium: a visitor on the demo page, in English and in Danish.

Runs last among the end-to-end tests (file order) against the running stack: content is added
through the admin REST API, then everything the visitor does goes through the browser, the widget
and webchat's WebSocket; the agent is paused over REST and a new chat is handed to a person.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.e2e.browser import DemoPage, browser_missing, chromium
from tests.e2e.journey import AdminClient

pytestmark = pytest.mark.e2e

DELIVERY_PAGE = """<!doctype html><html lang="en"><head><title>Delivery times</title></head>
<body><main><h1>Delivery times</h1><p>We ship every order within two business days. Standard delivery to
Denmark takes three to five days and costs 49 DKK. Orders above 500 DKK ship for free.</p></main></body></html>"""

SHORT_QUESTION = "Do you have a physical store?"
SHORT_ANSWER = "No, we only sell online."


@pytest.fixture
def delivery_site(tmp_path: Path) -> Iterator[str]:
    """A one-page website on loopback, cited by the answers about delivery."""
    (tmp_path / "delivery.html").write_text(DELIVERY_PAGE)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/delivery.html"
    server.shutdown()


@pytest.fixture
def browser_available() -> None:
    """Fail (never skip) when Debian's Chromium or its driver is missing."""
    missing = browser_missing()
    if missing:
        pytest.fail(missing)


async def set_up(admin: AdminClient, site_url: str) -> None:
    """An agent on a live-chat channel that hands off to Anna, a short answer and a cited web page."""
    await admin.call("PUT", "/agent", json={"name": "Ava", "role": "customer_service", "personality": "friendly"})
    await admin.call(
        "PUT", "/users", json=[{"id": "u-anna", "name": "Anna", "paid_seat": True, "available": True, "team_ids": []}]
    )
    handoff = {"mode": "handoff", "assign_to": [{"kind": "user", "id": "u-anna"}], "update_avatar": True}
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": "web", "handoff": handoff})
    short = await admin.call(
        "POST", "/sources", json={"kind": "short_answer", "question": SHORT_QUESTION, "answer": SHORT_ANSWER}
    )
    page = await admin.call("POST", "/sources", json={"kind": "url", "url": site_url, "import_related": False})
    for source in (short, page):
        await admin.wait_source_ready(source["id"])


async def test_a_visitor_chats_on_the_demo_page_in_english_and_danish_then_meets_a_person(
    admin: AdminClient, delivery_site: str, browser_available: None
) -> None:
    account = admin.account_id
    await set_up(admin, delivery_site)
    await admin.wait_for_routing(None)  # the channel has reached routing: a new thread goes to the agent

    def english_visitor() -> None:
        with chromium("en-US") as driver:
            page = DemoPage(driver, account, "web")
            page.open_chat()
            short = page.ask(SHORT_QUESTION)
            assert SHORT_ANSWER.rstrip(".") in short.text
            assert short.language.startswith("en")
            thread = page.thread_id
            cited = page.ask("How long does delivery to Denmark take?")
            assert "three to five days" in cited.text
            assert any(href == delivery_site for _, href in cited.links), cited.links
            # A reload resumes the same thread (sessionStorage) over a new socket.
            page.open_chat()
            assert page.thread_id == thread

    def danish_visitor() -> None:
        with chromium("da-DK") as driver:
            page = DemoPage(driver, account, "web")
            page.open_chat()
            cited = page.ask("Hvor lang tid tager levering til Danmark?")
            assert cited.language.startswith("da")
            assert any(href == delivery_site for _, href in cited.links), cited.links
            short = page.ask(SHORT_QUESTION)
            assert short.language.startswith("da")
            assert SHORT_ANSWER.rstrip(".") in short.text

    await asyncio.to_thread(english_visitor)
    await asyncio.to_thread(danish_visitor)

    await admin.call("POST", "/agent/pause")
    await admin.wait_for_routing("agent_paused")  # the paused configuration has reached routing
    try:

        def visitor_while_paused() -> str:
            with chromium("en-US") as driver:
                page = DemoPage(driver, account, "web")
                page.open_chat()
                return page.ask_for_handoff("Hello, is anyone there?")

        assert await asyncio.to_thread(visitor_while_paused) == "u-anna took over"
    finally:
        await admin.call("POST", "/agent/resume")
