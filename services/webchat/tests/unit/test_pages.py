"""What a browser loads: the widget script and the demo page, whose ids are escaped wherever they land."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from webchat_service.entrypoints import pages


async def get(path: str) -> httpx.Response:
    app = FastAPI()
    app.include_router(pages.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://webchat.test") as client:
        return await client.get(path)


def demo_path(account_id: str, channel_id: str) -> str:
    """The demo page's path, each id escaped as a browser's ``encodeURIComponent`` would."""
    return f"/demo/{quote(account_id, safe='')}/{quote(channel_id, safe='')}"


def widget_tag(page: str) -> dict[str, str]:
    """The attributes of the page's ``<script src="/widget.js" ...>``, unescaped as a browser reads them."""
    tag = re.search(r"<script src=\"/widget.js\"([^>]*)>", page)
    assert tag is not None
    return {name: html.unescape(value) for name, value in re.findall(r'([\w-]+)="([^"]*)"', tag[1])}


@pytest.mark.parametrize(
    ("path", "media_type", "holding"),
    [
        ("/widget.js", "text/javascript; charset=utf-8", "new WebSocket("),
        ("/widget.css", "text/css; charset=utf-8", ".ca-webchat-panel"),
        ("/demo.css", "text/css; charset=utf-8", "body"),
    ],
)
async def test_the_widget_and_its_styles_are_cached_for_five_minutes(path: str, media_type: str, holding: str) -> None:
    response = await get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert holding in response.text


async def test_the_widget_escapes_the_ids_in_its_address_and_links_its_stylesheet() -> None:
    widget = (await get("/widget.js")).text
    # The ids travel escaped, so a channel id holding "/" (a page path) stays one path segment.
    assert '"/v1/webchat/" + encodeURIComponent(account) + "/" + encodeURIComponent(channel)' in widget
    # Its looks are a stylesheet of the server's, never inline style a strict host page would block.
    assert 'new URL("/widget.css", server)' in widget
    assert 'el("style")' not in widget
    assert 'createElement("style")' not in widget


async def test_the_demo_page_allows_no_inline_script_or_style_and_no_framing() -> None:
    response = await get(demo_path("acme", "website"))
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert (policy["script-src"], policy["style-src"], policy["connect-src"]) == ("'self'", "'self'", "'self'")
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<style" not in response.text
    assert " style=" not in response.text
    assert '<link rel="stylesheet" href="/demo.css">' in response.text


@pytest.mark.parametrize("channel_id", ["website", "site/main", "/pricing/", "a b?c=d#e%f", "ünïcødé"])
async def test_the_demo_page_embeds_the_widget_for_any_channel_id_admin_api_accepts(channel_id: str) -> None:
    response = await get(demo_path("acme", channel_id))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    tag = widget_tag(response.text)
    assert tag == {"data-account": "acme", "data-channel": channel_id, "data-title": "Chat with us"}


async def test_an_id_reading_like_a_placeholder_is_shown_as_it_is() -> None:
    response = await get(demo_path("{{channel}}", "{{account}}"))
    assert widget_tag(response.text)["data-account"] == "{{channel}}"
    assert widget_tag(response.text)["data-channel"] == "{{account}}"


async def test_ids_with_quotes_and_angle_brackets_stay_inside_their_attributes_and_text() -> None:
    hostile = "\"><script>alert(1)</script><x y='"
    response = await get(demo_path("acme", hostile))
    assert response.status_code == 200
    assert "<script>alert(1)" not in response.text
    assert response.text.count("<script") == 1  # the widget's own tag, and no other
    assert widget_tag(response.text)["data-channel"] == hostile
    assert f"<code>{html.escape(hostile, quote=True)}</code>" in response.text
    assert f"<title>Webchat demo: acme / {html.escape(hostile, quote=True)}</title>" in response.text


@pytest.mark.parametrize(
    ("path", "words"),
    [
        (demo_path("acme", "web\x00"), "channel id must not contain control characters"),
        (demo_path("acme", "web\n"), "channel id must not contain control characters"),
        (demo_path("acme\x1b", "web"), "account id must not contain control characters"),
        (demo_path("acme", "c" * 201), "channel id must be 1-200 characters long (got 201)"),
        (demo_path("a" * 101, "web"), "account id must be 1-100 characters long (got 101)"),
        ("/demo/acme/", "channel id must be 1-200 characters long (got 0)"),
    ],
)
async def test_ids_the_inbound_contract_refuses_have_no_demo_page(path: str, words: str) -> None:
    response = await get(path)
    assert response.status_code == 404
    assert response.json() == {"detail": words}
