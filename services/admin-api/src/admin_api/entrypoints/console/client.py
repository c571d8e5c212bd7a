"""The console's way to the REST API: each page calls the very endpoints outside tools call, in-process and
with the browser's own key, so the console follows the API's rules and shows its refusals word for word."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import Depends, Request

from admin_api.domain.access import Permission, grants
from admin_api.domain.errors import Unauthenticated
from admin_api.entrypoints.http.security import SEND_API_KEY, client_address, services

ACCOUNTS = "/v1/accounts"


class ApiRefused(Exception):
    """The REST API refused a call: its status, its own words and, for invalid fields, what is wrong with each."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = details or []


def see_fields_marked(count: int) -> str:
    """What a form's banner says when each of the API's problems is shown under the field it names."""
    return f"Nothing was saved: see the {'fields' if count > 1 else 'field'} marked below."


@dataclass
class Console:
    """One signed-in console request: the key's account, what it may do, and a client on the REST API."""

    account_id: str
    can_edit: bool
    http: httpx.AsyncClient

    def path(self, suffix: str) -> str:
        """The account's REST path of an endpoint."""
        return f"{ACCOUNTS}/{self.account_id}{suffix}"

    async def call(
        self,
        method: str,
        suffix: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Call one of the account's endpoints; a refusal raises ``ApiRefused`` with the API's message."""
        response = await self.http.request(method, self.path(suffix), json=json, params=params, headers=headers)
        if response.status_code >= 400:
            raise refusal(response)
        return response

    async def get(self, suffix: str, **params: Any) -> Any:
        """GET an endpoint's JSON body."""
        return (await self.call("GET", suffix, params={k: v for k, v in params.items() if v not in (None, "")})).json()


def segment(resource_id: str) -> str:
    """An id as one segment of an API path: "/", "?", "#" and "%" escaped, and dots too, so that an id such as
    ".." or "web?x=1" names itself, never another path (an HTTP client resolves dot segments)."""
    return quote(resource_id, safe="").replace(".", "%2E")


def refusal(response: httpx.Response) -> ApiRefused:
    """The API's error body as an exception (any non-JSON answer is named by its status)."""
    try:
        error = response.json()["error"]
        details = [item for item in error.get("details") or [] if isinstance(item, dict)]
        return ApiRefused(response.status_code, str(error["code"]), str(error["message"]), details)
    except (ValueError, KeyError, TypeError):
        return ApiRefused(response.status_code, "http_error", f"The API answered HTTP {response.status_code}.")


def bearer_key(request: Request) -> str | None:
    """The API key of the request's ``Authorization: Bearer`` header."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return credentials.strip() or None if scheme.lower() == "bearer" else None


async def sign_in(request: Request) -> tuple[str, str, bool]:
    """(key, account id, may edit) of the request's key; an unknown key is refused and charged as the API
    charges it (to the client address's failed-authentication budget)."""
    api = services(request)
    key = bearer_key(request)
    principal = await api.accounts.authenticate(key) if key else None
    if key is None or principal is None:
        await api.budgets.charge_failed_authentication(client_address(request))
        message = SEND_API_KEY if key is None else "The API key is unknown or was revoked."
        raise ApiRefused(401, Unauthenticated.code, message)
    return key, principal.account_id, grants(set(principal.permissions), Permission.EDIT)


def in_process_client(request: Request, key: str) -> httpx.AsyncClient:
    """An HTTP client on this very app, carrying the key, seen by the API as coming from the browser's address."""
    host = request.client.host if request.client else "127.0.0.1"
    port = request.client.port if request.client else 0
    # An API failure comes back as its 500 response (shown as refused), not as an exception of this page.
    transport = httpx.ASGITransport(app=request.app, client=(host, port), raise_app_exceptions=False)
    return httpx.AsyncClient(
        transport=transport, base_url="http://admin-api", headers={"Authorization": f"Bearer {key}"}, timeout=60
    )


async def console_session(request: Request) -> AsyncIterator[Console]:
    """The signed-in console of a fragment request (401 in the API's words without a valid key)."""
    key, account_id, can_edit = await sign_in(request)
    async with in_process_client(request, key) as http:
        yield Console(account_id, can_edit, http)


SignedIn = Annotated[Console, Depends(console_session)]
