"""The users and teams who take handoffs."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.config import HandoffTeam, HandoffUser
from fastapi import APIRouter, Body, Response

from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.people import TeamBody, TeamsBody, UserBody, UsersBody
from admin_api.entrypoints.http.params import ETAG_HEADER, IfMatch
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Services
from admin_api.handlers.configuration import teams_etag, users_etag

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["people"])
READ_RESPONSES = {**READ_ERRORS, 200: {"headers": ETAG_HEADER, "description": "The list and its ETag."}}
EDIT_RESPONSES = {**EDIT_ERRORS, **error_responses(412), 200: {"headers": ETAG_HEADER, "description": "Saved."}}


@router.get("/users", response_model=list[UserBody], responses=READ_RESPONSES, summary="Users who take handoffs")
async def get_users(account_id: AccountId, who: Reader, api: Services, response: Response) -> list[UserBody]:
    config = await api.configuration.current(account_id)
    response.headers["ETag"] = users_etag(config)
    return [UserBody.model_validate(user.model_dump(mode="json")) for user in config.users]


@router.put("/users", response_model=list[UserBody], responses=EDIT_RESPONSES, summary="Replace the users")
async def put_users(
    account_id: AccountId,
    body: Annotated[list[UserBody] | UsersBody, Body()],
    who: Editor,
    api: Services,
    response: Response,
    if_match: IfMatch = None,
) -> list[UserBody]:
    given = body.users if isinstance(body, UsersBody) else body
    users = [HandoffUser.model_validate(user.model_dump(mode="json")) for user in given]
    config = await api.configuration.replace_users(account_id, actor=who.key_id, users=users, if_match=if_match)
    response.headers["ETag"] = users_etag(config)
    return [UserBody.model_validate(user.model_dump(mode="json")) for user in config.users]


@router.get("/teams", response_model=list[TeamBody], responses=READ_RESPONSES, summary="Teams who take handoffs")
async def get_teams(account_id: AccountId, who: Reader, api: Services, response: Response) -> list[TeamBody]:
    config = await api.configuration.current(account_id)
    response.headers["ETag"] = teams_etag(config)
    return [TeamBody.model_validate(team.model_dump(mode="json")) for team in config.teams]


@router.put("/teams", response_model=list[TeamBody], responses=EDIT_RESPONSES, summary="Replace the teams")
async def put_teams(
    account_id: AccountId,
    body: Annotated[list[TeamBody] | TeamsBody, Body()],
    who: Editor,
    api: Services,
    response: Response,
    if_match: IfMatch = None,
) -> list[TeamBody]:
    given = body.teams if isinstance(body, TeamsBody) else body
    teams = [HandoffTeam.model_validate(team.model_dump(mode="json")) for team in given]
    config = await api.configuration.replace_teams(account_id, actor=who.key_id, teams=teams, if_match=if_match)
    response.headers["ETag"] = teams_etag(config)
    return [TeamBody.model_validate(team.model_dump(mode="json")) for team in config.teams]
