"""What the agent replies to a turn, and the events that record it, before they are published."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from customer_agent_shared.events.channels import Citation, OutboundKind
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_KNOWLEDGE_GAP,
    ConversationEvent,
)

from conversation_service import metrics
from conversation_service.domain import texts
from conversation_service.domain.composer import SourceRef
from conversation_service.domain.model import Turn, TurnDecision, TurnOutcome
from conversation_service.handlers.answering import Attempt


@dataclass(frozen=True)
class Reply:
    """What the agent says (if anything) and what happened, before it becomes events."""

    outcome: str
    kind: OutboundKind | None
    text: str
    language: str
    citations: tuple[SourceRef, ...] = ()


def citations_of(refs: tuple[SourceRef, ...]) -> list[Citation]:
    """The contract's citations of the composer's source references."""
    return [Citation(title=ref.title, url=ref.url) for ref in refs]


def with_fields(base: ConversationEvent, **fields: object) -> ConversationEvent:
    """A copy of the event's common fields with the type-specific ones set (validated)."""
    return ConversationEvent.model_validate({**base.model_dump(), **fields})


def count_reply(reply: Reply, elapsed_seconds: float) -> None:
    """Count a reply that was committed, and how long it took to decide."""
    metrics.REPLIES.labels(outcome=reply.outcome).inc()
    metrics.ANSWER_SECONDS.labels(kind=reply.kind.value if reply.kind else "none").observe(elapsed_seconds)


def turn_pairs(history: Sequence[Turn]) -> list[tuple[str, str]]:
    """The thread's earlier turns as (role, text), for the LLM to read a follow-up with."""
    return [(turn.role, turn.text) for turn in history if turn.text]


def system_reply(outcome: str, kind: OutboundKind, table: dict[str, str], language: str) -> Reply:
    """A fixed text of the agent's (from ``table``) in ``language``."""
    label = texts.text_language(language)
    return Reply(outcome=outcome, kind=kind, text=texts.pick(table, label), language=label)


def reply_for(decision: TurnDecision, attempt: Attempt | None, language: str, *, handoff_notice: bool) -> Reply:
    """The reply a decided turn gets (``handoff_notice`` off: a handoff says nothing, routing's notice does,
    except when content was unavailable: the visitor is always told that)."""
    outcome = decision.outcome
    if outcome is TurnOutcome.ANSWERED:
        assert attempt is not None
        assert attempt.answer is not None
        answer = attempt.answer
        return Reply(outcome.value, OutboundKind.ANSWER, answer.text, answer.language, answer.citations)
    if outcome is TurnOutcome.FEEDBACK:
        if decision.positive_feedback:
            return system_reply(outcome.value, OutboundKind.ANSWER, texts.FEEDBACK_THANKS, language)
        return system_reply(outcome.value, OutboundKind.REPHRASE_REQUEST, texts.REPHRASE_REQUEST, language)
    if outcome is TurnOutcome.REPHRASE:
        reply = system_reply(outcome.value, OutboundKind.REPHRASE_REQUEST, texts.REPHRASE_REQUEST, language)
        if attempt is None or not attempt.suggestions:
            return reply
        related = texts.pick(texts.RELATED_PAGES, reply.language)
        return dataclasses.replace(reply, text=f"{reply.text}\n{related}", citations=attempt.suggestions)
    if outcome is TurnOutcome.CONTENT_UNAVAILABLE:
        return system_reply(outcome.value, OutboundKind.HANDOFF_NOTICE, texts.TEMPORARILY_UNAVAILABLE, language)
    if handoff_notice:
        return system_reply(outcome.value, OutboundKind.HANDOFF_NOTICE, texts.HANDOFF_NOTICE, language)
    return Reply(outcome=outcome.value, kind=None, text="", language=texts.text_language(language))


def events_for(
    decision: TurnDecision, attempt: Attempt | None, base: ConversationEvent
) -> list[tuple[str, ConversationEvent]]:
    """The conversation events (type, data) that record a decided turn, in order."""
    outcome = decision.outcome
    if outcome is TurnOutcome.HANDOFF:
        return [(CONVERSATION_HANDOFF_REQUESTED, with_fields(base, reason=decision.handoff_reason))]
    if outcome is TurnOutcome.FEEDBACK:
        feedback = "positive" if decision.positive_feedback else "negative"
        return [(CONVERSATION_FEEDBACK, with_fields(base, feedback=feedback))]
    if outcome is TurnOutcome.CONTENT_UNAVAILABLE:
        return [(CONVERSATION_CANNOT_ANSWER, with_fields(base, reason=decision.handoff_reason))]
    assert attempt is not None
    confidence = round(attempt.confidence, 3)
    if outcome is TurnOutcome.ANSWERED:
        assert attempt.answer is not None
        answer = attempt.answer
        fields = {"answer": answer.text, "citations": citations_of(answer.citations), "confidence": confidence}
        return [(CONVERSATION_ANSWERED, with_fields(base, **fields))]
    vector = attempt.question_vector
    gap = with_fields(
        base,
        confidence=confidence,
        miss_count=decision.miss_count,
        nearest_content=citations_of(attempt.nearest),
        recommended_answer=attempt.draft,
        question_embedding=[round(value, 4) for value in vector] if vector is not None else None,
        embedding_model=attempt.vector_model if vector is not None else None,
    )
    events = [(CONVERSATION_KNOWLEDGE_GAP, gap)]
    if decision.handoff_reason is not None:
        given_up = with_fields(base, reason=decision.handoff_reason, miss_count=decision.miss_count)
        events.append((CONVERSATION_CANNOT_ANSWER, given_up))
    return events
