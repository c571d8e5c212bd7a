"""Channel deployments: where the agent answers, and each channel's handoff rule."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.config import ChannelDeployment, HandoffRule
from fastapi import APIRouter, Path, Response
from fastapi.responses import JSONResponse

from admin_api.domain.configuration import find_channel
from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.channels import (
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelUpdate,
    channel_out,
)
from admin_api.entrypoints.http.params import ETAG_HEADER, IdempotencyKey, IfMatch
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Services, fingerprint, idempotent
from admin_api.handlers.configuration import channel_etag

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["channels"])
ChannelId = Annotated[str, Path(min_length=1, max_length=200, description="Channel id.")]


@router.get("/channels", response_model=ChannelList, responses=READ_ERRORS, summary="Deployments")
async def list_channels(account_id: AccountId, who: Reader, api: Services) -> ChannelList:
    config = await api.configuration.current(account_id)
    return ChannelList(items=[channel_out(channel) for channel in config.channels])


@router.post(
    "/channels",
    status_code=201,
    response_model=ChannelOut,
    responses={**EDIT_ERRORS, **error_responses(409)},
    summary="Deploy the agent on a channel",
)
async def create_channel(
    account_id: AccountId, body: ChannelCreate, who: Editor, api: Services, idempotency_key: IdempotencyKey = None
) -> JSONResponse:
    deployment = ChannelDeployment.model_validate(body.model_dump(mode="json"))

    async def run() -> ChannelOut:
        config = await api.configuration.deploy_channel(account_id, actor=who.key_id, deployment=deployment)
        return channel_out(find_channel(config, body.id))

    return await idempotent(
        api,
        account_id=account_id,
        scope="POST /channels",
        key=idempotency_key,
        request_fingerprint=fingerprint(body.model_dump(mode="json")),
        status_code=201,
        run=run,
    )


@router.get(
    "/channels/{channel_id:path}",
    response_model=ChannelOut,
    responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "The deployment."}},
    summary="One deployment and its handoff rule",
)
async def get_channel(
    account_id: AccountId, channel_id: ChannelId, who: Reader, api: Services, response: Response
) -> ChannelOut:
    channel = find_channel(await api.configuration.current(account_id), channel_id)
    response.headers["ETag"] = channel_etag(channel)
    return channel_out(channel)


@router.put(
    "/channels/{channel_id:path}",
    response_model=ChannelOut,
    responses={**EDIT_ERRORS, **error_responses(412), 200: {"headers": ETAG_HEADER, "description": "Saved."}},
    summary="Change a channel's handoff rule",
)
async def put_channel(
    account_id: AccountId,
    channel_id: ChannelId,
    body: ChannelUpdate,
    who: Editor,
    api: Services,
    response: Response,
    if_match: IfMatch = None,
) -> ChannelOut:
    rule = HandoffRule.model_validate(body.handoff.model_dump(mode="json"))
    config = await api.configuration.update_channel_rule(
        account_id, actor=who.key_id, channel_id=channel_id, rule=rule, if_match=if_match
    )
    channel = find_channel(config, channel_id)
    response.headers["ETag"] = channel_etag(channel)
    return channel_out(channel)


@router.delete(
    "/channels/{channel_id:path}",
    status_code=204,
    response_class=Response,
    responses=EDIT_ERRORS,
    summary="Remove the agent from a channel",
)
async def delete_channel(account_id: AccountId, channel_id: ChannelId, who: Editor, api: Services) -> Response:
    await api.configuration.remove_channel(account_id, actor=who.key_id, channel_id=channel_id)
    return Response(status_code=204)
