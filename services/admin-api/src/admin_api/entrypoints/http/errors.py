"""One error shape for every failure: ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import UnionType
from typing import Any, Union, get_origin

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from admin_api.domain.errors import (
    AdminError,
    Conflict,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    TooManyRequests,
    Unauthenticated,
    UnsupportedFileType,
    UpstreamTimeout,
)
from admin_api.entrypoints.http.models.common import ErrorResponse

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[AdminError], int] = {
    InvalidRequest: 422,
    NotFound: 404,
    Conflict: 409,
    PreconditionFailed: 412,
    Unauthenticated: 401,
    Forbidden: 403,
    UnsupportedFileType: 415,
    PayloadTooLarge: 413,
    UpstreamTimeout: 504,
    TooManyRequests: 429,
}

UNSTORABLE_TEXT_STATES = frozenset({"22021", "22P05"})  # character_not_in_repertoire, untranslatable_character

DESCRIPTIONS = {
    401: "Missing or invalid API key.",
    403: "The API key lacks the needed permission.",
    404: "Unknown resource, or one that belongs to another account.",
    409: "Conflicts with the current state.",
    412: "If-Match does not match the current ETag.",
    413: "The upload is larger than the limit.",
    415: "The file type is not accepted; the message lists the accepted types.",
    422: "The request is invalid; the message says why.",
    429: "A request budget is used up; Retry-After says in how many seconds to try again.",
    504: "The conversation service did not answer in time.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error codes."""
    return {code: {"model": ErrorResponse, "description": DESCRIPTIONS[code]} for code in codes}


READ_ERRORS = error_responses(401, 403, 404, 422, 429)
EDIT_ERRORS = error_responses(401, 403, 404, 422, 429)


def error_json(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    *,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error response (with ``headers``, and a 401 with its WWW-Authenticate challenge)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    sent = dict(headers or {})
    if status == 401:
        sent["WWW-Authenticate"] = "Bearer"
    return JSONResponse({"error": body}, status_code=status, headers=sent or None)


def admin_error_json(error: AdminError) -> JSONResponse:
    """The response of a domain error (a 429 says when to retry)."""
    response = error_json(status_of(error), error.code, error.message)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def status_of(error: AdminError) -> int:
    """The HTTP status of a domain error."""
    for kind in type(error).__mro__:
        if kind in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[kind]
    return 400


# Of a body that may take several shapes (PUT /users takes a list or {"users": [...]}), pydantic reports each
# shape's errors under a label of its own ("list[UserBody]", "UsersBody") that no client wrote.
SHAPE_ERRORS = frozenset({"list_type", "dict_type", "model_type", "model_attributes_type"})


def _body_is_union(request: Request) -> bool:
    field = getattr(request.scope.get("route"), "body_field", None)
    return get_origin(getattr(getattr(field, "field_info", None), "annotation", None)) in (Union, UnionType)


def _client_errors(errors: Sequence[Any], *, union_body: bool) -> list[dict[str, Any]]:
    """Validation errors as the client wrote the body: of a union, only the shapes it has, without their labels."""
    located = [{**item, "loc": tuple(item.get("loc", ()))} for item in errors]
    if not union_body:
        return located
    in_body = [item for item in located if item["loc"][:1] == ("body",) and len(item["loc"]) >= 2]
    fitting = [item for item in in_body if not (len(item["loc"]) == 2 and item.get("type") in SHAPE_ERRORS)]
    unlabelled = [{**item, "loc": ("body", *item["loc"][2:])} for item in fitting or in_body]
    return unlabelled + [item for item in located if item not in in_body]


def _field(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location if part not in ("body",)]
    return ".".join(parts) or "body"


def _sqlstate(error: DBAPIError) -> str | None:
    for candidate in (error.orig, getattr(error.orig, "__cause__", None)):
        state = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(state, str):
            return state
    return None


def _not_json_problem(error: RequestValidationError) -> str | None:
    """What is wrong with a body that is not JSON at all (FastAPI's ``json_invalid``), else None."""
    for item in error.errors():
        if item.get("type") == "json_invalid":
            location = [part for part in item.get("loc", ()) if isinstance(part, int)]
            reason = str((item.get("ctx") or {}).get("error") or "it does not parse")
            where = f" at character {location[0]}" if location else ""
            return f"not valid JSON: {reason}{where}"
    return None


AuthenticationCheck = Callable[[Request], Awaitable[AdminError | None]]


def install_error_handlers(app: FastAPI, *, authentication_failure: AuthenticationCheck | None = None) -> None:
    """Map domain errors, validation errors and HTTP errors to the error shape.

    ``authentication_failure`` is asked before a validation error FastAPI raises ahead of the endpoint's
    dependencies (a body that is not JSON): a refused caller then gets its 401, not the 422.
    """
    app.add_exception_handler(Exception, _on_unexpected_error)
    app.add_exception_handler(AdminError, _on_admin_error)
    app.add_exception_handler(DBAPIError, _on_database_error)
    app.add_exception_handler(RequestValidationError, _validation_error_handler(authentication_failure))
    app.add_exception_handler(StarletteHTTPException, _on_http_error)


async def _on_admin_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, AdminError)
    return admin_error_json(error)


def _validation_error_handler(
    authentication_failure: AuthenticationCheck | None,
) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """The handler of request validation errors: each field's problem, or what makes the body not JSON."""

    async def on_validation_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        not_json = _not_json_problem(error)
        if not_json is not None:
            refused = await authentication_failure(request) if authentication_failure is not None else None
            if refused is not None:
                return error_json(status_of(refused), refused.code, refused.message)
            message = f"The request body is {not_json}."
            return error_json(422, "validation_error", message, [{"field": "body", "problem": not_json}])
        details = [
            {"field": _field(item.get("loc", ())), "problem": str(item.get("msg", "invalid"))}
            for item in _client_errors(error.errors(), union_body=_body_is_union(request))[:20]
        ]
        summary = "; ".join(f"{detail['field']}: {detail['problem']}" for detail in details[:5])
        return error_json(422, "validation_error", f"The request is invalid: {summary}.", details)

    return on_validation_error


async def _on_http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
    message = error.detail if isinstance(error.detail, str) else "Request failed."
    headers = error.headers or {}
    if error.status_code == 400:  # e.g. a malformed multipart body: a validation failure like any other
        return error_json(422, "malformed_request", f"The request body could not be read: {message}")
    if error.status_code == 404 and message == "Not Found":
        message = "No such endpoint; see /docs for the API."
    if error.status_code == 405 and "Allow" in headers:
        message = f"{request.method} is not allowed on this path; it takes {headers['Allow']}."
    return error_json(error.status_code, codes.get(error.status_code, "http_error"), message, headers=headers)


async def _on_database_error(_request: Request, error: Exception) -> JSONResponse:
    # Text PostgreSQL cannot store (NUL characters) in a path, query or header value.
    if isinstance(error, DBAPIError) and _sqlstate(error) in UNSTORABLE_TEXT_STATES:
        return error_json(422, "validation_error", "Text must not contain NUL (\\u0000) characters.")
    raise error


async def _on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette's last resort (it re-raises afterwards, so the server logs the traceback): the body
    # keeps the error shape of every other answer instead of a plain-text "Internal Server Error".
    logger.error(
        "request failed unexpectedly",
        extra={"method": request.method, "path": request.url.path, "error": repr(error)},
    )
    return error_json(
        500,
        "internal_error",
        "The request failed on our side (the service log has the details); a retry may succeed.",
    )
