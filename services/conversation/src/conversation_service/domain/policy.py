"""When not to answer, and when a conversation counts as resolved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

DEFAULT_RESOLUTION_HOURS = 72
# A rephrase request offers the nearest pages when the declined question's confidence is at least this
# (chosen on bench/quality's dev split: most offers below it hold no right page).
SUGGESTED_PAGES = 3
SUGGEST_MIN_CONFIDENCE = 0.3


class MissOutcome(StrEnum):
    """What the agent does when the content does not support an answer."""

    REPHRASE = "rephrase"
    CANNOT_ANSWER = "cannot_answer"


def on_miss(consecutive_misses_before: int) -> MissOutcome:
    """First miss on a thread: ask to rephrase; a second miss in a row: give the thread up."""
    return MissOutcome.REPHRASE if consecutive_misses_before <= 0 else MissOutcome.CANNOT_ANSWER


def misses_after(outcome: MissOutcome | None, consecutive_misses_before: int) -> int:
    """The thread's consecutive-miss counter after this message (an answer or a handoff resets it)."""
    if outcome is MissOutcome.REPHRASE:
        return consecutive_misses_before + 1
    return 0


@dataclass(frozen=True)
class ResolutionFacts:
    """What the resolution rule looks at on one thread."""

    agent_replied: bool
    handed_off: bool
    negative_feedback: bool
    last_message_at: datetime
    resolved: bool


def is_resolved(facts: ResolutionFacts, now: datetime, quiet_hours: int = DEFAULT_RESOLUTION_HOURS) -> bool:
    """The resolution rule: the agent replied, no handoff, no negative feedback, and silence for N hours."""
    return (
        not facts.resolved
        and facts.agent_replied
        and not facts.handed_off
        and not facts.negative_feedback
        and now - facts.last_message_at >= timedelta(hours=quiet_hours)
    )
