"""Rendering of console pages and fragments: templates, security headers, and the API's refusals."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.responses import Response
from starlette.types import Scope

from admin_api.entrypoints.console.client import ApiRefused
from admin_api.entrypoints.console.people_forms import hour_rows, weekdays

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
VENDOR_FILES = ("htmx.min.js", "chart.umd.min.js")

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ConsoleStatic(StaticFiles):
    """The console's script, styles and vendored libraries, each used by a browser only as the type it is served as."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, or StaticFiles' answer, with ``nosniff``."""
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def _when(value: str | None) -> str:
    """An API timestamp as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return "—"
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


templates = Jinja2Templates(directory=HERE / "templates")
templates.env.filters["when"] = _when
templates.env.filters["percent"] = _percent
templates.env.filters["hour_rows"] = hour_rows
templates.env.filters["weekdays"] = weekdays
templates.env.filters["pretty_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def missing_assets() -> list[str]:
    """Vendored browser libraries that were not built (``make install`` builds them)."""
    return [name for name in VENDOR_FILES if not (STATIC_DIR / "vendor" / name).is_file()]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """A template rendered with the console's security headers."""
    response = templates.TemplateResponse(
        request, template, context or {}, status_code=status_code, headers={**SECURITY_HEADERS, **(headers or {})}
    )
    return response


async def render_refusal(request: Request, refused: Exception) -> HTMLResponse:
    """Show a refusal where the console shows messages, in the API's words and with the API's status."""
    assert isinstance(refused, ApiRefused)
    return render(
        request,
        "refusal.html",
        {"refused": refused},
        status_code=refused.status,
        headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
    )
