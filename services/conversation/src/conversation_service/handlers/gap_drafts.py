"""The LLM's recommended answers for knowledge gaps, drafted in the background after the decline.

A decline queues its draft in the transaction that stages the gap's event, so the visitor's reply never
waits for the model; the same question (in the same language, for the same account) is drafted once a day.
A drafter in each process leases due drafts one at a time (``SKIP LOCKED``: replicas take different ones)
when no live answer of the process waits for the model, asks it with no transaction open, and publishes
``conversation.knowledge_gap_drafted`` through the outbox; a failure is tried again later, up to a cap, and
the extract then stays. The retention deletes what is done or left pending too long, with or without a model.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.conversations import (
    CONVERSATION_KNOWLEDGE_GAP_DRAFTED,
    ConversationEvent,
    KnowledgeGapDrafted,
)
from customer_agent_shared.events.envelope import CloudEvent, derived_event_id, make_event
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.persistence.unit_of_work_protocol import delete_in_batches
from customer_agent_shared.topics import CONVERSATIONS_EVENTS

from conversation_service import metrics
from conversation_service.domain.gap_drafts import (
    DRAFTED_RECENTLY,
    MAX_PENDING_PER_ACCOUNT,
    PENDING_AT_MOST,
    PendingDraft,
    accept_draft,
    draft_messages,
    retry_delay,
)
from conversation_service.handlers.answering import Attempt, ChatModel
from conversation_service.handlers.resolution import PRUNE_INTERVAL_SECONDS
from conversation_service.handlers.types import ConversationUnitOfWorkProtocol, UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"
LEASE_MARGIN_SECONDS = 30.0
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class DraftOptions:
    """How drafts are tried: per try, how often, and how many at once (one: they share the live answers'
    model endpoint)."""

    timeout_seconds: float = 8.0
    attempts: int = 5
    retry_seconds: float = 30.0
    interval_seconds: float = 2.0
    batch: int = 1


class LiveAnswers:
    """The live answers' model calls in flight in this process; background drafts wait until there are none."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def counting(self, model: ChatModel) -> ChatModel:
        """``model`` with each of its calls counted as a live answer's."""
        return _CountedModel(model, self)

    @contextmanager
    def calling(self) -> Iterator[None]:
        """Count one live call while the block runs."""
        self._in_flight += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._in_flight -= 1
            if not self._in_flight:
                self._idle.set()

    async def idle(self) -> None:
        """Return once no live answer waits for the model."""
        await self._idle.wait()


class _CountedModel:
    def __init__(self, model: ChatModel, live: LiveAnswers) -> None:
        self._model = model
        self._live = live

    async def complete(self, messages: list[dict[str, str]]) -> str:
        with self._live.calling():
            return await self._model.complete(messages)


async def queue_gap_draft(
    uow: ConversationUnitOfWorkProtocol, gap: CloudEvent[ConversationEvent], attempt: Attempt | None
) -> None:
    """Queue the LLM's draft for a staged knowledge gap event, when the nearest content allows one."""
    data = gap.data
    if attempt is None or not attempt.draft_sources or not data.question or not data.language:
        return
    # Read before this transaction's own queued drafts are written: a batch may pass the cap by its size.
    if await uow.gap_drafts.pending(data.account_id, limit=MAX_PENDING_PER_ACCOUNT) >= MAX_PENDING_PER_ACCOUNT:
        uow.after_commit(metrics.GAP_DRAFTS_DROPPED.labels(reason="account_full").inc)
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

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        llm: ChatModel,
        options: DraftOptions,
        *,
        live: LiveAnswers | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._llm = llm
        self._options = options
        self._live = live
        self.periodic = Periodic("gap-drafts", self._drain, interval_seconds=options.interval_seconds)

    async def run_once(self) -> int:
        """Once no live answer waits for the model, draft one lease's worth of due gaps; return how many were
        taken."""
        if self._live is not None:
            await self._live.idle()  # before the lease, which would run out while waiting
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
            if not await uow.gap_drafts.finish(draft.gap_event_id, token, datetime.now(UTC)):
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
                taken = await uow.gap_drafts.finish(draft.gap_event_id, token, datetime.now(UTC))
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


class GapDraftRetention:
    """Deletes drafts done over ``DRAFTED_RECENTLY`` ago and those pending over ``PENDING_AT_MOST`` (queued
    before the model or the drafts were turned off), a batch per transaction, every hour."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        interval_seconds: float = PRUNE_INTERVAL_SECONDS,
        batch: int = PRUNE_BATCH,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._batch = batch
        self.periodic = Periodic("gap-draft-retention", self._prune, interval_seconds=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        """Delete every draft past its retention; return how many done and how many pending were deleted."""
        now = now or datetime.now(UTC)
        done = await delete_in_batches(
            self._unit_of_work,
            lambda uow: uow.gap_drafts.prune_done(now - DRAFTED_RECENTLY, self._batch),
            batch=self._batch,
        )
        expired = await delete_in_batches(
            self._unit_of_work,
            lambda uow: uow.gap_drafts.expire_pending(now - PENDING_AT_MOST, self._batch),
            batch=self._batch,
        )
        metrics.GAP_DRAFTS_DROPPED.labels(reason="expired").inc(expired)
        return done, expired

    async def _prune(self) -> None:
        done, expired = await self.run_once()
        if expired:
            logger.warning("knowledge gap drafts pending too long deleted undrafted", extra={"count": expired})
        if done:
            logger.info("knowledge gap drafts done over a day ago deleted", extra={"count": done})


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
