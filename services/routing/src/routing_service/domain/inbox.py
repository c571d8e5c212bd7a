"""What the human inbox's actions do to a thread's ownership and to people's loads, pure.

A person closes a thread, reassigns it (to a user, a team or the unassigned view) or returns it to
the agent. Whatever the thread leaves frees its place in the capacity of the user or team that held it,
at once; a user or team that receives it takes a place. Actions on a thread routing does not hold open
(never routed, or closed already) change nothing: the visitor's next message opens it again by the rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.events.channels import Assignee, AssigneeKind

from routing_service.domain.handoff import LoadKey
from routing_service.domain.ownership import ThreadState, Transition, transition

OPEN_STATES = frozenset({ThreadState.AGENT, ThreadState.HUMAN, ThreadState.UNASSIGNED})
"""States an inbox action applies to (``handoff_pending`` never outlives the decision that enters it)."""


class InvalidAssigneeError(ValueError):
    """A reassignment to a user or team without its id (which the contract's ``ThreadReassigned`` refuses)."""


@dataclass(frozen=True)
class Owner:
    """Who holds a thread: its state and, when a person holds it, which user or team."""

    state: ThreadState
    holder: LoadKey | None = None


@dataclass(frozen=True)
class InboxChange:
    """The new owner, the transition to it, and the load each user or team gains or loses."""

    owner: Owner
    step: Transition
    load_changes: tuple[tuple[LoadKey, int], ...]


def _move(before: Owner, after: Owner) -> InboxChange | None:
    if before.state not in OPEN_STATES or before == after:
        return None
    changes: list[tuple[LoadKey, int]] = []
    if before.state is ThreadState.HUMAN and before.holder is not None:
        changes.append((before.holder, -1))
    if after.state is ThreadState.HUMAN and after.holder is not None:
        changes.append((after.holder, +1))
    return InboxChange(after, transition(before.state, after.state), tuple(changes))


def close_thread(before: Owner) -> InboxChange | None:
    """A person closed the thread: it is closed and its holder's place is free."""
    return _move(before, Owner(ThreadState.CLOSED, before.holder))


def reassign_thread(before: Owner, assignee: Assignee) -> InboxChange | None:
    """A person gave the thread to a user, a team or the unassigned view."""
    if assignee.kind is AssigneeKind.UNASSIGNED:
        return _move(before, Owner(ThreadState.UNASSIGNED))
    if not assignee.id:
        raise InvalidAssigneeError(
            f"a thread reassigned to a {assignee.kind.value} needs the {assignee.kind.value}'s id"
        )
    return _move(before, Owner(ThreadState.HUMAN, (assignee.kind, assignee.id)))


def return_thread(before: Owner) -> InboxChange | None:
    """A person handed the thread back: the agent answers the visitor's next message."""
    return _move(before, Owner(ThreadState.AGENT))


def moves_places(state: ThreadState, reassigned_to: Assignee | None) -> bool:
    """Whether an inbox action on a thread in ``state`` may free or take a place of a user or team: a
    reassignment to ``reassigned_to``, or a close or return (None)."""
    if state not in OPEN_STATES:
        return False
    return state is ThreadState.HUMAN or (
        reassigned_to is not None and reassigned_to.kind is not AssigneeKind.UNASSIGNED
    )
