"""Routing's retention: which of its append-only rows are still needed, for how long."""

from __future__ import annotations

from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention

from routing_service.domain.ownership import HUMAN_SIDE
from routing_service.handlers.types import RetentionUnitOfWork


async def _forget_old_entries(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_entries_before(before, limit)


async def _forget_closed_threads(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_closed_threads(before, limit)


async def _forget_transitions(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_transitions(before, limit)


def retentions(
    *, transcript_days: int, transcript_max_days: int, transition_days: int
) -> list[Retention[RetentionUnitOfWork]]:
    """Transcripts of threads closed or idle in the agent's hands ``transcript_days``, then the threads closed
    that long, any transcript entry older than ``transcript_max_days``, and ownership changes older than
    ``transition_days``."""
    window = timedelta(days=transcript_max_days - transcript_days)

    async def forget_idle_transcripts(uow: RetentionUnitOfWork, idle_since: datetime, limit: int) -> int:
        # A thread waiting for or held by a person keeps its transcript (a handoff, or a second one after a
        # reassignment, carries it) until its entries pass the hard cap below. Threads idle longer than the
        # window are not read again: theirs went on the way through it, or go by that cap.
        return await uow.retention.forget_idle_transcripts(
            idle_since, idle_after=idle_since - window, keeping=HUMAN_SIDE, limit=limit
        )

    return [
        Retention("transcript_entries", timedelta(days=transcript_days), forget_idle_transcripts),
        # Only closed threads: an open one is the agent's even while it is paused, a person's holds a place
        # in their capacity, and the inbox may still act on either. A message on a deleted thread opens a new
        # one, as it would reopen the closed one.
        Retention("threads", timedelta(days=transcript_days), _forget_closed_threads),
        Retention("transcript_entries", timedelta(days=transcript_max_days), _forget_old_entries),
        Retention("thread_transitions", timedelta(days=transition_days), _forget_transitions),
    ]
