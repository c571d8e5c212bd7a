"""What a conversation costs: per handled conversation or per resolution by the AI agent.

A thread is charged at most once in its life, under either rule: its usage entry's cause is the thread and
the ledger keeps it, so a visitor writing again on a resolved thread is not charged again. Preview and
test conversations (``billable`` false) are never charged. A resolution counts when the
agent replied, the thread is the agent's (never handed off, or handed back as below), feedback was not
negative and, either the conversation service said it was resolved, or the thread stayed quiet for the
plan's ``resolution_hours``.

A handoff (asked for, carried out by routing with any reason, or a person taking the thread in the inbox)
makes the thread a person's until a person closes it (``thread.closed``) and the agent answers after that
close: the visitor's next conversation, which routing gives the agent as a new one, is the agent's to
resolve. Until that answer, a resolution (conversation's quiet one of the person's conversation, which it
never heard was handed off) is no AI resolution.

Events reach billing from several producers, so a handoff may be heard after the resolution it
preceded (routing's handoff delayed, conversation resolving a thread it did not know was handed off),
and a close before the handoff it ended. The rule is then decided on the events' own times: billing keeps
the time of the latest answer, handoff and close, and a handoff that happened no later than the moment
the resolution was charged for, and that no close and answer ended before it, takes the charge back (a
refund entry, once); a handoff after that moment belongs to a later conversation on the thread and leaves
the charge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDED_OFF,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_RESOLVED,
)
from customer_agent_shared.events.inbox import THREAD_CLOSED, THREAD_REASSIGNED

HANDOFF_EVENT_TYPES = frozenset({CONVERSATION_HANDOFF_REQUESTED, CONVERSATION_HANDED_OFF, THREAD_REASSIGNED})
"""Events after which the thread is no AI resolution: a handoff asked for or made, or a person taking it."""


@dataclass(frozen=True)
class ThreadFacts:
    """What billing knows about one thread; the times are the latest of each kind (None: none heard, or heard
    by a billing that kept no times, which counts as a handoff no close ended)."""

    answered: bool = False  # ever
    handed_off: bool = False  # ever
    negative_feedback: bool = False
    billable: bool = True
    charged: bool = False
    last_activity_at: datetime | None = None
    resolved_at: datetime | None = None  # the moment a charged resolution counted (None once refunded)
    answered_at: datetime | None = None
    handed_off_at: datetime | None = None
    closed_at: datetime | None = None  # a close by a person, unless it followed the agent's answer (see observe)


def usage_cause(thread_id: str) -> str:
    """The cause id of a thread's single usage entry."""
    return f"thread:{thread_id}"


def _latest(known: datetime | None, at: datetime) -> datetime:
    return at if known is None or at > known else known


def handoff_ended(facts: ThreadFacts) -> bool:
    """True when a person closed the thread after its latest handoff and the agent answered after that close."""
    return facts.handed_off_at is not None and _ended_by_close(facts, facts.handed_off_at)


def _ended_by_close(facts: ThreadFacts, handoff_at: datetime) -> bool:
    """True when a person's close came after ``handoff_at`` and the agent's answer after that close."""
    close, answer = facts.closed_at, facts.answered_at
    return close is not None and answer is not None and handoff_at < close < answer


def observe(
    facts: ThreadFacts, event_type: str, *, billable: bool, feedback: str | None, occurred_at: datetime
) -> ThreadFacts:
    """The thread's facts after one conversation or inbox event."""
    facts = replace(
        facts, billable=facts.billable and billable, last_activity_at=_latest(facts.last_activity_at, occurred_at)
    )
    if facts.resolved_at is not None and occurred_at > facts.resolved_at:
        # Charged for life: only what happened before the charged resolution decides a refund, and keeping a
        # later answer or close would hide the close and answer that ended a handoff before it.
        return facts
    if event_type == CONVERSATION_ANSWERED:
        return replace(facts, answered=True, answered_at=_latest(facts.answered_at, occurred_at))
    if event_type in HANDOFF_EVENT_TYPES:
        return replace(facts, handed_off=True, handed_off_at=_latest(facts.handed_off_at, occurred_at))
    if event_type == THREAD_CLOSED:
        if handoff_ended(facts) and facts.answered_at is not None and occurred_at > facts.answered_at:
            return facts  # a close of the agent's own conversation (or a close sent again later) ends no handoff
        return replace(facts, closed_at=_latest(facts.closed_at, occurred_at))
    if event_type == CONVERSATION_FEEDBACK and (feedback or "").strip().lower() == "negative":
        return replace(facts, negative_feedback=True)
    return facts


def counts_as_resolution(facts: ThreadFacts) -> bool:
    """True when a resolution of this thread may be charged."""
    agents = not facts.handed_off or handoff_ended(facts)
    return facts.billable and facts.answered and agents and not facts.negative_feedback and not facts.charged


def charge_for_event(rule: PricingRule, event_type: str, facts: ThreadFacts) -> bool:
    """Whether this event (already observed into ``facts``) makes the thread chargeable now."""
    if facts.charged or not facts.billable:
        return False
    if rule is PricingRule.PER_CONVERSATION:
        return event_type == CONVERSATION_ANSWERED
    return event_type == CONVERSATION_RESOLVED and counts_as_resolution(facts)


def quietly_resolved(facts: ThreadFacts, now: datetime, resolution_hours: int) -> bool:
    """True when the thread counts as resolved because nothing happened for ``resolution_hours``."""
    if facts.last_activity_at is None or not counts_as_resolution(facts):
        return False
    return now - facts.last_activity_at >= timedelta(hours=resolution_hours)


def resolution_moment(facts: ThreadFacts, resolution_hours: int) -> datetime | None:
    """When a quietly resolved thread counted as resolved: its last activity plus the quiet hours."""
    if facts.last_activity_at is None:
        return None
    return facts.last_activity_at + timedelta(hours=resolution_hours)


def refund_due(facts: ThreadFacts, event_type: str, occurred_at: datetime) -> bool:
    """True when this handoff happened no later than the resolution the thread was charged for, and was not
    ended before it (a person's close, then the agent's answer, both no later than the resolution)."""
    resolved_at = facts.resolved_at
    if event_type not in HANDOFF_EVENT_TYPES or resolved_at is None or occurred_at > resolved_at:
        return False
    answer = facts.answered_at
    return not (_ended_by_close(facts, occurred_at) and answer is not None and answer <= resolved_at)
