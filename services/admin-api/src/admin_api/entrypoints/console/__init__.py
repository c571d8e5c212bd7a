"""The web console at /console/: server-rendered pages over the REST API, kept out of its OpenAPI schema."""

from __future__ import annotations

import logging

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.requests import Request

from admin_api.entrypoints.console import content, insights, people, setup, talk
from admin_api.entrypoints.console.client import ApiRefused, SignedIn
from admin_api.entrypoints.console.rendering import (
    STATIC_DIR,
    ConsoleStatic,
    missing_assets,
    render,
    render_refusal,
)

logger = logging.getLogger(__name__)

PAGES = {
    "content": "Content",
    "agent": "Agent",
    "channels": "Channels & handoff",
    "people": "Users & teams",
    "preview": "Preview chat",
    "performance": "Performance",
    "gaps": "Knowledge gaps",
    "credits": "Credits",
    "audit": "Audit log",
}
PREFIX = "/console"

shell = APIRouter(prefix=PREFIX, include_in_schema=False)


@shell.get("", response_class=RedirectResponse)
async def console_root() -> RedirectResponse:
    """/console → /console/ (relative links resolve under it)."""
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@shell.get("/", response_class=HTMLResponse)
@shell.get("/{page}", response_class=HTMLResponse)
async def console_page(request: Request, page: str = "content") -> HTMLResponse:
    """The page shell: no data, no key; the browser signs in and fetches the page's fragment with its key."""
    if page not in PAGES:
        return render(request, "not_found.html", {"pages": PAGES}, status_code=404)
    return render(request, "shell.html", {"pages": PAGES, "page": page, "missing_assets": missing_assets()})


@shell.get("/fragments/session", response_class=HTMLResponse)
async def session_fragment(request: Request, console: SignedIn) -> HTMLResponse:
    """Who is signed in: the key's account and whether it may edit."""
    return render(request, "session.html", {"console": console})


def install_console(app: FastAPI) -> None:
    """Serve the console, its fragments and its static assets on ``app``."""
    missing = missing_assets()
    if missing:
        logger.warning("console assets missing (run 'make install' to build them): %s", ", ".join(missing))
    app.add_exception_handler(ApiRefused, render_refusal)
    app.mount(f"{PREFIX}/static", ConsoleStatic(directory=STATIC_DIR), name="console-static")
    app.include_router(shell)
    for module in (content, talk, setup, people, insights):
        app.include_router(module.router)
