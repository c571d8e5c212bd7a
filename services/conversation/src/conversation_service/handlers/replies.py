"""What the agent replies, before it becomes events: the reply, its citations and its metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from customer_agent_shared.events.channels import Citation, OutboundKind
from customer_agent_shared.events.conversations import ConversationEvent

from conversation_service import metrics
from conversation_service.adapters.repositories import Turn
from conversation_service.domain import texts
from conversation_service.domain.composer import SourceRef


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
