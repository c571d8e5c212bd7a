"""The account's agent configuration snapshot on the compacted agent.config.v1."""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from pydantic import Field, model_validator

from customer_agent_shared.events.channels import AssigneeKind, ChannelType, ContractModel, PersonId, is_external_id
from customer_agent_shared.events.envelope import Timestamp

logger = logging.getLogger(__name__)

AGENT_CONFIG_SNAPSHOT = "agent.config.snapshot"


class AgentRole(StrEnum):
    """What the agent is for; shapes phrasing."""

    CUSTOMER_SERVICE = "customer_service"
    MARKETING_SPECIALIST = "marketing_specialist"
    SALES_REPRESENTATIVE = "sales_representative"


class Personality(StrEnum):
    """Tone of the agent's replies."""

    FRIENDLY = "friendly"
    PROFESSIONAL = "professional"
    CASUAL = "casual"
    EMPATHETIC = "empathetic"
    WITTY = "witty"


class AgentProfile(ContractModel):
    """Name, role and personality of the agent, and how sure it must be to answer."""

    name: str = Field(default="Customer Agent", description="Name that signs the agent's messages.")
    role: AgentRole = Field(default=AgentRole.CUSTOMER_SERVICE, description="Role.")
    personality: Personality = Field(default=Personality.FRIENDLY, description="Tone.")
    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The least confidence (the calibrated probability, 0..1, that an answer cites the right page) "
        "the agent needs to answer from passages with vectors; None = the service's tuned default. Higher "
        "answers less and more precisely.",
    )


class HandoffMode(StrEnum):
    """What happens when a thread must leave the agent."""

    HANDOFF = "handoff"
    STAY_ASSIGNED = "stay_assigned"


class HandoffTarget(ContractModel):
    """A user or team named in a handoff rule."""

    kind: AssigneeKind = Field(description="user or team.")
    id: PersonId = Field(description="User or team id.")


class HandoffRule(ContractModel):
    """The channel's handoff rule."""

    mode: HandoffMode = Field(default=HandoffMode.HANDOFF, description="handoff or stay_assigned.")
    assign_to: list[HandoffTarget] = Field(
        default_factory=list, description="Candidates; empty means the unassigned view."
    )
    update_avatar: bool = Field(default=True, description="Show the human's avatar after handoff.")


class ChannelDeployment(ContractModel):
    """The agent deployed on one channel."""

    type: ChannelType = Field(description="Channel kind.")
    id: str = Field(description="Channel id.")
    handoff: HandoffRule = Field(default_factory=HandoffRule, description="Handoff rule.")


class AvailabilityMessages(ContractModel):
    """Messages the visitor sees when a handoff happens or cannot happen, in one language."""

    available: str = Field(description="A teammate will be with you shortly.")
    away: str = Field(description="The team is away.")
    at_capacity: str = Field(description="The team is at max capacity.")
    outside_hours: str = Field(description="Outside business hours.")
    handoff_unavailable: str = Field(description="A handoff is not possible; the agent stays.")


class HandoffSettings(ContractModel):
    """Trigger phrases and availability messages per language."""

    triggers: list[str] = Field(default_factory=list, description="Words or phrases that hand off at once.")
    messages: dict[str, AvailabilityMessages] = Field(
        default_factory=dict, description="Messages keyed by language (e.g. 'en', 'da')."
    )


class WorkingInterval(ContractModel):
    """An interval of working time on one weekday, in the person's time zone."""

    day: int = Field(ge=0, le=6, description="Weekday, 0 = Monday.")
    start: str = Field(pattern=r"^\d{2}:\d{2}$", description="Start, HH:MM.")
    end: str = Field(pattern=r"^\d{2}:\d{2}$", description="End, HH:MM (24:00 allowed).")


class WorkingHours(ContractModel):
    """Weekly working hours in a time zone; an empty interval list means always."""

    timezone: str = Field(default="UTC", description="IANA time zone, e.g. 'Europe/Copenhagen'.")
    intervals: list[WorkingInterval] = Field(default_factory=list, description="Weekly intervals.")


