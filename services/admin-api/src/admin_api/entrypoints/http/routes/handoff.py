"""Handoff settings: the phrases that ask for a person and the availability messages."""

from __future__ import annotations

from fastapi import APIRouter, Response

from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.handoff import HandoffSettingsBody, HandoffSettingsOut, handoff_out
from admin_api.entrypoints.http.params import ETAG_HEADER, IfMatch
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Services
from admin_api.handlers.configuration import handoff_etag

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["handoff"])


@router.get(
    "/handoff",
    response_model=HandoffSettingsOut,
    responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "Handoff settings."}},
    summary="Trigger phrases and availability messages",
)
async def get_handoff(account_id: AccountId, who: Reader, api: Services, response: Response) -> HandoffSettingsOut:
    config = await api.configuration.current(account_id)
    response.headers["ETag"] = handoff_etag(config)
    return handoff_out(config)


@router.put(
    "/handoff",
    response_model=HandoffSettingsOut,
    responses={**EDIT_ERRORS, **error_responses(412), 200: {"headers": ETAG_HEADER, "description": "Saved."}},
    summary="Change trigger phrases and/or availability messages",
    description="Omitted fields keep their value. `messages` changes only the languages it names: a language "
    "left out keeps its messages; within a language all four messages are required and `handoff_unavailable`, "
    "left out, keeps its current text (else the default one); a language sent as `null` loses its own "
    "messages and goes back to the default ones (a language without defaults is removed).",
)
async def put_handoff(
    account_id: AccountId,
    body: HandoffSettingsBody,
    who: Editor,
    api: Services,
    response: Response,
    if_match: IfMatch = None,
) -> HandoffSettingsOut:
    config = await api.configuration.set_handoff(
        account_id, actor=who.key_id, triggers=body.triggers, messages=body.message_changes(), if_match=if_match
    )
    response.headers["ETag"] = handoff_etag(config)
    return handoff_out(config)
