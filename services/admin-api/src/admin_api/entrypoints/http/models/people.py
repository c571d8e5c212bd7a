"""Bodies of the users and teams endpoints."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.channels import PersonId
from pydantic import Field

from admin_api.entrypoints.http.models.common import ApiModel, examples

PersonIdBody = Annotated[PersonId, Field(min_length=1)]
"""A user or team id: what routing can hand a thread off to (no control characters, at most 200 characters)."""


class WorkingIntervalBody(ApiModel):
    """Working time on one weekday."""

    model_config = examples({"day": 0, "start": "09:00", "end": "17:00"})

    day: int = Field(ge=0, le=6, description="0 = Monday.")
    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM.")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="HH:MM, 24:00 allowed.")


class WorkingHoursBody(ApiModel):
    """Weekly hours in an IANA time zone; no intervals = always."""

    model_config = examples(
        {"timezone": "Europe/Copenhagen", "intervals": [{"day": 0, "start": "09:00", "end": "17:00"}]}
    )

    timezone: str = Field(default="UTC", max_length=64)
    intervals: list[WorkingIntervalBody] = Field(default_factory=list, max_length=100)


class UserBody(ApiModel):
    """A person who can receive handoffs."""

    model_config = examples({"id": "u-ada", "name": "Ada", "paid_seat": True, "available": True, "team_ids": []})

    id: PersonIdBody
    name: str = Field(default="", max_length=200)
    paid_seat: bool = False
    available: bool = True
    working_hours: WorkingHoursBody = Field(default_factory=WorkingHoursBody)
    team_ids: list[PersonId] = Field(default_factory=list, max_length=100)


class UsersBody(ApiModel):
    """The full list of users, wrapped (a bare JSON list is accepted too)."""

    model_config = examples({"users": [{"id": "u-ada", "name": "Ada", "paid_seat": True}]})

    users: list[UserBody] = Field(max_length=1000)


class TeamBody(ApiModel):
    """A team that can receive handoffs."""

    model_config = examples({"id": "support", "name": "Support", "max_capacity": 20, "member_ids": ["u-ada"]})

    id: PersonIdBody
    name: str = Field(default="", max_length=200)
    max_capacity: int | None = Field(default=None, ge=0, le=100_000, description="Max open threads; null = no limit.")
    member_ids: list[PersonId] = Field(default_factory=list, max_length=1000)
    working_hours: WorkingHoursBody | None = None


class TeamsBody(ApiModel):
    """The full list of teams, wrapped (a bare JSON list is accepted too)."""

    model_config = examples({"teams": [{"id": "support", "name": "Support", "max_capacity": 20, "member_ids": []}]})

    teams: list[TeamBody] = Field(max_length=500)
