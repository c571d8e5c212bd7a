"""Who handles a thread: the pure decision routing takes for every message and handoff request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.config import ChannelDeployment, HandoffMode, HandoffRule, HandoffTarget

from routing_service.domain.handoff import Notice, People, pick_assignee
from routing_service.domain.ownership import HUMAN_SIDE, ThreadState, Transition, path


class Outcome(StrEnum):
    """What routing did with a message or request (the metric label)."""

    ASSIGNED_TO_AGENT = "assigned_to_agent"
    FORWARDED_TO_INBOX = "forwarded_to_inbox"
    HANDED_OFF = "handed_off"
    STAYED_ASSIGNED = "stayed_assigned"
    IGNORED = "ignored"


class PauseCause(StrEnum):
    """Why the agent takes no new threads, if it is paused."""

    NONE = "none"
    MANUAL = "manual"
    CREDITS = "credits"


@dataclass(frozen=True)
class Situation:
    """Everything the decision depends on, read from routing's state."""

    state: ThreadState
    deployment: ChannelDeployment | None
    pause: PauseCause
    people: People
    at: datetime


@dataclass(frozen=True)
class Decision:
    """The outcome and its effects: transitions, receiver, visitor notice, AI header."""

    outcome: Outcome
    transitions: tuple[Transition, ...] = ()
    reason: HandoffReason | None = None
    assignee: HandoffTarget | None = None  # None on a handoff means the unassigned view
    notice: Notice | None = None
    assign_to_agent: bool = False
    powered_by_ai: bool = True
    update_avatar: bool = False
    new_thread: bool = False

    @property
    def final_state(self) -> ThreadState | None:
        """The state after the transitions, or None when ownership did not change."""
        return self.transitions[-1].to_state if self.transitions else None


DEFAULT_RULE = HandoffRule()
"""Where a thread goes when the agent is not deployed on its channel: the unassigned view."""

_PAUSE_REASON = {PauseCause.MANUAL: HandoffReason.AGENT_PAUSED, PauseCause.CREDITS: HandoffReason.CREDITS_EXHAUSTED}


def _hand_off(
    situation: Situation,
    start: tuple[ThreadState, ...],
    rule: HandoffRule,
    reason: HandoffReason,
    *,
    powered_by_ai: bool,
    new_thread: bool,
) -> Decision:
    """Apply a handoff rule's candidates: start → handoff_pending → human | unassigned."""
    pick = pick_assignee(rule.assign_to, situation.people, situation.at)
    final = ThreadState.HUMAN if pick.assignee is not None else ThreadState.UNASSIGNED
    return Decision(
        Outcome.HANDED_OFF,
        tuple(path(start[0], *start[1:], ThreadState.HANDOFF_PENDING, final)),
        reason=reason,
        assignee=pick.assignee,
        notice=pick.message,
        powered_by_ai=powered_by_ai,
        update_avatar=rule.update_avatar,
        new_thread=new_thread,
    )


def _stay_assigned(start: tuple[ThreadState, ...], *, assign_to_agent: bool, new_thread: bool) -> Decision:
    """Rule stay_assigned: the visitor hears a handoff is not possible and the agent keeps the thread."""
    steps = (*start, ThreadState.AGENT) if start[-1] is not ThreadState.AGENT else start
    return Decision(
        Outcome.STAYED_ASSIGNED,
        tuple(path(steps[0], *steps[1:])),
        notice=Notice.HANDOFF_UNAVAILABLE,
        assign_to_agent=assign_to_agent,
        new_thread=new_thread,
    )


def decide_inbound(situation: Situation, *, trigger_matched: bool) -> Decision:
    """Decide a visitor message: human owner → inbox; agent owner → agent (even paused); new → rules."""
    state = situation.state
    if state in HUMAN_SIDE:
        return Decision(Outcome.FORWARDED_TO_INBOX)
    deployment = situation.deployment
    rule = deployment.handoff if deployment is not None else DEFAULT_RULE
    if state is ThreadState.AGENT:
        if not trigger_matched:
            return Decision(Outcome.ASSIGNED_TO_AGENT, assign_to_agent=True)
        if rule.mode is HandoffMode.STAY_ASSIGNED:
            return _stay_assigned((state,), assign_to_agent=True, new_thread=False)
        return _hand_off(situation, (state,), rule, HandoffReason.TRIGGER, powered_by_ai=True, new_thread=False)
    # A new thread (or a closed one the visitor reopens).
    start = (ThreadState.CLOSED, ThreadState.NEW) if state is ThreadState.CLOSED else (ThreadState.NEW,)
    if deployment is None:
        return _hand_off(situation, start, rule, HandoffReason.NOT_DEPLOYED, powered_by_ai=False, new_thread=True)
    if situation.pause is not PauseCause.NONE:
        # The agent cannot take the thread, so even a stay_assigned rule hands it to its candidates.
        reason = _PAUSE_REASON[situation.pause]
        return _hand_off(situation, start, rule, reason, powered_by_ai=False, new_thread=True)
    if trigger_matched:
        if rule.mode is HandoffMode.STAY_ASSIGNED:
            return _stay_assigned(start, assign_to_agent=True, new_thread=True)
        return _hand_off(situation, start, rule, HandoffReason.TRIGGER, powered_by_ai=True, new_thread=True)
    return Decision(
        Outcome.ASSIGNED_TO_AGENT,
        tuple(path(start[0], *start[1:], ThreadState.AGENT)),
        assign_to_agent=True,
        new_thread=True,
    )


def may_hand_off(
    state: ThreadState | None, deployment: ChannelDeployment | None, pause: PauseCause, *, trigger_matched: bool
) -> bool:
    """Whether ``decide_inbound`` hands off a message of a thread in ``state`` (None: in some state).

    Judged from a state read before the thread is locked, so that the decision can take what a handoff needs
    before anything else. It also holds for a message decided after others of its thread: none of them moves
    the thread to a state in which a message hands off that would not have in the state before.
    """
    if state in HUMAN_SIDE:
        return False
    if state is not ThreadState.AGENT and (deployment is None or pause is not PauseCause.NONE):
        return True  # a new thread the agent cannot take
    rule = deployment.handoff if deployment is not None else DEFAULT_RULE
    return trigger_matched and rule.mode is not HandoffMode.STAY_ASSIGNED


def decide_handoff_request(situation: Situation, reason: HandoffReason) -> Decision:
    """Conversation cannot answer or the visitor asked for a person: apply the channel's rule.

    Only a thread the agent owns can be handed off; anything else is a late or repeated request.
    """
    if situation.state is not ThreadState.AGENT:
        return Decision(Outcome.IGNORED)
    rule = situation.deployment.handoff if situation.deployment is not None else DEFAULT_RULE
    if rule.mode is HandoffMode.STAY_ASSIGNED:
        return _stay_assigned((situation.state,), assign_to_agent=False, new_thread=False)
    return _hand_off(situation, (situation.state,), rule, reason, powered_by_ai=True, new_thread=False)
