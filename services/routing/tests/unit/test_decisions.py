"""The routing decision over every combination of ownership, deployment, pause, trigger, rule and people.

The expectations are written as the issue states the rules, independently of the implementation.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import AssigneeKind, ChannelType, HandoffReason
from customer_agent_shared.events.config import (
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)
from routing_service.domain.decisions import (
    Decision,
    Outcome,
    PauseCause,
    Situation,
    decide_handoff_request,
    decide_inbound,
    may_hand_off,
)
from routing_service.domain.handoff import Notice, People
from routing_service.domain.ownership import ThreadState

S = ThreadState
AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # Monday 10:00 UTC
U1 = HandoffTarget(kind=AssigneeKind.USER, id="u1")


@dataclass(frozen=True)
class Person:
    """The single named candidate u1 (member of team t1, max capacity 1)."""

    seat: bool
    hours: bool
    available: bool
    full: bool

    @property
    def can_take(self) -> bool:
        return self.seat and self.hours and self.available and not self.full

    @property
    def notice(self) -> Notice:
        if self.can_take:
            return Notice.AVAILABLE
        if self.seat and not self.hours:
            return Notice.OUTSIDE_HOURS
        if self.seat and self.hours and self.available and self.full:
            return Notice.AT_CAPACITY
        return Notice.AWAY  # away, or nobody with a seat

    def people(self) -> People:
        start = "09:00" if self.hours else "12:00"
        u1 = HandoffUser(
            id="u1",
            paid_seat=self.seat,
            available=self.available,
            working_hours=WorkingHours(
                timezone="Europe/Copenhagen", intervals=[WorkingInterval(day=0, start=start, end="17:00")]
            ),
            team_ids=["t1"],
        )
        team = HandoffTeam(id="t1", max_capacity=1, member_ids=["u1"])
        return People.of([u1], [team], {(AssigneeKind.TEAM, "t1"): 1 if self.full else 0})


PEOPLE = [Person(*flags) for flags in itertools.product([True, False], repeat=4)]


def situation(state: ThreadState, deployed: bool, pause: PauseCause, mode: HandoffMode, person: Person) -> Situation:
    rule = HandoffRule(mode=mode, assign_to=[U1], update_avatar=False)
    deployment = ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web", handoff=rule) if deployed else None
    return Situation(state=state, deployment=deployment, pause=pause, people=person.people(), at=AT)


@dataclass(frozen=True)
class Expected:
    outcome: Outcome
    final: ThreadState | None = None
    reason: HandoffReason | None = None
    assignee: HandoffTarget | None = None
    notice: Notice | None = None
    assign_to_agent: bool = False
    powered_by_ai: bool = True
    update_avatar: bool = False


def handoff(reason: HandoffReason, person: Person, *, named: bool, powered_by_ai: bool) -> Expected:
    """Named u1 if u1 can take it; else (or nobody named) the unassigned view with the fitting message."""
    takes = named and person.can_take
    return Expected(
        Outcome.HANDED_OFF,
        final=S.HUMAN if takes else S.UNASSIGNED,
        reason=reason,
        assignee=U1 if takes else None,
        notice=person.notice,
        powered_by_ai=powered_by_ai,
        update_avatar=named is False,  # the default rule shows the avatar; the tested rule does not
    )


def expected_inbound(
    state: ThreadState, deployed: bool, pause: PauseCause, trigger: bool, mode: HandoffMode, person: Person
) -> Expected:
    if state in (S.HUMAN, S.UNASSIGNED, S.HANDOFF_PENDING):
        return Expected(Outcome.FORWARDED_TO_INBOX)  # a human owns it: the agent stays silent
    if state is S.AGENT:  # the agent keeps its thread, even while paused or no longer deployed
        if not trigger:
            return Expected(Outcome.ASSIGNED_TO_AGENT, assign_to_agent=True)
        if deployed and mode is HandoffMode.STAY_ASSIGNED:
            return Expected(Outcome.STAYED_ASSIGNED, notice=Notice.HANDOFF_UNAVAILABLE, assign_to_agent=True)
        return handoff(HandoffReason.TRIGGER, person, named=deployed, powered_by_ai=True)
    # new or closed: a new conversation
    if not deployed:
        return handoff(HandoffReason.NOT_DEPLOYED, person, named=False, powered_by_ai=False)
    if pause is PauseCause.MANUAL:
        return handoff(HandoffReason.AGENT_PAUSED, person, named=True, powered_by_ai=False)
    if pause is PauseCause.CREDITS:
        return handoff(HandoffReason.CREDITS_EXHAUSTED, person, named=True, powered_by_ai=False)
    if trigger:
        if mode is HandoffMode.STAY_ASSIGNED:
            return Expected(
                Outcome.STAYED_ASSIGNED, final=S.AGENT, notice=Notice.HANDOFF_UNAVAILABLE, assign_to_agent=True
            )
        return handoff(HandoffReason.TRIGGER, person, named=True, powered_by_ai=True)
    return Expected(Outcome.ASSIGNED_TO_AGENT, final=S.AGENT, assign_to_agent=True)


def actual(decision: Decision) -> Expected:
    return Expected(
        decision.outcome,
        final=decision.final_state,
        reason=decision.reason,
        assignee=decision.assignee,
        notice=decision.notice,
        assign_to_agent=decision.assign_to_agent,
        powered_by_ai=decision.powered_by_ai,
        update_avatar=decision.update_avatar,
    )


@pytest.mark.parametrize(
    ("state", "deployed", "pause", "trigger", "mode"),
    list(itertools.product(S, [True, False], PauseCause, [True, False], HandoffMode)),
)
def test_inbound_decision(
    state: ThreadState, deployed: bool, pause: PauseCause, trigger: bool, mode: HandoffMode
) -> None:
    for person in PEOPLE:  # seat x hours x availability x capacity
        decision = decide_inbound(situation(state, deployed, pause, mode, person), trigger_matched=trigger)
        assert actual(decision) == expected_inbound(state, deployed, pause, trigger, mode, person), person
        if decision.transitions:  # a valid chain that starts from the current state
            assert decision.transitions[0].from_state is state
            assert all(a.to_state is b.from_state for a, b in itertools.pairwise(decision.transitions))
        new_thread = state in (S.NEW, S.CLOSED)
        assert decision.new_thread is (new_thread and decision.final_state is not None)


@pytest.mark.parametrize(
    ("deployed", "pause", "trigger", "mode"),
    list(itertools.product([True, False], PauseCause, [True, False], HandoffMode)),
)
def test_a_message_may_hand_off_exactly_when_it_does_in_its_threads_state(
    deployed: bool, pause: PauseCause, trigger: bool, mode: HandoffMode
) -> None:
    person = PEOPLE[0]
    hands_off = {
        state
        for state in S
        if expected_inbound(state, deployed, pause, trigger, mode, person).outcome is Outcome.HANDED_OFF
    }
    deployment = situation(S.NEW, deployed, pause, mode, person).deployment
    for state in S:
        assert may_hand_off(state, deployment, pause, trigger_matched=trigger) is (state in hands_off), state
    # State unknown: never less than in any state, as the decision holds what a handoff needs first.
    assert may_hand_off(None, deployment, pause, trigger_matched=trigger) is bool(hands_off)


MESSAGES = list(itertools.product([True, False], [True, False], HandoffMode))
"""A message's channel deployed or not, its trigger word matched or not, the channel's rule."""


@pytest.mark.parametrize(("state", "pause"), list(itertools.product(S, PauseCause)))
def test_a_message_decided_first_never_makes_a_later_one_of_its_thread_hand_off_where_it_would_not_have(
    state: ThreadState, pause: PauseCause
) -> None:
    # A batch judges all of a thread's messages from the state read before the first of them is decided.
    takers = (Person(seat=True, hours=True, available=True, full=False), PEOPLE[-1])
    for (deployed, trigger, mode), person in itertools.product(MESSAGES, takers):
        first = decide_inbound(situation(state, deployed, pause, mode, person), trigger_matched=trigger)
        after = first.final_state or state
        for later_deployed, later_trigger, later_mode in MESSAGES:
            deployment = situation(state, later_deployed, pause, later_mode, person).deployment
            if may_hand_off(after, deployment, pause, trigger_matched=later_trigger):
                assert may_hand_off(state, deployment, pause, trigger_matched=later_trigger), (after, deployment)


def test_a_handoff_passes_through_handoff_pending() -> None:
    person = Person(seat=True, hours=True, available=True, full=False)
    assert person.can_take
    decision = decide_inbound(
        situation(S.NEW, True, PauseCause.MANUAL, HandoffMode.HANDOFF, person), trigger_matched=False
    )
    assert [(t.from_state, t.to_state) for t in decision.transitions] == [
        (S.NEW, S.HANDOFF_PENDING),
        (S.HANDOFF_PENDING, S.HUMAN),
    ]
    reopened = decide_inbound(
        situation(S.CLOSED, True, PauseCause.NONE, HandoffMode.HANDOFF, person), trigger_matched=False
    )
    assert [(t.from_state, t.to_state) for t in reopened.transitions] == [(S.CLOSED, S.NEW), (S.NEW, S.AGENT)]


@pytest.mark.parametrize(
    ("state", "deployed", "pause", "mode", "reason"),
    list(
        itertools.product(
            S,
            [True, False],
            PauseCause,
            HandoffMode,
            [HandoffReason.CANNOT_ANSWER, HandoffReason.VISITOR_REQUEST],
        )
    ),
)
def test_handoff_request_decision(
    state: ThreadState, deployed: bool, pause: PauseCause, mode: HandoffMode, reason: HandoffReason
) -> None:
    for person in PEOPLE:
        decision = decide_handoff_request(situation(state, deployed, pause, mode, person), reason)
        if state is not S.AGENT:  # late or repeated: the thread is not the agent's any more
            expected = Expected(Outcome.IGNORED)
        elif deployed and mode is HandoffMode.STAY_ASSIGNED:
            expected = Expected(Outcome.STAYED_ASSIGNED, notice=Notice.HANDOFF_UNAVAILABLE)
        else:  # pause never matters for a thread the agent already has
            expected = handoff(reason, person, named=deployed, powered_by_ai=True)
        assert actual(decision) == expected, person
