"""What a conversation costs: per handled conversation or per resolved conversation.

A thread is charged at most once (its usage entry's cause is the thread). Preview and
test conversations (``billable`` false) are never charged. A resolution counts when the
agent replied, nobody asked for a handoff, feedback was not negative and, either the
conversation service said it was resolved, or the thread stayed quiet for the plan's
``resolution_hours``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_RESOLVED,
)


@dataclass(frozen=True)
class ThreadFacts:
    """What billing knows about one thread."""

    answered: bool = False
    handed_off: bool = False
    negative_feedback: bool = False
    billable: bool = True
    charged: bool = False
    last_activity_at: datetime | None = None


def usage_cause(thread_id: str) -> str:
    """The cause id of a thread's single usage entry."""
    return f"thread:{thread_id}"


def observe(
    facts: ThreadFacts, event_type: str, *, billable: bool, feedback: str | None, occurred_at: datetime
) -> ThreadFacts:
    """The thread's facts after one conversation event."""
    last = facts.last_activity_at
    facts = replace(
        facts,
        billable=facts.billable and billable,
        last_activity_at=occurred_at if last is None or occurred_at > last else last,
    )
    if event_type == CONVERSATION_ANSWERED:
        return replace(facts, answered=True)
    if event_type == CONVERSATION_HANDOFF_REQUESTED:
        return replace(facts, handed_off=True)
    if event_type == CONVERSATION_FEEDBACK and (feedback or "").strip().lower() == "negative":
        return replace(facts, negative_feedback=True)
    return facts


def counts_as_resolution(facts: ThreadFacts) -> bool:
    """True when a resolution of this thread may be charged."""
    return (
        facts.billable and facts.answered and not facts.handed_off and not facts.negative_feedback and not facts.charged
    )


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
