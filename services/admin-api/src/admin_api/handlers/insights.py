"""Performance and knowledge gaps, folded from conversation events."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.channels import Citation
from customer_agent_shared.events.conversations import (
    CONVERSATION_EVENT_TYPES,
    CONVERSATION_KNOWLEDGE_GAP,
    CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
    ConversationEvent,
    ConversationEventKind,
    KnowledgeGapDrafted,
)
from customer_agent_shared.events.envelope import EventParseError, RawCloudEvent
from customer_agent_shared.events.inbox import InboxEventData, ThreadClosed, ThreadReassigned, inbox_event
from customer_agent_shared.events.sources import SourceKind
from customer_agent_shared.persistence.unit_of_work_protocol import delete_in_batches
from pydantic import ValidationError

from admin_api.adapters.repositories import Row
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain.errors import Conflict, NotFound
from admin_api.domain.gaps import (
    DRAFTED_BY_EXTRACT,
    DRAFTED_BY_MODEL,
    AskedQuestion,
    GapCandidate,
    matching_gap,
    merge_nearest_content,
    normalize_question,
    takes_model_draft,
)
from admin_api.domain.performance import (
    OWNERSHIP_FACTS,
    THREAD_CLOSED_FACT,
    THREAD_REASSIGNED_FACT,
    ConversationFact,
    PerformanceSummary,
    summarize,
)
from admin_api.domain.periods import ReportingPeriod
from admin_api.handlers.audit import record_change
from admin_api.handlers.sources import stage_new_source

logger = logging.getLogger(__name__)
# A gap's LLM draft names the question's event; conversation gives up on a draft within hours, so a week
# later the link is no longer needed.
QUESTION_RETENTION = timedelta(days=7)
PRUNE_BATCH = 5000


class InsightUseCases:
    """Fold conversation events; report performance; list and resolve knowledge gaps."""

    def __init__(
        self, unit_of_work: Callable[[], AdminUnitOfWork], *, question_retention: timedelta = QUESTION_RETENTION
    ) -> None:
        self._unit_of_work = unit_of_work
        self._question_retention = question_retention

    async def forget_old_questions(self) -> None:
        """Drop the links from gap events to their gaps once no draft for them can still come."""
        cutoff = datetime.now(UTC) - self._question_retention
        total = await delete_in_batches(
            self._unit_of_work, lambda uow: uow.gaps.forget_questions(cutoff, PRUNE_BATCH), batch=PRUNE_BATCH
        )
        if total:
            logger.info("old knowledge-gap question links deleted", extra={"count": total})

    async def apply_event(self, consumer: str, event_id: str, event_type: str, event: ConversationEvent) -> bool:
        """Keep the fact for performance; group a knowledge gap with similar questions; take the LLM's draft."""
        if event_type == CONVERSATION_KNOWLEDGE_GAP_DRAFTED:
            return await self._apply_draft(consumer, event_id, event)
        if event_type not in CONVERSATION_EVENT_TYPES:
            return False
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, event_id):
                return False
            fact = ConversationFact(
                kind=event_type,
                thread_id=event.thread_id,
                occurred_at=event.occurred_at,
                billable=event.billable,
                question=event.question,
                reason=event.reason.value if event.reason is not None else None,
            )
            await uow.facts.add(event_id, account_id=event.account_id, fact=fact)
            if event_type == CONVERSATION_KNOWLEDGE_GAP and event.question and normalize_question(event.question):
                await _group_gap(uow, event_id, event)
            await uow.commit()
        return True

    async def _apply_draft(self, consumer: str, event_id: str, event: ConversationEvent) -> bool:
        """Make the LLM's draft for a gap's question the gap's recommended answer, if the gap takes it."""
        try:
            drafted = KnowledgeGapDrafted.model_validate(event.model_dump(exclude_unset=True))
        except ValidationError as error:
            raise EventParseError(f"not a valid knowledge gap draft: {error}") from error
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, event_id):
                return False
            gap_id = await uow.gaps.gap_of_question(drafted.account_id, drafted.gap_event_id)
            gap = await uow.gaps.get(drafted.account_id, gap_id) if gap_id is not None else None
            if gap is None:  # its question made no gap (no words to group by)
                logger.info(
                    "knowledge gap draft for a question in no gap", extra={"gap_event_id": drafted.gap_event_id}
                )
            elif takes_model_draft(
                status=gap["status"],
                gap_language=gap["language"],
                drafted_by=gap.get("drafted_by"),
                draft_language=drafted.language,
            ):
                changes = {"recommended_answer": drafted.recommended_answer, "drafted_by": DRAFTED_BY_MODEL}
                await uow.gaps.update(drafted.account_id, gap["id"], changes)
            await uow.commit()
        return True

    async def apply_inbox_event(self, consumer: str, raw: RawCloudEvent) -> bool:
        """Keep a thread closed or taken by a person in the inbox for performance; returns and presence are not
        the figures' business.

        A bad event (unknown type, invalid data, another account in the data) raises ``EventParseError``.
        """
        event = inbox_event(raw)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, event.id):
                return False
            fact = _inbox_fact(event.data, event.time)
            if fact is not None:
                await uow.facts.add(event.id, account_id=event.data.account_id, fact=fact)
            await uow.commit()
        return True

    async def performance(self, account_id: str, period: ReportingPeriod) -> PerformanceSummary:
        """What the agent did over the period's days; the credits used as billing reported them."""
        async with self._unit_of_work() as uow:
            facts = await uow.facts.between(account_id, start=period.start, end=period.end)
            resolving = sorted({fact.thread_id for fact in facts if fact.kind == ConversationEventKind.RESOLVED})
            earlier = await uow.facts.before(account_id, period.start, thread_ids=resolving, kinds=OWNERSHIP_FACTS)
            used = await uow.credit_usage.used(account_id, first=period.first, last=period.last)
        return summarize(facts, earlier=earlier, credits_used=used)

    async def gaps(self, account_id: str, status: str | None) -> list[Row]:
        """Knowledge gaps, most frequent first."""
        async with self._unit_of_work() as uow:
            return await uow.gaps.list(account_id, status)

    async def dismiss_gap(self, account_id: str, *, actor: str, gap_id: str) -> Row:
        """Set an open gap aside (nothing to add to the content); a later question like it opens a new one."""
        async with self._unit_of_work() as uow:
            gap = await uow.gaps.get(account_id, gap_id)
            if gap is None:
                raise NotFound(f"Knowledge gap {gap_id!r} does not exist on this account.")
            if gap["status"] != "open":
                raise Conflict(f"Knowledge gap {gap_id!r} is {gap['status']}, not open.", code="gap_not_open")
            await uow.gaps.update(account_id, gap_id, {"status": "dismissed", "closed_at": datetime.now(UTC)})
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="edit",
                target_type="knowledge_gap",
                target_id=gap_id,
                before={"status": "open"},
                after={"status": "dismissed"},
            )
            await uow.commit()
        return {**gap, "status": "dismissed"}

    async def resolve_gap(
        self, account_id: str, actor: str, gap_id: str, answer: str, question: str | None
    ) -> tuple[Row, Row]:
        """Create a short answer from the gap and mark the gap resolved; returns (gap, source)."""
        async with self._unit_of_work() as uow:
            gap = await uow.gaps.get(account_id, gap_id)
            if gap is None:
                raise NotFound(f"Knowledge gap {gap_id!r} does not exist on this account.")
            if gap["status"] != "open":
                raise Conflict(
                    f"Knowledge gap {gap_id!r} was already resolved by source {gap['resolved_source_id']!r}.",
                    code="gap_resolved",
                )
            source = await stage_new_source(
                uow,
                account_id,
                actor,
                {
                    "kind": SourceKind.SHORT_ANSWER.value,
                    "question": (question or gap["question"]).strip(),
                    "answer": answer.strip(),
                },
            )
            changes = {
                "status": "resolved",
                "resolved_source_id": source["id"],
                "resolved_at": source["created_at"],
                "closed_at": source["created_at"],
            }
            await uow.gaps.update(account_id, gap_id, changes)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="edit",
                target_type="knowledge_gap",
                target_id=gap_id,
                before={"status": "open"},
                after={"status": "resolved", "resolved_source_id": source["id"]},
            )
            await uow.commit()
        return {**gap, **changes}, source


def _candidate(gap: Row) -> GapCandidate:
    embedding = gap.get("question_embedding")
    return GapCandidate(
        gap["id"],
        gap["normalized_question"],
        embedding=tuple(embedding) if embedding else None,
        embedding_model=gap.get("embedding_model"),
    )


async def _group_gap(uow: AdminUnitOfWork, event_id: str, event: ConversationEvent) -> None:
    assert event.question is not None
    normalized = normalize_question(event.question)
    open_gaps = await uow.gaps.open_gaps(event.account_id, for_update=True)
    asked = AskedQuestion(
        normalized,
        embedding=tuple(event.question_embedding) if event.question_embedding else None,
        embedding_model=event.embedding_model,
    )
    match = matching_gap(asked, [_candidate(gap) for gap in open_gaps])
    drafted_by = DRAFTED_BY_EXTRACT if event.recommended_answer else None
    if match is None:
        gap_id = "gap_" + uuid.uuid4().hex[:20]
        await uow.gaps.record_question(event.account_id, event_id, gap_id, event.occurred_at)
        await uow.gaps.add(
            {
                "account_id": event.account_id,
                "id": gap_id,
                "question": event.question.strip(),
                "normalized_question": normalized,
                "language": event.language,
                "count": 1,
                "nearest_content": [c.model_dump(mode="json") for c in event.nearest_content],
                "status": "open",
                "first_seen_at": event.occurred_at,
                "last_seen_at": event.occurred_at,
                "recommended_answer": event.recommended_answer,
                "drafted_by": drafted_by,
                "question_embedding": event.question_embedding,
                "embedding_model": event.embedding_model,
            }
        )
        return
    await uow.gaps.record_question(event.account_id, event_id, match, event.occurred_at)
    gap = next(gap for gap in open_gaps if gap["id"] == match)
    existing = [Citation.model_validate(item) for item in gap["nearest_content"]]
    await uow.gaps.update(
        event.account_id,
        match,
        {
            "count": gap["count"] + 1,
            "last_seen_at": max(gap["last_seen_at"], event.occurred_at),
            "nearest_content": [
                c.model_dump(mode="json") for c in merge_nearest_content(existing, event.nearest_content)
            ],
            # The gap keeps its first question's language; a draft is filled in if it had none.
            "recommended_answer": gap.get("recommended_answer") or event.recommended_answer,
            "drafted_by": gap.get("drafted_by") if gap.get("recommended_answer") else drafted_by,
        },
    )


def _inbox_fact(data: InboxEventData, at: datetime) -> ConversationFact | None:
    """The fact an inbox event leaves for the figures: who holds the thread from ``at``; None for the others."""
    if isinstance(data, ThreadClosed):
        reason = "resolved" if data.resolved else "unresolved"
        return ConversationFact(kind=THREAD_CLOSED_FACT, thread_id=data.thread_id, occurred_at=at, reason=reason)
    if isinstance(data, ThreadReassigned):
        return ConversationFact(kind=THREAD_REASSIGNED_FACT, thread_id=data.thread_id, occurred_at=at)
    return None
