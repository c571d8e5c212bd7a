"""The admin REST API (v1): every resource's routes in one router, the paths of DESIGN.md "Admin REST API"."""

from __future__ import annotations

import re

from fastapi import APIRouter, FastAPI

from admin_api.entrypoints.http.errors import install_error_handlers
from admin_api.entrypoints.http.limits import BodyLimits, RequestLimits
from admin_api.entrypoints.http.routes import (
    accounts,
    agent,
    audit,
    channels,
    credits,
    drafts,
    handoff,
    insights,
    people,
    sources,
)
from admin_api.entrypoints.http.security import (
    ApiServices,
    authentication_failure,
    key_verdict,
    missing_credentials_refusal,
)
from admin_api.settings import AdminSettings

ROUTERS = (
    accounts.router,
    agent.router,
    drafts.router,
    sources.router,
    channels.router,
    handoff.router,
    people.router,
    credits.router,
    insights.router,
    audit.router,
)


def api_router() -> APIRouter:
    """Every endpoint of the REST API."""
    router = APIRouter()
    for resource in ROUTERS:
        router.include_router(resource)
    return router


MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the multipart framing, part headers and form fields around an uploaded file."""


def install_api(app: FastAPI, api: ApiServices, settings: AdminSettings) -> None:
    """Serve the REST API on ``app``: request limits, its use cases, error shape and routes."""
    app.state.api = api
    limits = BodyLimits(
        json_bytes=settings.max_json_body_bytes,
        upload_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES,
        upload_path=re.compile(f"^{re.escape(accounts.router.prefix)}/[^/]+{re.escape(sources.UPLOAD_PATH)}/?$"),
    )
    operator_enabled = api.bootstrap_token is not None
    app.add_middleware(
        RequestLimits,
        limits=limits,
        credentials_refusal=lambda path: missing_credentials_refusal(path, operator_enabled=operator_enabled),
        key_check=lambda path, token, client: key_verdict(api, path, token, client),
        upload_slots=settings.max_concurrent_uploads,
    )
    install_error_handlers(app, authentication_failure=authentication_failure)
    app.include_router(api_router())
