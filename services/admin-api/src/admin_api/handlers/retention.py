"""admin-api's retention: conversation facts behind performance reports, responses kept by Idempotency-Key."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention, RetentionSweep

from admin_api.adapters.unit_of_work import AdminUnitOfWork


async def _forget_facts(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.facts.forget_before(before, limit)


async def _forget_idempotent_responses(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.idempotency.forget_before(before, limit)


def retention_sweep(
    service: str,
    unit_of_work: Callable[[], AdminUnitOfWork],
    *,
    performance_days: int,
    idempotency_hours: int,
    interval_seconds: float,
) -> RetentionSweep[AdminUnitOfWork]:
    """The sweep of facts older than ``performance_days`` and responses older than ``idempotency_hours``."""
    return RetentionSweep(
        service,
        unit_of_work,
        [
            Retention("conversation_facts", timedelta(days=performance_days), _forget_facts),
            Retention("idempotency_keys", timedelta(hours=idempotency_hours), _forget_idempotent_responses),
        ],
        interval_seconds=interval_seconds,
    )
