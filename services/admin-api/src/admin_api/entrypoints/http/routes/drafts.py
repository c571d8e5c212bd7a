"""The draft of the agent configuration: save, replay on real questions, publish, unpublish."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.config import AgentProfile, HandoffRule
from fastapi import APIRouter, Path, Response, status

from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.drafts import (
    DraftBody,
    DraftOut,
    PublishedOut,
    ReplayOut,
    ReplayRequest,
    draft_out,
    replay_out,
)
from admin_api.entrypoints.http.params import ETAG_HEADER, IfMatch
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Replayer, Services
from admin_api.handlers.drafts import DraftChange

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["draft"])
ReplayId = Annotated[str, Path(min_length=1, max_length=60, description="The replay's id.")]


def _change(body: DraftBody) -> DraftChange:
    profile = keep_threshold = None
    if body.agent is not None:
        agent = body.agent
        profile = AgentProfile(
            name=agent.name, role=agent.role, personality=agent.personality, answer_threshold=agent.answer_threshold
        )
        keep_threshold = "answer_threshold" not in agent.model_fields_set
    handoff = body.handoff
    rules = {
        channel.id: HandoffRule.model_validate(channel.handoff.model_dump(mode="json"))
        for channel in body.channels or []
    }
    return DraftChange(
        profile=profile,
        keep_answer_threshold=bool(keep_threshold),
        triggers=handoff.triggers if handoff is not None else None,
        messages=handoff.message_changes() if handoff is not None else None,
        change_handoff=handoff is not None,
        channel_rules=rules,
    )


@router.get(
    "/agent/draft",
    response_model=DraftOut,
    responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "The draft."}},
    summary="The draft configuration and what it changes (no changes: the live one)",
)
async def get_draft(account_id: AccountId, who: Reader, api: Services, response: Response) -> DraftOut:
    view = await api.drafts.get(account_id)
    response.headers["ETag"] = view.etag
    return draft_out(view)


@router.put(
    "/agent/draft",
    response_model=DraftOut,
    responses={**EDIT_ERRORS, **error_responses(412), 200: {"headers": ETAG_HEADER, "description": "Saved."}},
    summary="Save profile, handoff settings or channel rules into the draft (nothing goes live)",
)
async def put_draft(
    account_id: AccountId, body: DraftBody, who: Editor, api: Services, response: Response, if_match: IfMatch = None
) -> DraftOut:
    view = await api.drafts.save(account_id, actor=who.key_id, change=_change(body), if_match=if_match)
    response.headers["ETag"] = view.etag
    return draft_out(view)


@router.delete(
    "/agent/draft",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=EDIT_ERRORS,
    summary="Discard the draft",
)
async def delete_draft(account_id: AccountId, who: Editor, api: Services) -> Response:
    await api.drafts.discard(account_id, actor=who.key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/agent/draft/replay",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ReplayOut,
    responses={
        **EDIT_ERRORS,
        **error_responses(409),
        202: {"description": "Started; poll the Location until its state is done or failed."},
    },
    summary="Replay the latest real questions against the draft and the live configuration",
)
async def replay_draft(
    account_id: AccountId, who: Replayer, api: Services, response: Response, body: ReplayRequest | None = None
) -> ReplayOut:
    limit = (body or ReplayRequest()).limit
    record = await api.replays.start(account_id, actor=who.key_id, limit=limit)
    response.headers["Location"] = f"/v1/accounts/{account_id}/agent/draft/replays/{record.id}"
    return replay_out(record, current_etag=record.draft_etag)


@router.get(
    "/agent/draft/replays/{replay_id}",
    response_model=ReplayOut,
    responses=READ_ERRORS,
    summary="A draft replay: running, or what the draft would change",
)
async def get_replay(account_id: AccountId, replay_id: ReplayId, who: Reader, api: Services) -> ReplayOut:
    record = await api.replays.get(account_id, replay_id)
    view = await api.drafts.get(account_id)
    return replay_out(record, current_etag=view.etag)


@router.post(
    "/agent/publish",
    response_model=PublishedOut,
    responses={**EDIT_ERRORS, **error_responses(409, 412)},
    summary="Make the draft live",
)
async def publish(account_id: AccountId, who: Editor, api: Services, if_match: IfMatch = None) -> PublishedOut:
    config, sections = await api.drafts.publish(account_id, actor=who.key_id, if_match=if_match)
    return PublishedOut(version=config.version, sections=sections)


@router.post(
    "/agent/unpublish",
    response_model=PublishedOut,
    responses={**EDIT_ERRORS, **error_responses(409)},
    summary="Undo the last publish (its changes become the draft again)",
)
async def unpublish(account_id: AccountId, who: Editor, api: Services) -> PublishedOut:
    config, sections = await api.drafts.unpublish(account_id, actor=who.key_id)
    return PublishedOut(version=config.version, sections=sections)