class HandoffUser(ContractModel):
    """A person who can receive handoffs."""

    id: PersonId = Field(description="User id.")
    name: str = Field(default="", description="Display name.")
    paid_seat: bool = Field(default=False, description="Only paid seats can receive handoffs.")
    available: bool = Field(default=True, description="False when the user set themselves away.")
    working_hours: WorkingHours = Field(default_factory=WorkingHours, description="Working hours.")
    team_ids: list[PersonId] = Field(default_factory=list, description="Teams the user belongs to.")


class HandoffTeam(ContractModel):
    """A team that can receive handoffs."""

    id: PersonId = Field(description="Team id.")
    name: str = Field(default="", description="Display name.")
    max_capacity: int | None = Field(default=None, ge=0, description="Max open threads; none = unlimited.")
    member_ids: list[PersonId] = Field(default_factory=list, description="Users in the team.")
    working_hours: WorkingHours | None = Field(default=None, description="Team business hours.")


class AgentConfigSnapshot(ContractModel):
    """Everything routing and conversation need to know about an account's agent."""

    account_id: str = Field(description="Account id.")
    version: int = Field(ge=0, description="Monotonic version; consumers ignore older snapshots.")
    updated_at: Timestamp = Field(description="When this snapshot was taken.")
    deleted: bool = Field(default=False, description="The account was removed.")
    agent: AgentProfile = Field(default_factory=AgentProfile, description="Agent profile.")
    paused: bool = Field(default=False, description="Manually paused (credit pause is billing's).")
    channels: list[ChannelDeployment] = Field(default_factory=list, description="Deployments.")
    handoff: HandoffSettings = Field(default_factory=HandoffSettings, description="Handoff settings.")
    users: list[HandoffUser] = Field(default_factory=list, description="People who take handoffs.")
    teams: list[HandoffTeam] = Field(default_factory=list, description="Teams who take handoffs.")
    default_language: str = Field(default="en", description="Fallback language of the account.")
    resolution_hours: int | None = Field(
        default=None,
        ge=1,
        description="Quiet hours after which a thread the agent answered counts as resolved: the credit "
        "plan's, as billing applies it (None: the service's default).",
    )

    @model_validator(mode="before")
    @classmethod
    def _without_unusable_people(cls, data: Any) -> Any:
        # admin-api accepted user and team ids with control characters (but NUL) until they became PersonIds:
        # a snapshot stored or published before then is read without those people, who could never take a
        # handoff (building it failed), instead of failing every read of the account's configuration.
        if not isinstance(data, dict):
            return data
        kept = {**data, **{key: read(data[key]) for key, read in _PEOPLE_READERS.items() if key in data}}
        if kept != data:
            logger.warning("agent configuration read without user or team ids that have control characters")
        return kept


def _usable(entries: Any, *, links: str) -> Any:
    """The entries whose id has no control character, each naming only such ids in ``links``."""
    if not isinstance(entries, list):
        return entries
    return [_with_usable_links(entry, links) for entry in entries if _is_usable(entry)]


def _with_usable_links(entry: Any, links: str) -> Any:
    if not isinstance(entry, dict) or not isinstance(entry.get(links), list):
        return entry
    return {**entry, links: [value for value in entry[links] if not isinstance(value, str) or is_external_id(value)]}


def _is_usable(entry: Any) -> bool:
    identifier = entry.get("id") if isinstance(entry, dict) else None
    return not isinstance(identifier, str) or is_external_id(identifier)


def _channels_with_usable_targets(channels: Any) -> Any:
    if not isinstance(channels, list):
        return channels
    return [_channel_with_usable_targets(channel) for channel in channels]


def _channel_with_usable_targets(channel: Any) -> Any:
    rule = channel.get("handoff") if isinstance(channel, dict) else None
    if not isinstance(rule, dict) or not isinstance(rule.get("assign_to"), list):
        return channel
    return {**channel, "handoff": {**rule, "assign_to": [target for target in rule["assign_to"] if _is_usable(target)]}}


_PEOPLE_READERS: dict[str, Callable[[Any], Any]] = {
    "users": lambda users: _usable(users, links="team_ids"),
    "teams": lambda teams: _usable(teams, links="member_ids"),
    "channels": _channels_with_usable_targets,
}
