"""Routing's retention: which of its append-only rows are still needed, for how long."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention, RetentionSweep

from routing_service.domain.ownership import HUMAN_SIDE
from routing_service.handlers.types import RetentionUnitOfWork


async def _forget_transcripts(uow: RetentionUnitOfWork, idle_since: datetime, limit: int) -> int:
    # A thread waiting for or held by a person keeps its transcript however long it waits: a handoff
    # (or a second one, after a reassignment) carries it.
    return await uow.retention.forget_transcripts(idle_since, keeping=HUMAN_SIDE, limit=limit)


async def _forget_transitions(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.retention.forget_transitions(before, limit)


def retention_sweep(
    service: str,
    unit_of_work: Callable[[], RetentionUnitOfWork],
    *,
    transcript_days: int,
    transition_days: int,
    interval_seconds: float,
) -> RetentionSweep[RetentionUnitOfWork]:
    """The sweep of transcripts of threads closed or idle ``transcript_days`` and of ownership changes older
    than ``transition_days``."""
    return RetentionSweep(
        service,
        unit_of_work,
        [
            Retention("transcript_entries", timedelta(days=transcript_days), _forget_transcripts),
            Retention("thread_transitions", timedelta(days=transition_days), _forget_transitions),
        ],
        interval_seconds=interval_seconds,
    )
