"""The error shape holds for failures nobody foresaw, too."""

from __future__ import annotations

import httpx
from admin_api.entrypoints.http_errors import install_error_handlers
from fastapi import FastAPI


async def test_an_unexpected_failure_answers_500_in_the_error_shape() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == "internal_error"
    assert "log" in response.json()["error"]["message"]
