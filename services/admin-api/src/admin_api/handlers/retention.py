"""admin-api's retention: conversation facts and credits used per day behind performance reports, responses
kept by Idempotency-Key, knowledge gaps once closed."""

from __future__ import annotations

from datetime import datetime, timedelta

from customer_agent_shared.persistence.retention import Retention

from admin_api.adapters.unit_of_work import AdminUnitOfWork


async def _forget_facts(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.facts.forget_before(before, limit)


async def _forget_credit_usage(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.credit_usage.forget_before(before, limit)


async def _forget_idempotent_responses(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.idempotency.forget_before(before, limit)


async def _forget_closed_gaps(uow: AdminUnitOfWork, before: datetime, limit: int) -> int:
    return await uow.gaps.forget_closed_before(before, limit)


def retentions(
    *, performance_days: int, idempotency_hours: int, closed_gap_days: int
) -> list[Retention[AdminUnitOfWork]]:
    """Facts and days of credits used older than ``performance_days``, responses older than
    ``idempotency_hours`` and gaps resolved or dismissed more than ``closed_gap_days`` ago."""
    return [
        Retention("conversation_facts", timedelta(days=performance_days), _forget_facts),
        Retention("credit_usage_days", timedelta(days=performance_days), _forget_credit_usage),
        Retention("idempotency_keys", timedelta(hours=idempotency_hours), _forget_idempotent_responses),
        Retention("knowledge_gaps", timedelta(days=closed_gap_days), _forget_closed_gaps),
    ]
