"""What a draft would change: conversation's and routing's verdicts on each replayed question, compared.

Per question and configuration the outcome is what the visitor would get: routing may hand the thread off on
a trigger word before the agent sees the message; otherwise the agent answers or declines, and may ask for
a person, which the channel's rule turns into a handoff (to someone, or to the unassigned view) or keeps with
the agent. Without routing's verdicts (it did not answer in time) only the agent's part is compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.replay import ReplayedQuestion, ReplayVerdict, RoutedQuestion, RoutingVerdict

HANDED_OFF = "handed_off"


class Change(StrEnum):
    """A way the draft changes what happens to a question."""

    ANSWERED_TO_DECLINED = "answered_to_declined"
    DECLINED_TO_ANSWERED = "declined_to_answered"
    CITATIONS_CHANGED = "citations_changed"
    HANDOFF_REASON_CHANGED = "handoff_reason_changed"
    HANDOFF_TARGET_CHANGED = "handoff_target_changed"


@dataclass(frozen=True)
class Outcome:
    """What would happen to one question under one configuration."""

    answered: bool
    reply: str | None  # the agent's reply kind; None when routing hands the thread off before the agent
    citations: tuple[tuple[str, str], ...]
    handoff_reason: HandoffReason | None
    handoff: str | None  # handed_off or stayed_assigned; None without a handoff (or routing's verdict)
    assignee: tuple[str, str | None] | None
    trigger: str | None

    def to_json(self) -> dict[str, Any]:
        """As the API shows it."""
        handoff = None
        if self.handoff_reason is not None or self.handoff is not None:
            assignee = None if self.assignee is None else {"kind": self.assignee[0], "id": self.assignee[1]}
            handoff = {
                "reason": self.handoff_reason,
                "outcome": self.handoff,
                "assignee": assignee,
                "trigger": self.trigger,
            }
        return {
            "answered": self.answered,
            "reply": self.reply,
            "citations": [{"title": title, "url": url} for title, url in self.citations],
            "handoff": handoff,
        }


def outcome_of(verdict: ReplayVerdict, routing: RoutingVerdict | None) -> Outcome:
    """Combine the agent's verdict with routing's (None: routing's part is unknown)."""
    citations = tuple((citation.title, citation.url) for citation in verdict.citations)
    if routing is None:
        return Outcome(verdict.answered, verdict.kind.value, citations, verdict.handoff_reason, None, None, None)
    assignee = None if routing.assignee is None else (routing.assignee.kind.value, routing.assignee.id)
    if routing.outcome == HANDED_OFF and routing.reason is HandoffReason.TRIGGER:
        # The trigger word hands the thread off as the message arrives: the agent never sees it.
        return Outcome(False, None, (), HandoffReason.TRIGGER, HANDED_OFF, assignee, routing.trigger)
    handoff = routing.outcome if verdict.handoff_reason is not None or routing.trigger is not None else None
    return Outcome(
        verdict.answered,
        verdict.kind.value,
        citations,
        verdict.handoff_reason,
        handoff,
        assignee,
        routing.trigger,
    )


def changes_between(live: Outcome, draft: Outcome) -> list[Change]:
    """How the draft's outcome differs from the live one."""
    changes = []
    if live.answered and not draft.answered:
        changes.append(Change.ANSWERED_TO_DECLINED)
    if draft.answered and not live.answered:
        changes.append(Change.DECLINED_TO_ANSWERED)
    if live.answered and draft.answered and set(live.citations) != set(draft.citations):
        changes.append(Change.CITATIONS_CHANGED)
    if live.handoff_reason != draft.handoff_reason:
        changes.append(Change.HANDOFF_REASON_CHANGED)
    elif (live.handoff, live.assignee, live.trigger) != (draft.handoff, draft.assignee, draft.trigger):
        changes.append(Change.HANDOFF_TARGET_CHANGED)
    return changes


def report(questions: Sequence[ReplayedQuestion], routed: Sequence[RoutedQuestion] | None) -> dict[str, Any]:
    """The summary (counts of each change) and the changed questions, newest first."""
    routing = {item.position: item for item in routed} if routed is not None else {}
    counts = dict.fromkeys((change.value for change in Change), 0)
    changed: list[dict[str, Any]] = []
    for question in sorted(questions, key=lambda item: item.position):
        verdicts = routing.get(question.position)
        live = outcome_of(question.live, verdicts.live if verdicts else None)
        draft = outcome_of(question.draft, verdicts.draft if verdicts else None)
        found = changes_between(live, draft)
        for change in found:
            counts[change.value] += 1
        if found:
            changed.append(_changed(question, found, live, draft))
    summary = {"replayed": len(questions), "changed": len(changed), "unchanged": len(questions) - len(changed)}
    return {"summary": {**summary, **counts}, "changes": changed}


def _changed(question: ReplayedQuestion, found: list[Change], live: Outcome, draft: Outcome) -> dict[str, Any]:
    return {
        "question": question.text,
        "language": question.language,
        "asked_at": question.asked_at.isoformat(),
        "thread_id": question.thread_id,
        "message_id": question.message_id,
        "channel": question.channel.model_dump(mode="json") if question.channel else None,
        "changes": [change.value for change in found],
        "live": live.to_json(),
        "draft": draft.to_json(),
    }
