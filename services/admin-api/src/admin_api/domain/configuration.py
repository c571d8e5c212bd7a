"""Rules over an account's agent configuration (the snapshot routing and conversation fold)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    AgentProfile,
    AvailabilityMessages,
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffSettings,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
)

from admin_api.domain.errors import Conflict, InvalidRequest, NotFound
from admin_api.domain.handoff_defaults import DEFAULT_AVAILABILITY_MESSAGES, messages_with_defaults

LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
MAX_TRIGGERS = 200
MAX_TRIGGER_LENGTH = 100


def new_account_config(account_id: str, now: datetime) -> AgentConfigSnapshot:
    """The configuration of a new account: default profile, not paused, default handoff messages."""
    return AgentConfigSnapshot(
        account_id=account_id,
        version=1,
        updated_at=now,
        handoff=HandoffSettings(triggers=[], messages=messages_with_defaults({})),
    )


def with_resolution_hours(config: AgentConfigSnapshot, hours: int) -> AgentConfigSnapshot | None:
    """The configuration carrying the credit plan's resolution hours; None when it already does."""
    if config.resolution_hours == hours:
        return None
    return config.model_copy(update={"resolution_hours": hours})


def next_version(config: AgentConfigSnapshot, now: datetime) -> AgentConfigSnapshot:
    """The same configuration as the next snapshot version."""
    return config.model_copy(update={"version": config.version + 1, "updated_at": now})


def replace_profile(
    config: AgentConfigSnapshot, profile: AgentProfile, *, keep_answer_threshold: bool
) -> AgentConfigSnapshot:
    """The configuration with ``profile``, keeping the stored answer threshold if asked (a PUT without it)."""
    if keep_answer_threshold:
        profile = profile.model_copy(update={"answer_threshold": config.agent.answer_threshold})
    return config.model_copy(update={"agent": profile})


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _minutes(hhmm: str) -> int:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    return hours * 60 + minutes


