"""Handoff candidates: paid seat, working hours, availability, team capacity; least loaded wins."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.config import (
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)
from routing_service.domain.handoff import Blocked, Notice, People, evaluate, pick_assignee

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 10:00 UTC
IN_HOURS = WorkingHours(timezone="UTC", intervals=[WorkingInterval(day=0, start="09:00", end="17:00")])
OUT_OF_HOURS = WorkingHours(timezone="UTC", intervals=[WorkingInterval(day=0, start="12:00", end="17:00")])


def user(
    user_id: str, *, seat: bool = True, hours: bool = True, available: bool = True, teams: tuple[str, ...] = ()
) -> HandoffUser:
    return HandoffUser(
        id=user_id,
        paid_seat=seat,
        available=available,
        working_hours=IN_HOURS if hours else OUT_OF_HOURS,
        team_ids=list(teams),
    )


def target(kind: AssigneeKind, target_id: str) -> HandoffTarget:
    return HandoffTarget(kind=kind, id=target_id)


def expected_block(seat: bool, hours: bool, available: bool, full: bool) -> Blocked | None:
    """The order of the checks: seat, then hours, then availability, then capacity."""
    if not seat:
        return Blocked.NO_SEAT
    if not hours:
        return Blocked.OUTSIDE_HOURS
    if not available:
        return Blocked.AWAY
    if full:
        return Blocked.AT_CAPACITY
    return None


COMBINATIONS = list(itertools.product([True, False], repeat=4))


@pytest.mark.parametrize(("seat", "hours", "available", "full"), COMBINATIONS)
def test_named_user(seat: bool, hours: bool, available: bool, full: bool) -> None:
    team = HandoffTeam(id="t1", max_capacity=2, member_ids=["u1", "u2"])
    loads = {(AssigneeKind.TEAM, "t1"): 2 if full else 1}
    people = People.of([user("u1", seat=seat, hours=hours, available=available, teams=("t1",))], [team], loads)
    assert evaluate(target(AssigneeKind.USER, "u1"), people, AT).blocked == expected_block(seat, hours, available, full)


@pytest.mark.parametrize(("seat", "hours", "available", "full"), COMBINATIONS)
def test_named_team(seat: bool, hours: bool, available: bool, full: bool) -> None:
    team = HandoffTeam(id="t1", max_capacity=3, member_ids=["u1"])
    loads = {(AssigneeKind.USER, "u1"): 3 if full else 2}  # members' threads count toward the team
    people = People.of([user("u1", seat=seat, hours=hours, available=available, teams=("t1",))], [team], loads)
    evaluation = evaluate(target(AssigneeKind.TEAM, "t1"), people, AT)
    assert evaluation.blocked == expected_block(seat, hours, available, full)
    assert evaluation.load == (3 if full else 2)


def test_team_business_hours_come_first() -> None:
    team = HandoffTeam(id="t1", member_ids=["u1"], working_hours=OUT_OF_HOURS)
    people = People.of([user("u1")], [team], {})
    assert evaluate(target(AssigneeKind.TEAM, "t1"), people, AT).blocked is Blocked.OUTSIDE_HOURS


def test_team_without_capacity_limit_is_never_full() -> None:
    team = HandoffTeam(id="t1", max_capacity=None, member_ids=["u1"])
    people = People.of([user("u1")], [team], {(AssigneeKind.TEAM, "t1"): 10_000})
    assert evaluate(target(AssigneeKind.TEAM, "t1"), people, AT).available


def test_unknown_targets_are_not_candidates() -> None:
    people = People.of([], [], {})
    assert evaluate(target(AssigneeKind.USER, "ghost"), people, AT).blocked is Blocked.NO_SEAT
    assert evaluate(target(AssigneeKind.TEAM, "ghost"), people, AT).blocked is Blocked.NO_SEAT


def test_least_loaded_available_candidate_wins() -> None:
    people = People.of(
        [user("busy"), user("free"), user("away", available=False)],
        [HandoffTeam(id="t1", member_ids=["busy"])],
        {(AssigneeKind.USER, "busy"): 3, (AssigneeKind.USER, "free"): 1},
    )
    pick = pick_assignee(
        [target(AssigneeKind.USER, "away"), target(AssigneeKind.USER, "busy"), target(AssigneeKind.USER, "free")],
        people,
        AT,
    )
    assert pick.assignee == target(AssigneeKind.USER, "free")
    assert pick.message is Notice.AVAILABLE


def test_ties_go_to_the_first_named() -> None:
    people = People.of([user("a"), user("b")], [], {})
    pick = pick_assignee([target(AssigneeKind.USER, "b"), target(AssigneeKind.USER, "a")], people, AT)
    assert pick.assignee == target(AssigneeKind.USER, "b")


def test_a_team_can_be_less_loaded_than_a_user() -> None:
    people = People.of(
        [user("u1"), user("u2", teams=("t1",))],
        [HandoffTeam(id="t1", member_ids=["u2"])],
        {(AssigneeKind.USER, "u1"): 2, (AssigneeKind.TEAM, "t1"): 1},
    )
    pick = pick_assignee([target(AssigneeKind.USER, "u1"), target(AssigneeKind.TEAM, "t1")], people, AT)
    assert pick.assignee == target(AssigneeKind.TEAM, "t1")


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        # The candidate that got furthest through the checks decides the visitor's message.
        ((Blocked.NO_SEAT,), Notice.AWAY),
        ((Blocked.OUTSIDE_HOURS,), Notice.OUTSIDE_HOURS),
        ((Blocked.OUTSIDE_HOURS, Blocked.AWAY), Notice.AWAY),
        ((Blocked.AWAY, Blocked.AT_CAPACITY), Notice.AT_CAPACITY),
        ((Blocked.OUTSIDE_HOURS, Blocked.NO_SEAT), Notice.OUTSIDE_HOURS),
    ],
)
def test_nobody_available_goes_unassigned_with_the_fitting_message(
    blocks: tuple[Blocked, ...], message: Notice
) -> None:
    users = []
    for index, block in enumerate(blocks):
        users.append(
            user(
                f"u{index}",
                seat=block is not Blocked.NO_SEAT,
                hours=block is not Blocked.OUTSIDE_HOURS,
                available=block is not Blocked.AWAY,
                teams=("full",) if block is Blocked.AT_CAPACITY else (),
            )
        )
    people = People.of(users, [HandoffTeam(id="full", max_capacity=0)], {})
    pick = pick_assignee([target(AssigneeKind.USER, u.id) for u in users], people, AT)
    assert pick.assignee is None
    assert pick.message is message


@pytest.mark.parametrize(("anyone_available", "message"), [(True, Notice.AVAILABLE), (False, Notice.OUTSIDE_HOURS)])
def test_nobody_named_goes_unassigned_and_the_message_reflects_everyone(
    anyone_available: bool, message: Notice
) -> None:
    people = People.of([user("u1", hours=False), user("u2", hours=anyone_available)], [], {})
    pick = pick_assignee([], people, AT)
    assert pick.assignee is None
    assert pick.message is message
