"""What a browser loads: the embeddable widget and a demo page per account and channel."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Response
from fastapi.responses import HTMLResponse

from webchat_service.domain.sessions import valid_path_ids

router = APIRouter()


@cache
def _asset(name: str) -> str:
    return files("webchat_service").joinpath("static", name).read_text(encoding="utf-8")


@router.get("/widget.js", summary="The embeddable chat widget (vanilla JavaScript, no dependencies)")
async def widget() -> Response:
    """The widget: add ``<script src=".../widget.js" data-account="..." data-channel="...">`` to a page."""
    return Response(
        _asset("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/demo/{account_id}/{channel_id}", response_class=HTMLResponse, summary="A page with the widget")
async def demo(account_id: str, channel_id: str) -> HTMLResponse:
    """A page that embeds the widget for one account's live-chat channel."""
    if not valid_path_ids(account_id, channel_id):
        raise HTTPException(404, "account and channel ids must be 1-100 and 1-200 characters")
    page = (
        _asset("demo.html")
        .replace("{{account}}", html.escape(account_id, quote=True))
        .replace("{{channel}}", html.escape(channel_id, quote=True))
    )
    return HTMLResponse(
        page,
        headers={
            "Content-Security-Policy": "default-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )
