"""Thread ownership: the explicit state machine of who owns a thread."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ThreadState(StrEnum):
    """Who owns a thread right now."""

    NEW = "new"
    AGENT = "agent"
    HANDOFF_PENDING = "handoff_pending"
    HUMAN = "human"
    UNASSIGNED = "unassigned"
    CLOSED = "closed"


ALLOWED_TRANSITIONS: dict[ThreadState, frozenset[ThreadState]] = {
    ThreadState.NEW: frozenset({ThreadState.AGENT, ThreadState.HANDOFF_PENDING}),
    # A person in the inbox may also take an agent's thread (reassign) or close it.
    ThreadState.AGENT: frozenset(
        {ThreadState.HANDOFF_PENDING, ThreadState.CLOSED, ThreadState.HUMAN, ThreadState.UNASSIGNED}
    ),
    ThreadState.HANDOFF_PENDING: frozenset({ThreadState.HUMAN, ThreadState.UNASSIGNED}),
    # The inbox closes, reassigns (to another person, or to nobody) or returns a thread to the agent.
    ThreadState.HUMAN: frozenset({ThreadState.CLOSED, ThreadState.HUMAN, ThreadState.UNASSIGNED, ThreadState.AGENT}),
    ThreadState.UNASSIGNED: frozenset({ThreadState.CLOSED, ThreadState.HUMAN, ThreadState.AGENT}),
    # A visitor writing on a closed thread opens it again as a new conversation.
    ThreadState.CLOSED: frozenset({ThreadState.NEW}),
}

HUMAN_SIDE: frozenset[ThreadState] = frozenset({ThreadState.HUMAN, ThreadState.UNASSIGNED, ThreadState.HANDOFF_PENDING})
"""States in which a human (or the unassigned view) owns the thread: the agent stays silent."""


class IllegalTransitionError(ValueError):
    """A transition the state machine does not allow."""


@dataclass(frozen=True)
class Transition:
    """One change of ownership."""

    from_state: ThreadState
    to_state: ThreadState


def transition(from_state: ThreadState, to_state: ThreadState) -> Transition:
    """Validate and return a transition; raise ``IllegalTransitionError`` when not allowed."""
    if to_state not in ALLOWED_TRANSITIONS[from_state]:
        raise IllegalTransitionError(f"thread cannot go from {from_state} to {to_state}")
    return Transition(from_state, to_state)


def path(from_state: ThreadState, *to_states: ThreadState) -> list[Transition]:
    """Validate a chain of transitions taken by one event (e.g. agent → handoff_pending → human)."""
    steps: list[Transition] = []
    current = from_state
    for state in to_states:
        steps.append(transition(current, state))
        current = state
    return steps
