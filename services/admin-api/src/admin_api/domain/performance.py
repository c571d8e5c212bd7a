"""Performance over a date range, folded from conversation events and the inbox's closed threads.

Handoffs are counted from ``conversation.handed_off``, which routing publishes for every handoff it makes
with its real reason (conversation's ``handoff_requested`` and ``cannot_answer`` only ask for one). A
resolution counts for the agent only on a thread that was not handed off, nor taken by a person in the inbox
(``thread.reassigned``, which conversation never hears of either, as billing reads it); the inbox's
``thread.closed`` ends the person's conversation on the thread, so a later conversation there starts afresh
(conversation's quiet-period ``resolved`` never closes a person's thread in the figures).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from customer_agent_shared.events.conversations import ConversationEventKind

from admin_api.domain.gaps import normalize_question

TOP_QUESTIONS = 10
THREAD_CLOSED_FACT = "thread.closed"
"""The kind under which an inbox ``thread.closed`` is kept among the facts."""
THREAD_REASSIGNED_FACT = "thread.reassigned"
"""The kind under which an inbox ``thread.reassigned`` is kept: a person took the thread, from the agent too."""
INBOX_FACTS = (THREAD_CLOSED_FACT, THREAD_REASSIGNED_FACT)
"""Facts the inbox reports: they say who holds a thread, and make no conversation of the agent's."""


@dataclass(frozen=True)
class ConversationFact:
    """The part of one conversation event that performance needs."""

    kind: str
    thread_id: str
    occurred_at: datetime
    billable: bool = True
    question: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class QuestionCount:
    """A question visitors asked, and how often."""

    question: str
    count: int


@dataclass(frozen=True)
class PerformanceSummary:
    """What the agent did over a period."""

    conversations: int = 0
    answered: int = 0
    resolved: int = 0
    cannot_answer: int = 0
    handoffs: int = 0
    resolution_rate: float = 0.0
    answer_rate: float = 0.0
    cannot_answer_rate: float = 0.0
    handoff_rate: float = 0.0
    handoff_rate_by_reason: dict[str, float] = field(default_factory=dict)
    handoffs_by_reason: dict[str, int] = field(default_factory=dict)
    credits_used: int = 0
    top_questions: list[QuestionCount] = field(default_factory=list)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


OWNERSHIP_FACTS = (ConversationEventKind.ANSWERED, ConversationEventKind.HANDED_OFF, *INBOX_FACTS)
"""The facts that say who holds a thread: read from before a report's period too."""


def _resolved_by_the_agent(facts: list[ConversationFact], earlier: Sequence[ConversationFact] = ()) -> set[str]:
    """Threads with a resolution while the agent held them: a handoff, or a person taking the thread in the
    inbox, gives it to a person, and only an answer after the person closed it gives it back (conversation's
    quiet-period resolution of a thread routing or the inbox gave to a person, which conversation never hears
    of, is not the agent's)."""
    held_by_person: set[str] = set()
    closed_by_person: set[str] = set()
    resolved: set[str] = set()
    counted = {id(fact) for fact in facts}
    for fact in sorted([*earlier, *facts], key=lambda item: item.occurred_at):
        thread = fact.thread_id
        if fact.kind in (ConversationEventKind.HANDED_OFF, THREAD_REASSIGNED_FACT):
            held_by_person.add(thread)
        elif fact.kind == THREAD_CLOSED_FACT and thread in held_by_person:
            closed_by_person.add(thread)
        elif fact.kind == ConversationEventKind.ANSWERED and thread in closed_by_person:
            held_by_person.discard(thread)  # a new conversation the agent answered
            closed_by_person.discard(thread)
        elif fact.kind == ConversationEventKind.RESOLVED and thread not in held_by_person and id(fact) in counted:
            resolved.add(thread)
    return resolved


def summarize(
    facts: list[ConversationFact],
    *,
    earlier: Sequence[ConversationFact] = (),
    credits_used: int = 0,
) -> PerformanceSummary:
    """Rates are per conversation (thread); preview and test events (not billable) are left out. ``earlier``:
    the ownership facts (``OWNERSHIP_FACTS``) from before the period of the threads it resolves.
    ``credits_used``: billing's figure for the period's days (usage charged on them, less what was refunded of
    those charges), never below zero as no day is; only a day a billing before that definition reported (a refund
    counted on its own day) could be."""
    real = [fact for fact in facts if fact.billable]
    threads = {fact.thread_id for fact in real if fact.kind not in INBOX_FACTS}
    resolved_threads = _resolved_by_the_agent(real, [fact for fact in earlier if fact.billable])
    by_kind: dict[str, set[str]] = {}
    handoff_reasons: dict[str, set[str]] = {}
    questions: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    answered_events = missed_events = 0
    for fact in real:
        by_kind.setdefault(fact.kind, set()).add(fact.thread_id)
        if fact.kind == ConversationEventKind.ANSWERED:
            answered_events += 1
        if fact.kind == ConversationEventKind.CANNOT_ANSWER:
            missed_events += 1
        if fact.kind == ConversationEventKind.HANDED_OFF:
            handoff_reasons.setdefault(fact.reason or "unspecified", set()).add(fact.thread_id)
        if fact.question and fact.kind in (ConversationEventKind.ANSWERED, ConversationEventKind.CANNOT_ANSWER):
            normalized = normalize_question(fact.question)
            if normalized:
                questions[normalized] += 1
                spelling.setdefault(normalized, fact.question.strip())
    conversations = len(threads)
    resolved = len(resolved_threads)
    handed_off = len(by_kind.get(ConversationEventKind.HANDED_OFF, set()))
    return PerformanceSummary(
        conversations=conversations,
        answered=len(by_kind.get(ConversationEventKind.ANSWERED, set())),
        resolved=resolved,
        cannot_answer=len(by_kind.get(ConversationEventKind.CANNOT_ANSWER, set())),
        handoffs=handed_off,
        resolution_rate=_rate(resolved, conversations),
        answer_rate=_rate(answered_events, answered_events + missed_events),
        cannot_answer_rate=_rate(missed_events, answered_events + missed_events),
        handoff_rate=_rate(handed_off, conversations),
        handoff_rate_by_reason={
            reason: _rate(len(ids), conversations) for reason, ids in sorted(handoff_reasons.items())
        },
        handoffs_by_reason={reason: len(ids) for reason, ids in sorted(handoff_reasons.items())},
        credits_used=max(credits_used, 0),
        top_questions=[
            QuestionCount(question=spelling[normalized], count=count)
            for normalized, count in sorted(questions.items(), key=lambda item: (-item[1], item[0]))[:TOP_QUESTIONS]
        ],
    )
