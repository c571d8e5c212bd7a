"""What a browser loads: the embeddable widget and a demo page per account and channel."""

from __future__ import annotations

import html
import re
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import HTMLResponse

from webchat_service.domain.sessions import path_ids_refusal
from webchat_service.entrypoints import paths  # noqa: F401  (registers the {channel_id} parameter)

router = APIRouter()

_PLACEHOLDER = re.compile(r"\{\{(account|channel)\}\}")
ASSET_HEADERS = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
DEMO_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",  # the WebSocket: 'self' covers ws: and wss: of this host
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",  # a page of its own; sites embed the widget's script, never this page
    )
)
DEMO_HEADERS = {
    "Content-Security-Policy": DEMO_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _asset(name: str) -> str:
    return files("webchat_service").joinpath("static", name).read_text(encoding="utf-8")


@router.get("/widget.js", summary="The embeddable chat widget (vanilla JavaScript, no dependencies)")
async def widget() -> Response:
    """The widget: add ``<script src=".../widget.js" data-account="..." data-channel="...">`` to a page."""
    return Response(_asset("widget.js"), media_type="text/javascript; charset=utf-8", headers=ASSET_HEADERS)


@router.get("/widget.css", summary="The widget's stylesheet (widget.js links it)")
async def widget_style() -> Response:
    """The widget's looks, a file rather than inline style, so host pages need no ``'unsafe-inline'``."""
    return Response(_asset("widget.css"), media_type="text/css; charset=utf-8", headers=ASSET_HEADERS)


@router.get("/demo.css", include_in_schema=False)
async def demo_style() -> Response:
    """The demo page's looks."""
    return Response(_asset("demo.css"), media_type="text/css; charset=utf-8", headers=ASSET_HEADERS)


@router.get("/demo/{account_id}/{channel_id:channel}", response_class=HTMLResponse, summary="A page with the widget")
async def demo(account_id: str, channel_id: str) -> HTMLResponse:
    """A page that embeds the widget for one account's live-chat channel (its id may hold ``/``)."""
    refusal = path_ids_refusal(account_id, channel_id)
    if refusal is not None:
        raise HTTPException(404, refusal)
    ids = {"account": html.escape(account_id, quote=True), "channel": html.escape(channel_id, quote=True)}
    # One pass, so an id that reads "{{channel}}" is shown as it is, not replaced by the other id.
    page = _PLACEHOLDER.sub(lambda placeholder: ids[placeholder[1]], _asset("demo.html"))
    return HTMLResponse(page, headers=DEMO_HEADERS)
