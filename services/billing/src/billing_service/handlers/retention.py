"""Billing's retention: the ids of applied commands, kept while a repeat of one may still come."""

from __future__ import annotations

from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention

from billing_service.handlers.types import RetentionUnitOfWork


async def _forget_applied_commands(uow: RetentionUnitOfWork, before: datetime, limit: int) -> int:
    # Only a shortcut goes: a repeat after this is still refused by its ledger entry's unique cause.
    return await uow.commands.forget_before(before, limit)


def retentions(*, command_days: int) -> list[Retention[RetentionUnitOfWork]]:
    """Command ids applied more than ``command_days`` ago."""
    return [Retention("applied_commands", timedelta(days=command_days), _forget_applied_commands)]
