"""The agent: its profile, whether it runs, and previews of its answers."""

from __future__ import annotations

from customer_agent_shared.events.config import AgentConfigSnapshot, AgentProfile
from fastapi import APIRouter, Response

from admin_api.domain.status import agent_status
from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.agent import AgentProfileBody, AgentStatusOut, PreviewOut, PreviewRequest
from admin_api.entrypoints.http.params import ETAG_HEADER, IfMatch
from admin_api.entrypoints.http.security import AccountId, ApiServices, Editor, Previewer, Reader, Services
from admin_api.handlers.configuration import profile_etag

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["agent"])


@router.get(
    "/agent",
    response_model=AgentProfileBody,
    responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "The agent profile."}},
    summary="Read the agent profile",
)
async def get_agent(account_id: AccountId, who: Reader, api: Services, response: Response) -> AgentProfileBody:
    config = await api.configuration.current(account_id)
    response.headers["ETag"] = profile_etag(config)
    return AgentProfileBody.model_validate(config.agent.model_dump(mode="json"))


@router.put(
    "/agent",
    response_model=AgentProfileBody,
    responses={**EDIT_ERRORS, **error_responses(412), 200: {"headers": ETAG_HEADER, "description": "Saved."}},
    summary="Change name, role, personality and answer threshold",
)
async def put_agent(
    account_id: AccountId,
    body: AgentProfileBody,
    who: Editor,
    api: Services,
    response: Response,
    if_match: IfMatch = None,
) -> AgentProfileBody:
    profile = AgentProfile(
        name=body.name, role=body.role, personality=body.personality, answer_threshold=body.answer_threshold
    )
    config = await api.configuration.update_profile(
        account_id,
        actor=who.key_id,
        profile=profile,
        if_match=if_match,
        keep_answer_threshold="answer_threshold" not in body.model_fields_set,
    )
    response.headers["ETag"] = profile_etag(config)
    return AgentProfileBody.model_validate(config.agent.model_dump(mode="json"))


async def _status(api: ApiServices, config: AgentConfigSnapshot) -> AgentStatusOut:
    exhausted = await api.credits.exhausted(config.account_id)
    return AgentStatusOut(
        status=agent_status(paused=config.paused, credits_exhausted=exhausted),
        paused=config.paused,
        credits_exhausted=exhausted,
    )


@router.get("/agent/status", response_model=AgentStatusOut, responses=READ_ERRORS, summary="Running or paused, and why")
async def get_status(account_id: AccountId, who: Reader, api: Services) -> AgentStatusOut:
    return await _status(api, await api.configuration.current(account_id))


@router.post("/agent/pause", response_model=AgentStatusOut, responses=EDIT_ERRORS, summary="Pause the agent")
async def pause(account_id: AccountId, who: Editor, api: Services) -> AgentStatusOut:
    return await _status(api, await api.configuration.set_paused(account_id, actor=who.key_id, paused=True))


@router.post("/agent/resume", response_model=AgentStatusOut, responses=EDIT_ERRORS, summary="Resume the agent")
async def resume(account_id: AccountId, who: Editor, api: Services) -> AgentStatusOut:
    return await _status(api, await api.configuration.set_paused(account_id, actor=who.key_id, paused=False))


@router.post(
    "/agent/preview",
    response_model=PreviewOut,
    responses={**READ_ERRORS, **error_responses(504)},
    summary="What the agent would answer (no credits used)",
)
async def preview(account_id: AccountId, body: PreviewRequest, who: Previewer, api: Services) -> PreviewOut:
    result = await api.preview.ask(
        account_id, text=body.text, locale=body.locale, thread_id=body.thread_id, channel=body.channel
    )
    answer, routing = result.answer, result.routing
    return PreviewOut.model_validate(
        {
            "text": answer.text,
            "kind": answer.kind,
            "language": answer.language,
            "citations": [{"title": c.title, "url": c.url} for c in answer.citations],
            "routing": routing.model_dump(exclude={"account_id", "correlation_id", "powered_by_ai"})
            if routing is not None
            else None,
        }
    )
