"""admin-api's retention: conversation facts behind performance reports, responses kept by Idempotency-Key."""

from __future__ import annotations

from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention

from admin_api.adapters.unit_of_work import AdminUnitOfWork


async def _forget_facts(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.facts.forget_before(before, limit)


async def _forget_idempotent_responses(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.idempotency.forget_before(before, limit)


def retentions(*, performance_days: int, idempotency_hours: int) -> list[Retention[AdminUnitOfWork]]:
    """Facts older than ``performance_days`` and responses older than ``idempotency_hours``."""
    return [
        Retention("conversation_facts", timedelta(days=performance_days), _forget_facts),
        Retention("idempotency_keys", timedelta(hours=idempotency_hours), _forget_idempotent_responses),
    ]
