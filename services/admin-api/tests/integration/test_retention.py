"""admin-api's retention on real PostgreSQL: old conversation facts and idempotent responses go, recent stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from admin_api.adapters.orm import SCHEMA, inbox_table, outbox_table
from admin_api.adapters.repositories import StoredResponse
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.bootstrap import MIGRATIONS_DIR
from admin_api.domain.performance import ConversationFact
from admin_api.handlers.retention import retentions
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED
from customer_agent_shared.persistence.retention import RetentionSweep
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import migrated_sessions
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

ACCOUNT = "acc-1"
Units = Callable[[], AdminUnitOfWork]


@pytest.fixture
async def units(infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]) -> Units:
    """Units of work over a freshly migrated scratch schema."""
    engine, schema = scratch_schema
    sessions = await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=schema, service_schema=SCHEMA
    )
    return lambda: AdminUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)


async def _threads_answered(units: Units, since: datetime) -> set[str]:
    async with units() as uow:
        facts = await uow.facts.between(ACCOUNT, start=since, end=datetime.now(UTC))
    return {fact.thread_id for fact in facts}


async def test_facts_past_the_performance_retention_and_old_idempotent_responses_are_deleted(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    now = datetime.now(UTC)
    async with units() as uow:
        for thread_id, days_ago in (("t-401", 401), ("t-402", 402), ("t-397", 397), ("t-today", 0)):
            fact = ConversationFact(CONVERSATION_ANSWERED, thread_id, now - timedelta(days=days_ago, minutes=1))
            await uow.facts.add(f"e-{thread_id}", account_id=ACCOUNT, fact=fact)
        await uow.idempotency.put(ACCOUNT, "POST /sources", "k1", StoredResponse("f", 201, {"id": "s1"}))
        await uow.commit()
    policy = retentions(performance_days=400, idempotency_hours=48)
    sweep = RetentionSweep("admin-api-test", units, policy, schema=scratch_schema[1], interval_seconds=0)

    # Two days less an hour later the response is still there; the facts older than 400 days are not.
    assert await sweep.run_once(now + timedelta(hours=47)) == {"conversation_facts": 2, "idempotency_keys": 0}
    assert await _threads_answered(units, now - timedelta(days=500)) == {"t-397", "t-today"}
    async with units() as uow:
        assert await uow.idempotency.get(ACCOUNT, "POST /sources", "k1") is not None

    assert await sweep.run_once(now + timedelta(hours=49)) == {"conversation_facts": 0, "idempotency_keys": 1}
    async with units() as uow:
        assert await uow.idempotency.get(ACCOUNT, "POST /sources", "k1") is None
    assert await _threads_answered(units, now - timedelta(days=500)) == {"t-397", "t-today"}
