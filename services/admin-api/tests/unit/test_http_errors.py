"""The error shape holds for failures nobody foresaw, too."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from admin_api.domain.errors import AdminError, Unauthenticated
from admin_api.entrypoints.http.errors import install_error_handlers
from fastapi import Body, FastAPI, Request
from pydantic import BaseModel


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


class _Body(BaseModel):
    count: int


def _app_refusing(refused: bool) -> FastAPI:
    async def authentication_failure(_request: Request) -> AdminError | None:
        return Unauthenticated("Send an API key.") if refused else None

    app = FastAPI()
    install_error_handlers(app, authentication_failure=authentication_failure)

    @app.post("/things")
    async def create(body: _Body) -> int:
        return body.count

    return app


@pytest.mark.parametrize(("refused", "status"), [(True, 401), (False, 422)])
async def test_a_body_that_is_not_json_is_refused_after_authentication(refused: bool, status: int) -> None:
    transport = httpx.ASGITransport(app=_app_refusing(refused))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/things", content=b'{"count": 1,}', headers={"Content-Type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    if refused:
        assert error["code"] == "unauthenticated"
        assert response.headers["WWW-Authenticate"] == "Bearer"
    else:
        assert error["code"] == "validation_error"
        assert error["message"] == (
            "The request body is not valid JSON: Expecting property name enclosed in double quotes at character 12."
        )


async def test_a_body_of_the_wrong_shape_is_still_described_field_by_field() -> None:
    transport = httpx.ASGITransport(app=_app_refusing(False))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.post("/things", json={"count": "many"})
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "count"


class _Things(BaseModel):
    things: list[_Body]


def _app_taking_a_list_or_a_wrapped_list() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.put("/things")
    async def replace(body: Annotated[list[_Body] | _Things, Body()]) -> int:
        return len(body if isinstance(body, list) else body.things)

    return app


@pytest.mark.parametrize(
    ("sent", "field"),
    [([{"count": 1}, {"count": "many"}], "1.count"), ({"things": [{"count": "many"}]}, "things.0.count")],
)
async def test_a_body_of_two_shapes_is_described_in_the_shape_it_was_sent(sent: object, field: str) -> None:
    transport = httpx.ASGITransport(app=_app_taking_a_list_or_a_wrapped_list())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.put("/things", json=sent)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["details"] == [
        {"field": field, "problem": "Input should be a valid integer, unable to parse string as an integer"}
    ]
    assert error["message"] == f"The request is invalid: {field}: {error['details'][0]['problem']}."


async def test_a_body_of_neither_shape_is_refused_for_both() -> None:
    transport = httpx.ASGITransport(app=_app_taking_a_list_or_a_wrapped_list())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.put("/things", json="many")
    details = response.json()["error"]["details"]
    assert [detail["field"] for detail in details] == ["body", "body"]
    assert "valid list" in details[0]["problem"]


async def test_a_method_not_allowed_says_which_methods_are() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/things")
    async def things() -> list[int]:
        return []

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.delete("/things")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": "DELETE is not allowed on this path; it takes GET."}
    }