def check_timezone(name: str, where: str) -> None:
    """Raise InvalidRequest unless ``name`` is an IANA time zone."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise InvalidRequest(
            f"{where}: {name!r} is not an IANA time zone (for example 'Europe/Copenhagen' or 'UTC')."
        ) from error


def check_working_hours(hours: WorkingHours, where: str) -> None:
    """Raise InvalidRequest for an unknown time zone or an interval that is not HH:MM < HH:MM."""
    check_timezone(hours.timezone, where)
    for interval in hours.intervals:
        start, end = _minutes(interval.start), _minutes(interval.end)
        if _minutes(interval.start) >= 24 * 60 or int(interval.start[3:]) > 59 or int(interval.end[3:]) > 59:
            raise InvalidRequest(f"{where}: {interval.start}-{interval.end} is not a valid time of day.")
        if end > 24 * 60 or start >= end:
            raise InvalidRequest(
                f"{where}: working interval {interval.start}-{interval.end} on day {interval.day} must start "
                "before it ends (use 00:00-24:00 for a whole day)."
            )


def check_handoff_rule(rule: HandoffRule, users: list[HandoffUser], teams: list[HandoffTeam], channel_id: str) -> None:
    """Only existing teams and existing users with a paid seat may be named in a rule."""
    if rule.mode is HandoffMode.STAY_ASSIGNED and rule.assign_to:
        raise InvalidRequest(
            f"Channel {channel_id!r}: mode 'stay_assigned' keeps the thread with the agent, "
            "so 'assign_to' must be empty."
        )
    duplicates = _duplicates(f"{target.kind.value}:{target.id}" for target in rule.assign_to)
    if duplicates:
        raise InvalidRequest(f"Channel {channel_id!r}: 'assign_to' names {', '.join(duplicates)} more than once.")
    users_by_id = {user.id: user for user in users}
    team_ids = {team.id for team in teams}
    for target in rule.assign_to:
        if target.kind is AssigneeKind.USER:
            user = users_by_id.get(target.id)
            if user is None:
                raise InvalidRequest(
                    f"Channel {channel_id!r}: user {target.id!r} does not exist; add the user with PUT /users first."
                )
            if not user.paid_seat:
                raise InvalidRequest(
                    f"Channel {channel_id!r}: user {target.id!r} has no paid seat; only users with a paid seat "
                    "can receive handoffs."
                )
        elif target.kind is AssigneeKind.TEAM:
            if target.id not in team_ids:
                raise InvalidRequest(
                    f"Channel {channel_id!r}: team {target.id!r} does not exist; add the team with PUT /teams first."
                )
        else:
            raise InvalidRequest(
                f"Channel {channel_id!r}: 'assign_to' entries are users or teams; leave the list empty for nobody."
            )


def _check_all_rules(channels: list[ChannelDeployment], users: list[HandoffUser], teams: list[HandoffTeam]) -> None:
    for channel in channels:
        check_handoff_rule(channel.handoff, users, teams, channel.id)


def deploy_channel(config: AgentConfigSnapshot, deployment: ChannelDeployment) -> AgentConfigSnapshot:
    """Deploy the agent on a new channel with its handoff rule."""
    if any(channel.id == deployment.id for channel in config.channels):
        raise Conflict(
            f"Channel {deployment.id!r} is already deployed; remove it first or pick another id.",
            code="channel_exists",
        )
    check_handoff_rule(deployment.handoff, config.users, config.teams, deployment.id)
    return config.model_copy(update={"channels": [*config.channels, deployment]})


def find_channel(config: AgentConfigSnapshot, channel_id: str) -> ChannelDeployment:
    """The deployment with this id, or NotFound."""
    for channel in config.channels:
        if channel.id == channel_id:
            return channel
    raise NotFound(f"Channel {channel_id!r} is not deployed on this account.")


def replace_channel_rule(config: AgentConfigSnapshot, channel_id: str, rule: HandoffRule) -> AgentConfigSnapshot:
    """Change the handoff rule of a deployed channel."""
    find_channel(config, channel_id)
    check_handoff_rule(rule, config.users, config.teams, channel_id)
    channels = [
        channel.model_copy(update={"handoff": rule}) if channel.id == channel_id else channel
        for channel in config.channels
    ]
    return config.model_copy(update={"channels": channels})


def remove_channel(config: AgentConfigSnapshot, channel_id: str) -> AgentConfigSnapshot:
    """Stop the agent on a channel."""
    find_channel(config, channel_id)
    return config.model_copy(update={"channels": [c for c in config.channels if c.id != channel_id]})


def replace_users(config: AgentConfigSnapshot, users: list[HandoffUser]) -> AgentConfigSnapshot:
    """Replace the people who take handoffs; team members and every rule must stay valid.

    A user's ``team_ids`` may name teams created later (teams list their members themselves).
    """
    duplicates = _duplicates(user.id for user in users)
    if duplicates:
        raise InvalidRequest(f"User ids must be unique; repeated: {', '.join(duplicates)}.")
    for user in users:
        check_working_hours(user.working_hours, f"User {user.id!r}")
    _check_all_rules(config.channels, users, config.teams)
    user_ids = {user.id for user in users}
    for team in config.teams:
        gone = sorted(set(team.member_ids) - user_ids)
        if gone:
            raise InvalidRequest(
                f"Team {team.id!r} still lists {', '.join(gone)} as members; update the team with PUT /teams first."
            )
    return config.model_copy(update={"users": users})


def replace_teams(config: AgentConfigSnapshot, teams: list[HandoffTeam]) -> AgentConfigSnapshot:
    """Replace the teams that take handoffs; members must exist and every rule must stay valid."""
    duplicates = _duplicates(team.id for team in teams)
    if duplicates:
        raise InvalidRequest(f"Team ids must be unique; repeated: {', '.join(duplicates)}.")
    user_ids = {user.id for user in config.users}
    for team in teams:
        if team.working_hours is not None:
            check_working_hours(team.working_hours, f"Team {team.id!r}")
        unknown = sorted(set(team.member_ids) - user_ids)
        if unknown:
            raise InvalidRequest(
                f"Team {team.id!r} names unknown users {', '.join(unknown)}; add them with PUT /users."
            )
    _check_all_rules(config.channels, config.users, teams)
    return config.model_copy(update={"teams": teams})


def normalize_triggers(triggers: list[str]) -> list[str]:
    """Trim, drop empties and case-insensitive duplicates (first spelling wins); enforce limits."""
    seen: set[str] = set()
    result: list[str] = []
    for trigger in triggers:
        cleaned = " ".join(trigger.split())
        if not cleaned:
            continue
        if len(cleaned) > MAX_TRIGGER_LENGTH:
            raise InvalidRequest(f"Trigger {cleaned[:30]!r}… is longer than {MAX_TRIGGER_LENGTH} characters.")
        if cleaned.casefold() not in seen:
            seen.add(cleaned.casefold())
            result.append(cleaned)
    if len(result) > MAX_TRIGGERS:
        raise InvalidRequest(f"At most {MAX_TRIGGERS} trigger words or phrases are allowed.")
    return result


def set_handoff_settings(
    config: AgentConfigSnapshot,
    triggers: list[str] | None,
    messages: Mapping[str, Mapping[str, str] | None] | None,
) -> AgentConfigSnapshot:
    """Replace triggers and/or the messages of the languages given; languages not given keep theirs.

    ``messages`` holds each language's texts by name (the fields of ``AvailabilityMessages``); a language
    given without ``handoff_unavailable`` keeps the text it had, else gets the default (see
    ``handoff_unavailable_text``). A language given as None loses its own messages: it goes back to its
    default ones, or is dropped when there are none in that language.
    """
    current = config.handoff
    new_triggers = current.triggers if triggers is None else normalize_triggers(triggers)
    new_messages = current.messages if messages is None else _merged_messages(current.messages, messages)
    return config.model_copy(update={"handoff": HandoffSettings(triggers=new_triggers, messages=new_messages)})


def _merged_messages(
    current: Mapping[str, AvailabilityMessages], changes: Mapping[str, Mapping[str, str] | None]
) -> dict[str, AvailabilityMessages]:
    merged = dict(current)
    for language, texts in changes.items():
        tag = language.lower()
        if not LANGUAGE_TAG.match(tag):
            raise InvalidRequest(
                f"{language!r} is not a language tag; key messages by language, e.g. 'en', 'da' or 'pt-br'."
            )
        if texts is None:
            merged.pop(tag, None)
            continue
        fallback = {"handoff_unavailable": handoff_unavailable_text(current, language)}
        merged[tag] = AvailabilityMessages.model_validate({**fallback, **texts})
    return messages_with_defaults(merged)


def handoff_unavailable_text(current: Mapping[str, AvailabilityMessages], language: str) -> str:
    """The "handoff unavailable" text a language keeps when a change leaves it out (DESIGN.md lists the
    availability messages once with it, once without): the account's current one for that language, else
    the default for the language or its primary subtag, else the English default."""
    tag = language.lower()
    if tag in current:
        return current[tag].handoff_unavailable
    for candidate in (tag, tag.split("-")[0]):
        if candidate in DEFAULT_AVAILABILITY_MESSAGES:
            return DEFAULT_AVAILABILITY_MESSAGES[candidate].handoff_unavailable
    return DEFAULT_AVAILABILITY_MESSAGES["en"].handoff_unavailable
