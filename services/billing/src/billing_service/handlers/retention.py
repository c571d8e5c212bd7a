"""Billing's retention: the ids of applied commands, kept while a repeat of one may still come."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention, RetentionSweep

from billing_service.handlers.types import RetentionUnitOfWork


async def _forget_applied_commands(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    # Only a shortcut goes: a repeat after this is still refused by its ledger entry's unique cause.
    return await uow.commands.forget_before(before, limit)


def retention_sweep(
    service: str, unit_of_work: Callable[[], RetentionUnitOfWork], *, command_days: int, interval_seconds: float
) -> RetentionSweep[RetentionUnitOfWork]:
    """The sweep of command ids applied more than ``command_days`` ago."""
    return RetentionSweep(
        service,
        unit_of_work,
        [Retention("applied_commands", timedelta(days=command_days), _forget_applied_commands)],
        interval_seconds=interval_seconds,
    )
