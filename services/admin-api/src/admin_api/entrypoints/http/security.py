"""Authentication and authorization of REST calls, their request budgets, and Idempotency-Key handling."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from admin_api.adapters.rate_limits import RequestBudgets
from admin_api.adapters.repositories import StoredResponse
from admin_api.adapters.unit_of_work import AdminUnitOfWork, request_transaction
from admin_api.domain.access import Permission, Principal, grants, tokens_equal
from admin_api.domain.errors import Forbidden, InvalidRequest, NotFound, TooManyRequests, Unauthenticated
from admin_api.entrypoints.http.limits import KeyVerdict, principal_found
from admin_api.handlers.accounts import AccountUseCases
from admin_api.handlers.audit import AuditLogReader
from admin_api.handlers.configuration import ConfigurationUseCases
from admin_api.handlers.credits import CreditUseCases
from admin_api.handlers.drafts import DraftUseCases
from admin_api.handlers.insights import InsightUseCases
from admin_api.handlers.preview import PreviewUseCase
from admin_api.handlers.replays import ReplayUseCases
from admin_api.handlers.sources import SourceUseCases

bearer = HTTPBearer(auto_error=False, description="An account API key, or the operator's bootstrap token.")
MAX_IDEMPOTENCY_KEY = 200


@dataclass
class ApiServices:
    """What the REST endpoints use."""

    accounts: AccountUseCases
    configuration: ConfigurationUseCases
    sources: SourceUseCases
    credits: CreditUseCases
    insights: InsightUseCases
    preview: PreviewUseCase
    drafts: DraftUseCases
    replays: ReplayUseCases
    audit: AuditLogReader
    budgets: RequestBudgets
    unit_of_work: Callable[[], AdminUnitOfWork]
    bootstrap_token: str | None


def services(request: Request) -> ApiServices:
    """The services of the running app."""
    found: ApiServices = request.app.state.api
    return found


Services = Annotated[ApiServices, Depends(services)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
# Not length-checked here: an id longer than any account's (100 characters) names no account, which is a 404
# from the key or account lookup like any other unknown id, not a validation error.
AccountId = Annotated[str, Path(description="Account id (at most 100 characters).")]


OPERATOR_DISABLED = "Operator endpoints are disabled: set ADMIN_BOOTSTRAP_TOKEN to enable them."
SEND_OPERATOR_TOKEN = "Send the operator's bootstrap token as 'Authorization: Bearer <token>'."
SEND_API_KEY = "Send an API key as 'Authorization: Bearer <key>'."
UNKNOWN_KEY = "The API key is unknown or was revoked."
OPERATOR_ON_ACCOUNT = (
    "The operator's bootstrap token manages accounts, API keys, credit purchases and plan changes only; call this "
    "endpoint with an API key of account {account_id!r} (the operator creates one with POST "
    "/v1/accounts/{account_id}/api-keys)."
)
ACCOUNTS_PATH = "/v1/accounts"
OPERATOR_BUDGET = "operator"
OPERATOR_PATH = re.compile(r"^/v1/accounts(/[^/]+/(api-keys(/[^/]*)?|credits/purchases|credits/plan))?/?$")


def missing_credentials_refusal(path: str, *, operator_enabled: bool) -> Unauthenticated | None:
    """Why a request that carries no bearer credentials at all is refused (None outside the accounts API)."""
    if not path.startswith(ACCOUNTS_PATH):
        return None
    if OPERATOR_PATH.match(path):
        return Unauthenticated(SEND_OPERATOR_TOKEN if operator_enabled else OPERATOR_DISABLED)
    return Unauthenticated(SEND_API_KEY)


async def key_verdict(api: ApiServices, path: str, token: str, client: str) -> KeyVerdict:
    """The verdict on a request carrying ``token``, before its body is read: the operator's token and any active
    key pass (the key with its principal); a refusal is charged to the client address's budget, as the
    endpoints' own checks do."""
    if OPERATOR_PATH.match(path) and api.bootstrap_token is None:
        return KeyVerdict(refusal=Unauthenticated(OPERATOR_DISABLED))
    if api.bootstrap_token is not None and tokens_equal(token, api.bootstrap_token):
        return KeyVerdict()
    principal = await api.accounts.authenticate(token)
    if principal is not None:
        return KeyVerdict(principal=principal)  # the endpoint still checks its account and permission
    try:
        await api.budgets.charge_failed_authentication(client)
    except TooManyRequests as refused:
        return KeyVerdict(refusal=refused)
    return KeyVerdict(refusal=Unauthenticated(SEND_OPERATOR_TOKEN if OPERATOR_PATH.match(path) else UNKNOWN_KEY))


async def _principal_of(api: ApiServices, request: Request, token: str) -> Principal | None:
    """The principal of the active key ``token``, or None; looked up again unless the limits just did."""
    found = principal_found(request.scope, token)
    return found if found is not None else await api.accounts.authenticate(token)


