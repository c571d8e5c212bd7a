"""Conversation's periodic tasks: the resolution sweep publishes threads the agent answered that went quiet
as resolved; the question log's retention deletes questions past it, on its own schedule (whether or not the
sweep runs)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from customer_agent_shared.events.conversations import CONVERSATION_RESOLVED, ConversationEvent
from customer_agent_shared.events.envelope import derived_event_id, make_event
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.persistence.unit_of_work_protocol import delete_in_batches
from customer_agent_shared.topics import CONVERSATIONS_EVENTS

from conversation_service import metrics
from conversation_service.domain.model import channel_ref
from conversation_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)
SOURCE = "conversation"
BATCH = 200
PRUNE_INTERVAL_SECONDS = 3600.0


class QuestionLogRetention:
    """Deletes logged questions older than the retention, a batch per transaction, every hour."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory, *, days: int, interval_seconds: float = PRUNE_INTERVAL_SECONDS
    ) -> None:
        self._unit_of_work = unit_of_work
        self._retention = timedelta(days=days)
        self.periodic = Periodic("question-log-retention", self._prune, interval_seconds=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> int:
        """Delete every question past the retention; return how many were deleted."""
        cutoff = (now or datetime.now(UTC)) - self._retention
        return await delete_in_batches(
            self._unit_of_work, lambda uow: uow.questions.prune(cutoff, BATCH * 5), batch=BATCH * 5
        )

    async def _prune(self) -> None:
        pruned = await self.run_once()
        if pruned:
            logger.info("questions past their retention deleted", extra={"count": pruned})


class ResolutionSweep:
    """Applies the resolution rule (agent replied, no handoff, no negative feedback, N quiet hours)."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        default_hours: int,
        interval_seconds: float,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._default_hours = default_hours
        self.periodic = Periodic("resolution-sweep", self._sweep, interval_seconds=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> int:
        """Resolve every due thread (in batches); return how many were resolved."""
        now = now or datetime.now(UTC)
        total = 0
        while True:
            async with self._unit_of_work() as uow:
                due = await uow.threads.claim_due_for_resolution(now, self._default_hours, BATCH)
                for thread in due:
                    thread.resolved_at = now
                    await uow.threads.save(thread)
                    event = ConversationEvent(
                        account_id=thread.account_id,
                        thread_id=thread.thread_id,
                        channel=channel_ref(thread.channel_type, thread.channel_id),
                        occurred_at=now,
                        language=thread.language,
                    )
                    await uow.publish(
                        CONVERSATIONS_EVENTS,
                        f"{thread.account_id}:{thread.thread_id}",
                        make_event(
                            CONVERSATION_RESOLVED,
                            event,
                            source=SOURCE,
                            account_id=thread.account_id,
                            # One resolution per quiet period: the same thread and last message, the same id.
                            event_id=derived_event_id(
                                f"{thread.account_id}:{thread.thread_id}", thread.last_message_at.isoformat()
                            ),
                        ),
                    )
                await uow.commit()
            total += len(due)
            metrics.RESOLVED.inc(len(due))
            if len(due) < BATCH:
                return total

    async def _sweep(self) -> None:
        resolved = await self.run_once()
        if resolved:
            logger.info("threads resolved", extra={"count": resolved})
