"""Credits: the balance billing reports (an account key reads it), purchases and the plan (the operator's
token records them, DESIGN.md)."""

from __future__ import annotations

from customer_agent_shared.events.billing import CreditPlanChange
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS
from admin_api.entrypoints.http.models.credits import (
    CommandAccepted,
    CreditPlanBody,
    CreditPlanOut,
    CreditsOut,
    PurchaseBody,
)
from admin_api.entrypoints.http.params import IdempotencyKey
from admin_api.entrypoints.http.security import AccountId, Operator, Reader, Services, fingerprint, idempotent
from admin_api.handlers.accounts import OPERATOR

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["credits"])


@router.get("/credits", response_model=CreditsOut, responses=READ_ERRORS, summary="Credit balance")
async def get_credits(account_id: AccountId, who: Reader, api: Services) -> CreditsOut:
    state = await api.credits.state(account_id)
    if state is None:
        return CreditsOut(known=False)
    return CreditsOut(
        known=True,
        balance=state.balance,
        allotment=state.allotment,
        used_this_period=state.used_this_period,
        purchased_this_period=state.purchased_this_period,
        auto_upgrades_this_period=state.auto_upgrades_this_period,
        period_start=state.period_start,
        reset_at=state.reset_at,
        exhausted=state.exhausted,
        plan=CreditPlanOut.model_validate(state.plan.model_dump(mode="json", include=set(CreditPlanOut.model_fields))),
    )


@router.post(
    "/credits/purchases",
    status_code=202,
    response_model=CommandAccepted,
    responses=EDIT_ERRORS,
    tags=["operator"],
    summary="Record a credit purchase",
)
async def purchase(
    account_id: AccountId, body: PurchaseBody, _: Operator, api: Services, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    async def run() -> CommandAccepted:
        return CommandAccepted(command_id=await api.credits.purchase(account_id, actor=OPERATOR, credits=body.credits))

    return await idempotent(
        api,
        account_id=account_id,
        scope="POST /credits/purchases",
        key=idempotency_key,
        request_fingerprint=fingerprint(body.model_dump(mode="json")),
        status_code=202,
        run=run,
    )


@router.put(
    "/credits/plan",
    status_code=202,
    response_model=CommandAccepted,
    responses=EDIT_ERRORS,
    tags=["operator"],
    summary="Change the plan and auto-upgrade limit",
    description="Sets the fields given; a field left out keeps the account's current value. A body without any "
    "field is refused (422).",
)
async def put_plan(account_id: AccountId, body: CreditPlanBody, _: Operator, api: Services) -> CommandAccepted:
    change = CreditPlanChange.model_validate(body.model_dump(mode="json", exclude_none=True))
    return CommandAccepted(command_id=await api.credits.change_plan(account_id, actor=OPERATOR, change=change))
