"""The handoff rule: who among the named users and teams can take a thread now."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum, StrEnum

from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.config import HandoffTarget, HandoffTeam, HandoffUser

from routing_service.domain.working_hours import is_within_hours

LoadKey = tuple[AssigneeKind, str]
"""(user|team, id) → open threads currently assigned."""


class Blocked(IntEnum):
    """Why a candidate cannot take a thread, ordered by how far it got through the checks."""

    NO_SEAT = 0  # unknown, no paid seat, or a team with nobody who has one
    OUTSIDE_HOURS = 1
    AWAY = 2
    AT_CAPACITY = 3


class Notice(StrEnum):
    """Which configured text the visitor gets (the field names of ``AvailabilityMessages``)."""

    AVAILABLE = "available"
    AWAY = "away"
    AT_CAPACITY = "at_capacity"
    OUTSIDE_HOURS = "outside_hours"
    HANDOFF_UNAVAILABLE = "handoff_unavailable"


BLOCK_MESSAGE: dict[Blocked, Notice] = {
    Blocked.NO_SEAT: Notice.AWAY,
    Blocked.OUTSIDE_HOURS: Notice.OUTSIDE_HOURS,
    Blocked.AWAY: Notice.AWAY,
    Blocked.AT_CAPACITY: Notice.AT_CAPACITY,
}


@dataclass(frozen=True)
class People:
    """Users, teams and their current load, as routing knows them."""

    users: Mapping[str, HandoffUser]
    teams: Mapping[str, HandoffTeam]
    loads: Mapping[LoadKey, int]

    @classmethod
    def of(
        cls,
        users: Sequence[HandoffUser],
        teams: Sequence[HandoffTeam],
        loads: Mapping[LoadKey, int],
        presence: Mapping[str, bool] | None = None,
    ) -> People:
        """Index users and teams by id; a user is available when both the configuration (the admin's
        setting) and the inbox's presence, if it reported one, say so."""
        presence = presence or {}
        present = [
            user if presence.get(user.id, True) or not user.available else user.model_copy(update={"available": False})
            for user in users
        ]
        return cls({user.id: user for user in present}, {team.id: team for team in teams}, loads)

    def user_load(self, user_id: str) -> int:
        """Open threads assigned to the user."""
        return self.loads.get((AssigneeKind.USER, user_id), 0)

    def team_load(self, team: HandoffTeam) -> int:
        """Open threads assigned to the team or to any of its members."""
        return self.loads.get((AssigneeKind.TEAM, team.id), 0) + sum(
            self.user_load(member) for member in set(team.member_ids)
        )

    def team_full(self, team: HandoffTeam) -> bool:
        """True when the team has a max capacity and reached it."""
        return team.max_capacity is not None and self.team_load(team) >= team.max_capacity


@dataclass(frozen=True)
class Evaluation:
    """A candidate and whether it can take the thread now."""

    target: HandoffTarget
    load: int
    blocked: Blocked | None

    @property
    def available(self) -> bool:
        """True when nothing blocks the candidate."""
        return self.blocked is None


def evaluate_user(user: HandoffUser | None, people: People, at: datetime) -> Blocked | None:
    """Seat → working hours (own time zone) → availability → capacity of the user's teams."""
    if user is None or not user.paid_seat:
        return Blocked.NO_SEAT
    if not is_within_hours(user.working_hours, at):
        return Blocked.OUTSIDE_HOURS
    if not user.available:
        return Blocked.AWAY
    if any(people.team_full(people.teams[team_id]) for team_id in user.team_ids if team_id in people.teams):
        return Blocked.AT_CAPACITY
    return None


def evaluate_team(team: HandoffTeam | None, people: People, at: datetime) -> Blocked | None:
    """A team needs business hours (if set), one member who could take it, and room below max capacity."""
    if team is None:
        return Blocked.NO_SEAT
    if team.working_hours is not None and not is_within_hours(team.working_hours, at):
        return Blocked.OUTSIDE_HOURS
    best = Blocked.NO_SEAT
    member_ready = False
    for member_id in team.member_ids:
        user = people.users.get(member_id)
        if user is None or not user.paid_seat:
            continue
        if not is_within_hours(user.working_hours, at):
            best = max(best, Blocked.OUTSIDE_HOURS)
        elif not user.available:
            best = max(best, Blocked.AWAY)
        else:
            member_ready = True
    if not member_ready:
        return best
    if people.team_full(team):
        return Blocked.AT_CAPACITY
    return None


def evaluate(target: HandoffTarget, people: People, at: datetime) -> Evaluation:
    """Evaluate one named candidate."""
    if target.kind is AssigneeKind.USER:
        return Evaluation(target, people.user_load(target.id), evaluate_user(people.users.get(target.id), people, at))
    if target.kind is AssigneeKind.TEAM:
        team = people.teams.get(target.id)
        load = people.team_load(team) if team is not None else 0
        return Evaluation(target, load, evaluate_team(team, people, at))
    return Evaluation(target, 0, Blocked.NO_SEAT)


@dataclass(frozen=True)
class HandoffPick:
    """Result of applying a handoff rule: the receiver (None = unassigned view) and the visitor's message."""

    assignee: HandoffTarget | None
    message: Notice


def _message_for(evaluations: Sequence[Evaluation]) -> Notice:
    if any(evaluation.available for evaluation in evaluations):
        return Notice.AVAILABLE
    if not evaluations:
        return Notice.AWAY
    return BLOCK_MESSAGE[max(evaluation.blocked for evaluation in evaluations if evaluation.blocked is not None)]


def pick_assignee(assign_to: Sequence[HandoffTarget], people: People, at: datetime) -> HandoffPick:
    """Least-loaded available named candidate; nobody named or nobody available → the unassigned view.

    With nobody named, the message reflects everyone who could pick the thread from the
    unassigned view (every configured user with a paid seat).
    """
    if not assign_to:
        everyone = [evaluate(HandoffTarget(kind=AssigneeKind.USER, id=user_id), people, at) for user_id in people.users]
        return HandoffPick(None, _message_for(everyone))
    evaluations = [evaluate(target, people, at) for target in assign_to]
    available = [evaluation for evaluation in evaluations if evaluation.available]
    if not available:
        return HandoffPick(None, _message_for(evaluations))
    chosen = min(available, key=lambda evaluation: evaluation.load)  # min keeps the first on ties
    return HandoffPick(chosen.target, Notice.AVAILABLE)
