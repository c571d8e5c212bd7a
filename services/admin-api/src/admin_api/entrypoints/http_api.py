"""The admin REST API (v1): the paths and bodies of DESIGN.md "Admin REST API"."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from customer_agent_shared.events.billing import CreditPlan
from customer_agent_shared.events.channels import Citation
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    AgentProfile,
    ChannelDeployment,
    HandoffRule,
    HandoffTeam,
    HandoffUser,
)
from fastapi import APIRouter, Body, File, Form, Header, Path, Query, Response, UploadFile
from fastapi.responses import JSONResponse

from admin_api.adapters.repositories import AuditQuery, Row
from admin_api.domain.configuration import find_channel
from admin_api.domain.errors import InvalidRequest
from admin_api.domain.gaps import draft_answer
from admin_api.domain.status import agent_status
from admin_api.entrypoints.http_errors import error_responses
from admin_api.entrypoints.http_models import (
    AccountCreate,
    AccountOut,
    AgentProfileBody,
    AgentStatusOut,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuditEntryOut,
    AuditPage,
    ChannelCreate,
    ChannelList,
    ChannelOut,
    ChannelUpdate,
    CitationOut,
    CommandAccepted,
    CreditPlanBody,
    CreditsOut,
    HandoffSettingsBody,
    HandoffSettingsOut,
    KnowledgeGapList,
    KnowledgeGapOut,
    PerformanceOut,
    PreviewOut,
    PreviewRequest,
    PurchaseBody,
    ResolvedGapOut,
    ResolveGapBody,
    SourceCreate,
    SourceList,
    SourceOut,
    SourcePatch,
    TeamBody,
    TeamsBody,
    UrlSourceCreate,
    UserBody,
    UsersBody,
)
from admin_api.entrypoints.http_security import (
    AccountId,
    ApiServices,
    Editor,
    Operator,
    Reader,
    Services,
    fingerprint,
    idempotent,
)
from admin_api.handlers.configuration import channel_etag, handoff_etag, profile_etag

READ_ERRORS = error_responses(401, 403, 404, 422)
EDIT_ERRORS = error_responses(401, 403, 404, 422)
IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Retry-safe creation: the same key and body return the same result."),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="ETag from the last read; 412 if the resource changed since.")
]
ETAG_HEADER = {"ETag": {"description": "Version of the resource, for If-Match.", "schema": {"type": "string"}}}
MAX_PERFORMANCE_DAYS = 366
SourceId = Annotated[str, Path(min_length=1, max_length=60, description="Source id.")]
ChannelId = Annotated[str, Path(min_length=1, max_length=200, description="Channel id.")]


# --- conversions -------------------------------------------------------------------------------


def source_out(row: Row) -> SourceOut:
    """A stored source as the API shows it."""
    discovered, fetched = row["discovered"], row["fetched"]
    progress = None
    if row["state"] == "ready":
        progress = 1.0
    elif discovered:
        progress = round(min(1.0, (fetched or 0) / discovered), 4)
    return SourceOut(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        url=row.get("url"),
        import_related=bool(row.get("import_related")),
        question=row.get("question"),
        answer=row.get("answer"),
        filename=row.get("filename"),
        size=row.get("size"),
        citations_enabled=bool(row["citations_enabled"]),
        private=bool(row["private"]),
        discovered=discovered,
        fetched=fetched,
        indexed=row["indexed"],
        failed=row["failed"],
        documents=row["documents"],
        chunks=row["chunks"],
        embedded_chunks=row["embedded_chunks"],
        progress=progress,
        error=row.get("error"),
        last_synced_at=row.get("last_synced_at"),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def channel_out(channel: ChannelDeployment) -> ChannelOut:
    """A deployment as the API shows it."""
    return ChannelOut.model_validate(channel.model_dump(mode="json"))


def handoff_out(config: AgentConfigSnapshot) -> HandoffSettingsOut:
    """Handoff settings as the API shows them."""
    return HandoffSettingsOut.model_validate(config.handoff.model_dump(mode="json"))


def gap_out(row: Row) -> KnowledgeGapOut:
    """A knowledge gap with its drafted answer."""
    nearest = [Citation.model_validate(item) for item in row["nearest_content"]]
    return KnowledgeGapOut(
        id=row["id"],
        question=row["question"],
        count=row["count"],
        language=row.get("language"),
        status=row["status"],
        first_seen_at=row["first_seen_at"],
        last_seen_at=row["last_seen_at"],
        nearest_content=[CitationOut(title=c.title, url=c.url) for c in nearest],
        recommended_answer=draft_answer(row["question"], nearest) if row["status"] == "open" else None,
        resolved_source_id=row.get("resolved_source_id"),
    )


def _json_response(model: Any, *, etag: str | None = None, status_code: int = 200) -> JSONResponse:
    headers = {"ETag": etag} if etag else None
    return JSONResponse(model.model_dump(mode="json", by_alias=True), status_code=status_code, headers=headers)


# --- operator ----------------------------------------------------------------------------------


def operator_router() -> APIRouter:
    """Accounts and API keys, for the operator's bootstrap token."""
    router = APIRouter(prefix="/v1/accounts", tags=["operator"])
    operator_errors = error_responses(401, 403, 404, 409, 422)

    @router.post("", status_code=201, response_model=AccountOut, responses=operator_errors, summary="Create an account")
    async def create_account(body: AccountCreate, api: Services, _: Operator) -> AccountOut:
        created_at = await api.accounts.create_account(body.id, body.name)
        return AccountOut(id=body.id, name=body.name, created_at=created_at)

    @router.post(
        "/{account_id}/api-keys",
        status_code=201,
        response_model=ApiKeyCreated,
        responses=operator_errors,
        summary="Issue an API key (shown once)",
    )
    async def create_key(account_id: AccountId, body: ApiKeyCreate, api: Services, _: Operator) -> ApiKeyCreated:
        stored, secret = await api.accounts.create_key(account_id, [p.value for p in body.permissions])
        return ApiKeyCreated(
            id=stored.id, key=secret, permissions=stored.permissions, created_at=stored.created_at, revoked_at=None
        )

    @router.get(
        "/{account_id}/api-keys", response_model=list[ApiKeyOut], responses=operator_errors, summary="List API keys"
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
        responses=operator_errors,
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

    return router


# --- account endpoints -------------------------------------------------------------------------


def account_router() -> APIRouter:
    """Everything under /v1/accounts/{account_id} that an account's API keys can call."""
    router = APIRouter(prefix="/v1/accounts/{account_id}")

    # agent ------------------------------------------------------------------------------------

    @router.get(
        "/agent",
        response_model=AgentProfileBody,
        responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "The agent profile."}},
        tags=["agent"],
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
        tags=["agent"],
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
        keep_threshold = "answer_threshold" not in body.model_fields_set
        config = await api.configuration.update_profile(
            account_id, who.key_id, profile, if_match, keep_answer_threshold=keep_threshold
        )
        response.headers["ETag"] = profile_etag(config)
        return AgentProfileBody.model_validate(config.agent.model_dump(mode="json"))

    async def _status(account_id: str, api: ApiServices, config: AgentConfigSnapshot | None = None) -> AgentStatusOut:
        config = config or await api.configuration.current(account_id)
        credit_state = await api.credits.state(account_id)
        exhausted = bool(credit_state and credit_state.exhausted)
        return AgentStatusOut(
            status=agent_status(paused=config.paused, credits_exhausted=exhausted),
            paused=config.paused,
            credits_exhausted=exhausted,
        )

    @router.get(
        "/agent/status",
        response_model=AgentStatusOut,
        responses=READ_ERRORS,
        tags=["agent"],
        summary="Running or paused, and why",
    )
    async def get_status(account_id: AccountId, who: Reader, api: Services) -> AgentStatusOut:
        return await _status(account_id, api)

    @router.post(
        "/agent/pause", response_model=AgentStatusOut, responses=EDIT_ERRORS, tags=["agent"], summary="Pause the agent"
    )
    async def pause(account_id: AccountId, who: Editor, api: Services) -> AgentStatusOut:
        return await _status(account_id, api, await api.configuration.set_paused(account_id, who.key_id, True))

    @router.post(
        "/agent/resume",
        response_model=AgentStatusOut,
        responses=EDIT_ERRORS,
        tags=["agent"],
        summary="Resume the agent",
    )
    async def resume(account_id: AccountId, who: Editor, api: Services) -> AgentStatusOut:
        return await _status(account_id, api, await api.configuration.set_paused(account_id, who.key_id, False))

    @router.post(
        "/agent/preview",
        response_model=PreviewOut,
        responses={**READ_ERRORS, **error_responses(504)},
        tags=["agent"],
        summary="What the agent would answer (no credits used)",
    )
    async def preview(account_id: AccountId, body: PreviewRequest, who: Reader, api: Services) -> PreviewOut:
        answer = await api.preview.ask(account_id, body.text, body.locale, body.thread_id)
        return PreviewOut.model_validate(
            {
                "text": answer.text,
                "kind": answer.kind,
                "language": answer.language,
                "citations": [{"title": c.title, "url": c.url} for c in answer.citations],
            }
        )

    # sources ----------------------------------------------------------------------------------

    @router.get("/sources", response_model=SourceList, responses=READ_ERRORS, tags=["sources"], summary="List sources")
    async def list_sources(account_id: AccountId, who: Reader, api: Services) -> SourceList:
        return SourceList(items=[source_out(row) for row in await api.sources.list(account_id)])

    @router.post(
        "/sources",
        status_code=201,
        response_model=SourceOut,
        responses=EDIT_ERRORS,
        tags=["sources"],
        summary="Add a URL or a short answer",
    )
    async def create_source(
        account_id: AccountId, body: SourceCreate, who: Editor, api: Services, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        async def run() -> SourceOut:
            if isinstance(body, UrlSourceCreate):
                row = await api.sources.create_url(
                    account_id,
                    who.key_id,
                    body.url,
                    import_related=body.import_related,
                    citations_enabled=body.citations_enabled,
                    private=body.private,
                )
            else:
                row = await api.sources.create_short_answer(
                    account_id, who.key_id, body.question, body.answer, citations_enabled=body.citations_enabled
                )
            return source_out(row)

        return await idempotent(
            api,
            account_id=account_id,
            scope="POST /sources",
            key=idempotency_key,
            request_fingerprint=fingerprint(body.model_dump(mode="json")),
            status_code=201,
            run=run,
        )

    @router.post(
        "/sources/files",
        status_code=201,
        response_model=SourceOut,
        responses={**EDIT_ERRORS, **error_responses(413, 415)},
        tags=["sources"],
        summary="Upload a file (docx, htm, xhtml, cfg, pptx, conf, csv, json, html, text, txt, pdf, rst, xml, md)",
    )
    async def upload_source(
        account_id: AccountId,
        who: Editor,
        api: Services,
        file: Annotated[UploadFile, File(description="The document.")],
        citations_enabled: Annotated[bool, Form()] = True,
        private: Annotated[bool, Form()] = False,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        limit = api.sources.max_upload_bytes
        content = await file.read(limit + 1)
        filename = file.filename or ""

        async def run() -> SourceOut:
            row = await api.sources.upload_file(
                account_id,
                who.key_id,
                filename=filename,
                content_type=file.content_type or "application/octet-stream",
                content=content,
                citations_enabled=citations_enabled,
                private=private,
            )
            return source_out(row)

        return await idempotent(
            api,
            account_id=account_id,
            scope="POST /sources/files",
            key=idempotency_key,
            request_fingerprint=fingerprint([filename, citations_enabled, private, fingerprint(content.hex())]),
            status_code=201,
            run=run,
        )

    @router.get(
        "/sources/{source_id}",
        response_model=SourceOut,
        responses=READ_ERRORS,
        tags=["sources"],
        summary="A source and its progress",
    )
    async def get_source(account_id: AccountId, source_id: SourceId, who: Reader, api: Services) -> SourceOut:
        return source_out(await api.sources.get(account_id, source_id))

    @router.patch(
        "/sources/{source_id}",
        response_model=SourceOut,
        responses=EDIT_ERRORS,
        tags=["sources"],
        summary="Citations on/off, privacy, or edit a short answer",
    )
    async def patch_source(
        account_id: AccountId, source_id: SourceId, body: SourcePatch, who: Editor, api: Services
    ) -> SourceOut:
        return source_out(await api.sources.update(account_id, who.key_id, source_id, body.model_dump()))

    @router.delete(
        "/sources/{source_id}",
        status_code=204,
        response_class=Response,
        responses=EDIT_ERRORS,
        tags=["sources"],
        summary="Delete a source",
    )
    async def delete_source(account_id: AccountId, source_id: SourceId, who: Editor, api: Services) -> Response:
        await api.sources.delete(account_id, who.key_id, source_id)
        return Response(status_code=204)

    @router.post(
        "/sources/{source_id}/resync",
        status_code=202,
        response_model=SourceOut,
        responses=EDIT_ERRORS,
        tags=["sources"],
        summary="Sync the source again",
    )
    async def resync_source(account_id: AccountId, source_id: SourceId, who: Editor, api: Services) -> SourceOut:
        return source_out(await api.sources.resync(account_id, who.key_id, source_id))

    # channels and handoff ---------------------------------------------------------------------

    @router.get(
        "/channels", response_model=ChannelList, responses=READ_ERRORS, tags=["channels"], summary="Deployments"
    )
    async def list_channels(account_id: AccountId, who: Reader, api: Services) -> ChannelList:
        config = await api.configuration.current(account_id)
        return ChannelList(items=[channel_out(channel) for channel in config.channels])

    @router.post(
        "/channels",
        status_code=201,
        response_model=ChannelOut,
        responses={**EDIT_ERRORS, **error_responses(409)},
        tags=["channels"],
        summary="Deploy the agent on a channel",
    )
    async def create_channel(
        account_id: AccountId, body: ChannelCreate, who: Editor, api: Services, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        deployment = ChannelDeployment.model_validate(body.model_dump(mode="json"))

        async def run() -> ChannelOut:
            config = await api.configuration.deploy_channel(account_id, who.key_id, deployment)
            return channel_out(next(c for c in config.channels if c.id == body.id))

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
        tags=["channels"],
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
        tags=["channels"],
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
        config = await api.configuration.update_channel_rule(account_id, who.key_id, channel_id, rule, if_match)
        channel = next(c for c in config.channels if c.id == channel_id)
        response.headers["ETag"] = channel_etag(channel)
        return channel_out(channel)

    @router.delete(
        "/channels/{channel_id:path}",
        status_code=204,
        response_class=Response,
        responses=EDIT_ERRORS,
        tags=["channels"],
        summary="Remove the agent from a channel",
    )
    async def delete_channel(account_id: AccountId, channel_id: ChannelId, who: Editor, api: Services) -> Response:
        await api.configuration.remove_channel(account_id, who.key_id, channel_id)
        return Response(status_code=204)

    @router.get(
        "/handoff",
        response_model=HandoffSettingsOut,
        responses={**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "Handoff settings."}},
        tags=["handoff"],
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
        tags=["handoff"],
        summary="Change trigger phrases and/or availability messages",
    )
    async def put_handoff(
        account_id: AccountId,
        body: HandoffSettingsBody,
        who: Editor,
        api: Services,
        response: Response,
        if_match: IfMatch = None,
    ) -> HandoffSettingsOut:
        messages = None
        if body.messages is not None:
            messages = {language: value.model_dump(exclude_none=True) for language, value in body.messages.items()}
        config = await api.configuration.set_handoff(account_id, who.key_id, body.triggers, messages, if_match)
        response.headers["ETag"] = handoff_etag(config)
        return handoff_out(config)

    # users and teams --------------------------------------------------------------------------

    @router.get(
        "/users",
        response_model=list[UserBody],
        responses=READ_ERRORS,
        tags=["people"],
        summary="Users who take handoffs",
    )
    async def get_users(account_id: AccountId, who: Reader, api: Services) -> list[UserBody]:
        config = await api.configuration.current(account_id)
        return [UserBody.model_validate(user.model_dump(mode="json")) for user in config.users]

    @router.put(
        "/users", response_model=list[UserBody], responses=EDIT_ERRORS, tags=["people"], summary="Replace the users"
    )
    async def put_users(
        account_id: AccountId, body: Annotated[list[UserBody] | UsersBody, Body()], who: Editor, api: Services
    ) -> list[UserBody]:
        given = body.users if isinstance(body, UsersBody) else body
        users = [HandoffUser.model_validate(user.model_dump(mode="json")) for user in given]
        config = await api.configuration.replace_users(account_id, who.key_id, users)
        return [UserBody.model_validate(user.model_dump(mode="json")) for user in config.users]

    @router.get(
        "/teams",
        response_model=list[TeamBody],
        responses=READ_ERRORS,
        tags=["people"],
        summary="Teams who take handoffs",
    )
    async def get_teams(account_id: AccountId, who: Reader, api: Services) -> list[TeamBody]:
        config = await api.configuration.current(account_id)
        return [TeamBody.model_validate(team.model_dump(mode="json")) for team in config.teams]

    @router.put(
        "/teams", response_model=list[TeamBody], responses=EDIT_ERRORS, tags=["people"], summary="Replace the teams"
    )
    async def put_teams(
        account_id: AccountId, body: Annotated[list[TeamBody] | TeamsBody, Body()], who: Editor, api: Services
    ) -> list[TeamBody]:
        given = body.teams if isinstance(body, TeamsBody) else body
        teams = [HandoffTeam.model_validate(team.model_dump(mode="json")) for team in given]
        config = await api.configuration.replace_teams(account_id, who.key_id, teams)
        return [TeamBody.model_validate(team.model_dump(mode="json")) for team in config.teams]

    # credits ----------------------------------------------------------------------------------

    @router.get(
        "/credits", response_model=CreditsOut, responses=READ_ERRORS, tags=["credits"], summary="Credit balance"
    )
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
            reset_at=state.reset_at,
            exhausted=state.exhausted,
            plan=CreditPlanBody.model_validate(
                state.plan.model_dump(mode="json", include=set(CreditPlanBody.model_fields))
            ),
        )

    @router.post(
        "/credits/purchases",
        status_code=202,
        response_model=CommandAccepted,
        responses=EDIT_ERRORS,
        tags=["credits"],
        summary="Record a credit purchase",
    )
    async def purchase(
        account_id: AccountId, body: PurchaseBody, who: Editor, api: Services, idempotency_key: IdempotencyKey = None
    ) -> JSONResponse:
        async def run() -> CommandAccepted:
            return CommandAccepted(command_id=await api.credits.purchase(account_id, who.key_id, body.credits))

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
        tags=["credits"],
        summary="Set the plan and auto-upgrade limit",
    )
    async def put_plan(account_id: AccountId, body: CreditPlanBody, who: Editor, api: Services) -> CommandAccepted:
        plan = CreditPlan.model_validate(body.model_dump(mode="json"))
        return CommandAccepted(command_id=await api.credits.set_plan(account_id, who.key_id, plan))

    # performance, knowledge gaps, audit -------------------------------------------------------

    @router.get(
        "/performance",
        response_model=PerformanceOut,
        responses=READ_ERRORS,
        tags=["insights"],
        summary="Performance over dates",
    )
    async def performance(
        account_id: AccountId,
        who: Reader,
        api: Services,
        from_: Annotated[date | None, Query(alias="from", description="First day (UTC), default 30 days ago.")] = None,
        to: Annotated[date | None, Query(description="Last day (UTC, inclusive), default today.")] = None,
    ) -> JSONResponse:
        last = to or datetime.now(UTC).date()
        first = from_ or last - timedelta(days=29)
        if first > last:
            raise InvalidRequest("'from' must not be after 'to'.")
        if (last - first).days >= MAX_PERFORMANCE_DAYS:
            raise InvalidRequest(f"The period may span at most {MAX_PERFORMANCE_DAYS} days.")
        start = datetime.combine(first, time.min, tzinfo=UTC)
        end = datetime.combine(last, time.min, tzinfo=UTC) + timedelta(days=1)
        summary = await api.insights.performance(account_id, start, end)
        body = PerformanceOut.model_validate(
            {
                **{key: value for key, value in summary.__dict__.items() if key != "top_questions"},
                "from": first.isoformat(),
                "to": last.isoformat(),
                "top_questions": [{"question": q.question, "count": q.count} for q in summary.top_questions],
            }
        )
        return _json_response(body)

    @router.get(
        "/knowledge-gaps",
        response_model=KnowledgeGapList,
        responses=READ_ERRORS,
        tags=["insights"],
        summary="Unanswered questions, grouped and counted",
    )
    async def list_gaps(
        account_id: AccountId,
        who: Reader,
        api: Services,
        status: Annotated[Literal["open", "resolved"] | None, Query(description="Only gaps in this state.")] = "open",
    ) -> KnowledgeGapList:
        return KnowledgeGapList(items=[gap_out(row) for row in await api.insights.gaps(account_id, status)])

    @router.post(
        "/knowledge-gaps/{gap_id}/resolve",
        status_code=201,
        response_model=ResolvedGapOut,
        responses={**EDIT_ERRORS, **error_responses(409)},
        tags=["insights"],
        summary="Create a short answer from a gap and resolve it",
    )
    async def resolve_gap(
        account_id: AccountId,
        gap_id: Annotated[str, Path(min_length=1, max_length=60)],
        body: ResolveGapBody,
        who: Editor,
        api: Services,
        idempotency_key: IdempotencyKey = None,
    ) -> JSONResponse:
        async def run() -> ResolvedGapOut:
            gap, source = await api.insights.resolve_gap(account_id, who.key_id, gap_id, body.answer, body.question)
            return ResolvedGapOut(gap=gap_out(gap), source=source_out(source))

        return await idempotent(
            api,
            account_id=account_id,
            scope=f"POST /knowledge-gaps/{gap_id}/resolve",
            key=idempotency_key,
            request_fingerprint=fingerprint(body.model_dump(mode="json")),
            status_code=201,
            run=run,
        )

    @router.get(
        "/audit-log", response_model=AuditPage, responses=READ_ERRORS, tags=["audit"], summary="Recorded changes"
    )
    async def audit_log(
        account_id: AccountId,
        who: Reader,
        api: Services,
        target_type: Annotated[str | None, Query(max_length=60)] = None,
        target_id: Annotated[str | None, Query(max_length=300)] = None,
        action: Annotated[str | None, Query(max_length=40)] = None,
        from_: Annotated[datetime | None, Query(alias="from", description="Not before (RFC 3339).")] = None,
        to: Annotated[datetime | None, Query(description="Before (RFC 3339).")] = None,
        before_id: Annotated[int | None, Query(ge=1, le=2**62, description="Page: entries older than this id.")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> AuditPage:
        async with api.unit_of_work() as uow:
            rows = await uow.audit.search(
                AuditQuery(
                    account_id=account_id,
                    target_type=target_type,
                    target_id=target_id,
                    action=action,
                    start=_aware(from_),
                    end=_aware(to),
                    before_id=before_id,
                    limit=limit,
                )
            )
        entries = [
            AuditEntryOut.model_validate({k: v for k, v in row.items() if k in AuditEntryOut.model_fields})
            for row in rows
        ]
        return AuditPage(items=entries, next_before_id=entries[-1].id if len(entries) == limit else None)

    return router


def _aware(moment: datetime | None) -> datetime | None:
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment
