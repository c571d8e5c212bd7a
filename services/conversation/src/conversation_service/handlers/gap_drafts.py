"""The LLM's recommended answers for knowledge gaps, drafted in the background after the decline.

A decline queues its draft in the transaction that stages the gap's event, so the visitor's reply never
waits for the model. A drafter in each process leases due drafts (``SKIP LOCKED``: replicas take different
ones), asks the model with no transaction open, and publishes ``conversation.knowledge_gap_drafted``
through the outbox; a failure is tried again later, up to a cap, and the extract then stays.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.conversations import (
    CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
    ConversationEvent,
    KnowledgeGapDrafted,
)
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.topics import CONVERSATIONS_EVENTS

from conversation_service import metrics
from conversation_service.domain.gap_drafts import PendingDraft, accept_draft, draft_messages, retry_delay
from conversation_service.handlers.answering import Attempt, ChatModel
from conversation_service.handlers.types import ConversationUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"
LEASE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class DraftOptions:
    """How drafts are tried: per try, how often, and how many at once."""

    timeout_seconds: float = 8.0
    attempts: int = 5
    retry_seconds: float = 30.0
    interval_seconds: float = 2.0
    batch: int = 4


async def queue_gap_draft(
    uow: ConversationUnitOfWorkProtocol, gap: CloudEvent[ConversationEvent], attempt: Attempt | None
) -> None:
    """Queue the LLM's draft for a staged knowledge gap event, when the nearest content allows one."""
    data = gap.data
    if attempt is None or not attempt.draft_sources or not data.question or not data.language:
        return
    draft = PendingDraft(
        gap_event_id=gap.id,
        account_id=data.account_id,
        thread_id=data.thread_id,
        message_id=data.message_id,
        question=data.question,
        language=data.language,
        sources=attempt.draft_sources,
    )
    await uow.gap_drafts.add(draft, datetime.now(UTC))


class GapDrafter:
    """Drafts the queued gaps' answers with the model and publishes them (see the module)."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, llm: ChatModel, options: DraftOptions) -> None:
        self._unit_of_work = unit_of_work
        self._llm = llm
        self._options = options
        self.periodic = Periodic("gap-drafts", self._drain, interval_seconds=options.interval_seconds)

    async def run_once(self) -> int:
        """Draft one lease's worth of due gaps, at once; return how many were taken."""
        lease_seconds = self._options.timeout_seconds + LEASE_MARGIN_SECONDS
        async with self._unit_of_work() as uow:
            token, drafts = await uow.gap_drafts.lease(
                datetime.now(UTC), limit=self._options.batch, lease_seconds=lease_seconds
            )
            await uow.commit()
        outcomes = await asyncio.gather(*(self._draft(draft, token) for draft in drafts), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, Exception):
                logger.error("knowledge gap draft not recorded; tried again when its lease ends", exc_info=outcome)
        return len(drafts)

    async def _drain(self) -> None:
        while await self.run_once() >= self._options.batch:
            pass

    async def _draft(self, draft: PendingDraft, token: str) -> None:
        messages = draft_messages(draft.question, draft.language, draft.sources)
        try:
            async with asyncio.timeout(self._options.timeout_seconds):
                reply = await self._llm.complete(messages)
        except Exception as error:
            await self._failed(draft, token, error)
            return
        text = accept_draft(reply, draft.sources)
        async with self._unit_of_work() as uow:
            if not await uow.gap_drafts.finish(draft.gap_event_id, token):
                return  # the lease ran out and another drafter has it
            if text is not None:
                await uow.publish(CONVERSATIONS_EVENTS, f"{draft.account_id}:{draft.thread_id}", _drafted(draft, text))
            await uow.commit()
        metrics.GAP_DRAFTS.labels(outcome="drafted" if text is not None else "ungrounded").inc()
        if text is None:
            logger.info("LLM drafted no grounded answer for a knowledge gap; the extract stays")

    async def _failed(self, draft: PendingDraft, token: str, error: Exception) -> None:
        given_up = draft.attempts >= self._options.attempts
        async with self._unit_of_work() as uow:
            if given_up:
                taken = await uow.gap_drafts.finish(draft.gap_event_id, token)
            else:
                delay = retry_delay(draft.attempts, first_seconds=self._options.retry_seconds)
                taken = await uow.gap_drafts.retry_at(
                    draft.gap_event_id, token, datetime.now(UTC) + timedelta(seconds=delay)
                )
            await uow.commit()
        if not taken:
            return
        details = {"gap_event_id": draft.gap_event_id, "attempts": draft.attempts, "error": repr(error)[:300]}
        if given_up:
            metrics.GAP_DRAFTS.labels(outcome="given_up").inc()
            logger.warning("LLM failed every try at a knowledge gap draft; the extract stays", extra=details)
        else:
            metrics.GAP_DRAFTS.labels(outcome="retried").inc()
            logger.info("LLM failed a knowledge gap draft; trying again later", extra=details)


def _drafted(draft: PendingDraft, text: str) -> CloudEvent[KnowledgeGapDrafted]:
    data = KnowledgeGapDrafted(
        account_id=draft.account_id,
        thread_id=draft.thread_id,
        message_id=draft.message_id,
        occurred_at=datetime.now(UTC),
        gap_event_id=draft.gap_event_id,
        language=draft.language,
        recommended_answer=text,
    )
    return make_event(
        CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
        data,
        source=SOURCE,
        account_id=draft.account_id,
        event_id=derived_event_id(draft.gap_event_id, CONVERSATION_KNOWLEDGE_GAP_DRAFTED),
    )
