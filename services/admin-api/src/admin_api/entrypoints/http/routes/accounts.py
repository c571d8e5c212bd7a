"""Accounts and their API keys, for the operator's bootstrap token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from admin_api.entrypoints.http.errors import error_responses
from admin_api.entrypoints.http.models.accounts import (
    AccountCreate,
    AccountOut,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
)
from admin_api.entrypoints.http.security import AccountId, Operator, Services

router = APIRouter(prefix="/v1/accounts", tags=["operator"])
OPERATOR_ERRORS = error_responses(401, 403, 404, 409, 422, 429)


@router.post("", status_code=201, response_model=AccountOut, responses=OPERATOR_ERRORS, summary="Create an account")
async def create_account(body: AccountCreate, api: Services, _: Operator) -> AccountOut:
    created_at = await api.accounts.create_account(body.id, body.name)
    return AccountOut(id=body.id, name=body.name, created_at=created_at)


@router.post(
    "/{account_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=OPERATOR_ERRORS,
    summary="Issue an API key (shown once)",
)
async def create_key(account_id: AccountId, body: ApiKeyCreate, api: Services, _: Operator) -> ApiKeyCreated:
    stored, secret = await api.accounts.create_key(account_id, [p.value for p in body.permissions])
    return ApiKeyCreated(
        id=stored.id, key=secret, permissions=stored.permissions, created_at=stored.created_at, revoked_at=None
    )


@router.get(
    "/{account_id}/api-keys", response_model=list[ApiKeyOut], responses=OPERATOR_ERRORS, summary="List API keys"
)
async def list_keys(account_id: AccountId, api: Services, _: Operator) -> list[ApiKeyOut]:
    return [
        ApiKeyOut(id=k.id, permissions=k.permissions, created_at=k.created_at, revoked_at=k.revoked_at)
        for k in await api.accounts.list_keys(account_id)
    ]


@router.delete(
    "/{account_id}/api-keys/{key_id}",
    status_code=204,
    response_class=Response,
    responses=OPERATOR_ERRORS,
    summary="Revoke an API key",
)
async def revoke_key(
    account_id: AccountId,
    key_id: Annotated[str, Path(max_length=40)],
    api: Services,
    _: Operator,
) -> Response:
    await api.accounts.revoke_key(account_id, key_id)
    return Response(status_code=204)
