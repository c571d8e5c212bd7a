"""What the inbox's close, reassign and return do to ownership and to people's capacity."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import Assignee, AssigneeKind
from customer_agent_shared.events.config import HandoffTarget, HandoffTeam, HandoffUser
from routing_service.domain.handoff import Notice, People, pick_assignee
from routing_service.domain.inbox import (
    InvalidAssigneeError,
    Owner,
    close_thread,
    moves_places,
    reassign_thread,
    return_thread,
)
from routing_service.domain.ownership import ThreadState

S = ThreadState
ADA = (AssigneeKind.USER, "ada")
SALES = (AssigneeKind.TEAM, "sales")
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", list(ThreadState))
@pytest.mark.parametrize(
    "reassigned_to",
    [
        None,
        Assignee(kind=AssigneeKind.USER, id="ada"),
        Assignee(kind=AssigneeKind.TEAM, id="sales"),
        Assignee(kind=AssigneeKind.UNASSIGNED),
    ],
)
def test_whether_an_action_may_move_places_is_known_from_the_threads_state(
    state: ThreadState, reassigned_to: Assignee | None
) -> None:
    # Whoever of a user or a team holds a person's thread: the state, read without locking the thread, is enough.
    owners = [Owner(state, holder) for holder in ([ADA, SALES] if state is S.HUMAN else [None])]
    if reassigned_to is None:
        changes = [act(owner) for owner in owners for act in (close_thread, return_thread)]
    else:
        changes = [reassign_thread(owner, reassigned_to) for owner in owners]
    assert moves_places(state, reassigned_to) == any(change and change.load_changes for change in changes)


def test_closing_a_persons_thread_frees_their_place_at_once() -> None:
    change = close_thread(Owner(S.HUMAN, ADA))
    assert change is not None
    assert change.owner.state is S.CLOSED
    assert change.load_changes == ((ADA, -1),)


@pytest.mark.parametrize("state", [S.AGENT, S.UNASSIGNED])
def test_closing_a_thread_nobody_holds_frees_nothing(state: ThreadState) -> None:
    change = close_thread(Owner(state))
    assert change is not None
    assert change.owner.state is S.CLOSED
    assert change.load_changes == ()


@pytest.mark.parametrize("state", [S.CLOSED, S.NEW])
def test_an_action_on_a_thread_not_open_changes_nothing(state: ThreadState) -> None:
    assert close_thread(Owner(state)) is None
    assert reassign_thread(Owner(state), Assignee(kind=AssigneeKind.USER, id="ada")) is None
    assert return_thread(Owner(state)) is None


def test_reassigning_moves_the_place_from_one_holder_to_the_other() -> None:
    change = reassign_thread(Owner(S.HUMAN, ADA), Assignee(kind=AssigneeKind.TEAM, id="sales"))
    assert change is not None
    assert change.owner == Owner(S.HUMAN, SALES)
    assert change.load_changes == ((ADA, -1), (SALES, +1))


def test_reassigning_to_nobody_frees_the_place() -> None:
    change = reassign_thread(Owner(S.HUMAN, ADA), Assignee(kind=AssigneeKind.UNASSIGNED))
    assert change is not None
    assert change.owner == Owner(S.UNASSIGNED)
    assert change.load_changes == ((ADA, -1),)


def test_a_person_can_take_the_agents_thread() -> None:
    change = reassign_thread(Owner(S.AGENT), Assignee(kind=AssigneeKind.USER, id="ada"))
    assert change is not None
    assert change.owner == Owner(S.HUMAN, ADA)
    assert change.load_changes == ((ADA, +1),)


def test_reassigning_to_the_same_holder_changes_nothing() -> None:
    assert reassign_thread(Owner(S.HUMAN, ADA), Assignee(kind=AssigneeKind.USER, id="ada")) is None


def test_a_reassignment_to_a_user_without_id_is_refused() -> None:
    with pytest.raises(InvalidAssigneeError):
        reassign_thread(Owner(S.HUMAN, ADA), Assignee(kind=AssigneeKind.USER))


@pytest.mark.parametrize(("owner", "freed"), [(Owner(S.HUMAN, ADA), ((ADA, -1),)), (Owner(S.UNASSIGNED), ())])
def test_returning_gives_the_thread_to_the_agent_and_frees_the_place(
    owner: Owner, freed: tuple[tuple[tuple[AssigneeKind, str], int], ...]
) -> None:
    change = return_thread(owner)
    assert change is not None
    assert change.owner == Owner(S.AGENT)
    assert change.load_changes == freed
    assert return_thread(Owner(S.AGENT)) is None


def test_a_full_team_has_a_place_again_once_a_members_thread_is_closed() -> None:
    users = [HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])]
    teams = [HandoffTeam(id="sales", member_ids=["ada"], max_capacity=1)]
    rule = [HandoffTarget(kind=AssigneeKind.TEAM, id="sales")]
    loads = {ADA: 1}
    assert pick_assignee(rule, People.of(users, teams, loads), AT).message is Notice.AT_CAPACITY
    change = close_thread(Owner(S.HUMAN, ADA))
    assert change is not None
    for key, delta in change.load_changes:
        loads[key] += delta
    assert pick_assignee(rule, People.of(users, teams, loads), AT).assignee == rule[0]


def test_presence_and_the_admins_setting_must_both_say_available() -> None:
    away_in_config = HandoffUser(id="bo", paid_seat=True, available=False)
    present = HandoffUser(id="ada", paid_seat=True)
    people = People.of([present, away_in_config], [], {}, {"ada": False, "bo": True})
    assert people.users["ada"].available is False  # the inbox says away
    assert people.users["bo"].available is False  # the admin's away is not overridden by presence
    assert People.of([present], [], {}, {}).users["ada"].available is True  # no report yet: the config decides
