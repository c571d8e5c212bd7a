"""The thread ownership state machine allows only its declared transitions."""

from __future__ import annotations

import itertools

import pytest
from routing_service.domain.ownership import ALLOWED_TRANSITIONS, IllegalTransitionError, ThreadState, path, transition

S = ThreadState
LEGAL = {
    (S.NEW, S.AGENT),
    (S.NEW, S.HANDOFF_PENDING),
    (S.AGENT, S.HANDOFF_PENDING),
    (S.AGENT, S.CLOSED),
    (S.HANDOFF_PENDING, S.HUMAN),
    (S.HANDOFF_PENDING, S.UNASSIGNED),
    (S.AGENT, S.HUMAN),
    (S.AGENT, S.UNASSIGNED),
    (S.HUMAN, S.CLOSED),
    (S.HUMAN, S.HUMAN),
    (S.HUMAN, S.UNASSIGNED),
    (S.HUMAN, S.AGENT),
    (S.UNASSIGNED, S.CLOSED),
    (S.UNASSIGNED, S.HUMAN),
    (S.UNASSIGNED, S.AGENT),
    (S.CLOSED, S.NEW),
}


@pytest.mark.parametrize(("source", "target"), list(itertools.product(S, S)))
def test_only_declared_transitions_are_allowed(source: ThreadState, target: ThreadState) -> None:
    if (source, target) in LEGAL:
        assert transition(source, target).to_state is target
    else:
        with pytest.raises(IllegalTransitionError):
            transition(source, target)


def test_every_state_has_a_rule() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(S)


def test_path_chains_steps() -> None:
    steps = path(S.AGENT, S.HANDOFF_PENDING, S.HUMAN)
    assert [(step.from_state, step.to_state) for step in steps] == [
        (S.AGENT, S.HANDOFF_PENDING),
        (S.HANDOFF_PENDING, S.HUMAN),
    ]
    with pytest.raises(IllegalTransitionError):
        path(S.HUMAN, S.NEW)