def client_address(request: Request) -> str:
    """The caller's address (behind a proxy, the proxy's, unless uvicorn is told to trust forwarded headers)."""
    return request.client.host if request.client else "unknown"


def _is_operator(api: ApiServices, credentials: HTTPAuthorizationCredentials | None) -> bool:
    """Whether the request carries the operator's bootstrap token (never, with operator endpoints disabled)."""
    token = api.bootstrap_token
    return credentials is not None and token is not None and tokens_equal(credentials.credentials, token)


async def require_operator(api: Services, credentials: Credentials, request: Request) -> None:
    """Only the bootstrap token passes (charged to the operator's budget)."""
    if api.bootstrap_token is None:
        raise Unauthenticated(OPERATOR_DISABLED)
    if _is_operator(api, credentials):
        await api.budgets.charge_key(OPERATOR_BUDGET)
        return
    if credentials is not None and await _principal_of(api, request, credentials.credentials) is not None:
        # A valid key, short of a permission only the operator has (403, as for any missing permission).
        raise Forbidden("Only the operator's bootstrap token may do this; an account's API key cannot.")
    await api.budgets.charge_failed_authentication(client_address(request))
    raise Unauthenticated(SEND_OPERATOR_TOKEN)


async def _account_principal(
    api: ApiServices, request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The account key the request carries (401 when it carries none, or one that is unknown or revoked)."""
    if credentials is None:
        raise Unauthenticated(SEND_API_KEY)
    principal = await _principal_of(api, request, credentials.credentials)
    if principal is None:
        raise Unauthenticated(UNKNOWN_KEY)
    return principal


async def authentication_failure(request: Request) -> Unauthenticated | None:
    """Why the request's credentials are refused, if they are: any valid key or the operator's token passes.

    For failures FastAPI finds before an endpoint's own checks run (a body that is not JSON at all), so
    that a caller without a valid key is told that first, as on every other request.
    """
    credentials = await bearer(request)
    api = services(request)
    if _is_operator(api, credentials):
        return None
    try:
        await _account_principal(api, request, credentials)
    except Unauthenticated as refused:
        return refused
    return None


def require(permission: Permission, *, preview: bool = False) -> Callable[..., Awaitable[Principal]]:
    """A dependency: a valid key of this account with ``permission`` (401, then 429, 404, 403), charged to the
    key's budget (and its preview budget too, for a preview); a request without a valid key, to its address;
    the operator's token, valid but for other endpoints, to the operator's budget (then 403)."""

    async def dependency(account_id: AccountId, api: Services, credentials: Credentials, request: Request) -> Principal:
        if _is_operator(api, credentials):
            await api.budgets.charge_key(OPERATOR_BUDGET)
            raise Forbidden(OPERATOR_ON_ACCOUNT.format(account_id=account_id))
        try:
            principal = await _account_principal(api, request, credentials)
        except Unauthenticated:
            await api.budgets.charge_failed_authentication(client_address(request))
            raise
        await api.budgets.charge_key(principal.key_id, preview=preview)
        if principal.account_id != account_id:
            raise NotFound(f"Account {account_id!r} does not exist.")
        if not grants(set(principal.permissions), permission):
            raise Forbidden(f"This API key lacks the permission {permission.value!r}.")
        return principal

    return dependency


Reader = Annotated[Principal, Depends(require(Permission.READ))]
Editor = Annotated[Principal, Depends(require(Permission.EDIT))]
Previewer = Annotated[Principal, Depends(require(Permission.READ, preview=True))]
Replayer = Annotated[Principal, Depends(require(Permission.EDIT, preview=True))]


def fingerprint(value: Any) -> str:
    """A digest of a request body, to tell a retry from a different request."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


async def idempotent(
    api: ApiServices,
    *,
    account_id: str,
    scope: str,
    key: str | None,
    request_fingerprint: str,
    status_code: int,
    run: Callable[[], Awaitable[BaseModel]],
) -> JSONResponse:
    """Run a creating request once per Idempotency-Key; a retry gets the first response again."""
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters.")
    if key is None:
        result = await run()
        return JSONResponse(result.model_dump(mode="json", by_alias=True), status_code=status_code)
    # The action and its stored response commit together; the key's lock makes a concurrent twin wait.
    async with request_transaction(api.unit_of_work) as uow:
        await uow.idempotency.lock(account_id, scope, key)
        stored = await uow.idempotency.get(account_id, scope, key)
        if stored is not None:
            if stored.fingerprint != request_fingerprint:
                raise InvalidRequest(
                    "This Idempotency-Key was already used with a different request; use a new key.",
                    code="idempotency_key_reused",
                )
            return JSONResponse(stored.body, status_code=stored.status_code, headers={"Idempotent-Replayed": "true"})
        result = await run()
        body = result.model_dump(mode="json", by_alias=True)
        await uow.idempotency.put(account_id, scope, key, StoredResponse(request_fingerprint, status_code, body))
        await uow.commit()
    return JSONResponse(body, status_code=status_code)


Operator = Annotated[None, Depends(require_operator)]
