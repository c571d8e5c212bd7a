"""The admin REST API (v1): every resource's routes in one router, the paths of DESIGN.md "Admin REST API"."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from admin_api.entrypoints.http.errors import install_error_handlers
from admin_api.entrypoints.http.routes import (
    accounts,
    agent,
    audit,
    channels,
    credits,
    handoff,
    insights,
    people,
    sources,
)
from admin_api.entrypoints.http.security import ApiServices, authentication_failure

ROUTERS = (
    accounts.router,
    agent.router,
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


def install_api(app: FastAPI, api: ApiServices) -> None:
    """Serve the REST API on ``app``: its use cases, error shape and routes."""
    app.state.api = api
    install_error_handlers(app, authentication_failure=authentication_failure)
    app.include_router(api_router())
