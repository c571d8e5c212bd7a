"""Routing's retention: which of its rows are still needed, for how long."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention

from routing_service.domain.ownership import HUMAN_SIDE
from routing_service.handlers.types import RetentionUnitOfWork

logger = logging.getLogger(__name__)


async def _forget_old_entries(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_entries_before(before, limit)


async def _forget_closed_threads(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_closed_threads(before, limit)


async def _forget_abandoned_threads(uow: RetentionUnitOfWork, untouched_since: datetime, limit: int) -> int:
    """Threads left open (a person's or team's that the inbox never closed, the unassigned view's, or the agent's
    that were never resolved) and untouched since ``untouched_since``; the place a person's held is freed with
    it, under its account's assignments, or the thread is left for the next run if another transaction holds
    them (it never waits here, holding the rows it locked)."""
    threads = await uow.retention.lock_open_threads(untouched_since, limit)
    holding = {thread.account_id for thread in threads if thread.owner.holder is not None}
    busy = await uow.loads.hold_free_assignments(holding)  # in one statement, for every account at once
    gone = [thread for thread in threads if thread.owner.holder is None or thread.account_id not in busy]
    places = [(thread.account_id, holder) for thread in gone if (holder := thread.owner.holder) is not None]
    if places:
        await uow.loads.free(places)
        logger.info(
            "threads a person held, untouched for long, forgotten; their places freed", extra={"count": len(places)}
        )
    return await uow.retention.forget_threads([(thread.account_id, thread.thread_id) for thread in gone])


async def _forget_transitions(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_transitions(before, limit)


def retentions(
    *, transcript_days: int, transcript_max_days: int, transition_days: int
) -> list[Retention[RetentionUnitOfWork]]:
    """Transcripts of threads closed or idle in the agent's hands ``transcript_days``, then the threads closed
    that long, threads left open and untouched ``transcript_max_days``, any transcript entry that old, and
    ownership changes older than ``transition_days``."""
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
        # An open thread untouched as long as a transcript is kept at most was left behind: the inbox never
        # closed it, or conversation never resolved it. Its transcript is going at this age anyway; an inbox
        # action on it then changes nothing and a message on it opens a new thread.
        Retention("threads", timedelta(days=transcript_max_days), _forget_abandoned_threads),
        Retention("transcript_entries", timedelta(days=transcript_max_days), _forget_old_entries),
        Retention("thread_transitions", timedelta(days=transition_days), _forget_transitions),
    ]
