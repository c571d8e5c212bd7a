"""admin-api's retention on real PostgreSQL: old conversation facts, credits used per day, idempotent responses
and long-closed knowledge gaps go, recent ones and open gaps stay."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from admin_api.adapters.orm import SCHEMA, inbox_table, outbox_table
from admin_api.adapters.repositories import StoredResponse
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.bootstrap import MIGRATIONS_DIR
from admin_api.domain.performance import ConversationFact
from admin_api.handlers.insights import InsightUseCases
from admin_api.handlers.retention import retentions
from customer_agent_shared.events.channels import ChannelRef, ChannelType
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_KNOWLEDGE_GAP,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import make_event
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


def _sweep(units: Units, schema: str) -> RetentionSweep[AdminUnitOfWork]:
    """The sweep of admin-api's retention over ``schema``: 400 days of facts, 48 h of responses, 180 days of
    closed gaps."""
    policy = retentions(performance_days=400, idempotency_hours=48, closed_gap_days=180)
    return RetentionSweep("admin-api-test", units, policy, schema=schema, interval_seconds=0)


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
        days = {(now - timedelta(days=days_ago)).date(): 1 for days_ago in (402, 401, 397, 0)}
        await uow.credit_usage.save(ACCOUNT, version=1, days=days)
        await uow.idempotency.put(ACCOUNT, "POST /sources", "k1", StoredResponse("f", 201, {"id": "s1"}))
        await uow.commit()
    sweep = _sweep(units, scratch_schema[1])

    # Two days less an hour later the response is still there; the facts and days older than 400 days are not.
    assert await sweep.run_once(now + timedelta(hours=47)) == {
        "conversation_facts": 2,
        "credit_usage_days": 2,
        "idempotency_keys": 0,
        "knowledge_gaps": 0,
    }
    assert await _threads_answered(units, now - timedelta(days=500)) == {"t-397", "t-today"}
    async with units() as uow:
        assert await uow.idempotency.get(ACCOUNT, "POST /sources", "k1") is not None
        assert await uow.credit_usage.used(ACCOUNT, first=(now - timedelta(days=500)).date(), last=now.date()) == 2

    assert await sweep.run_once(now + timedelta(hours=49)) == {
        "conversation_facts": 0,
        "credit_usage_days": 0,
        "idempotency_keys": 1,
        "knowledge_gaps": 0,
    }
    async with units() as uow:
        assert await uow.idempotency.get(ACCOUNT, "POST /sources", "k1") is None
    assert await _threads_answered(units, now - timedelta(days=500)) == {"t-397", "t-today"}


async def _declined(insights: InsightUseCases, question: str, *, thread: str, days_ago: int) -> str:
    """Fold conversation's knowledge_gap event for a question it declined ``days_ago``; the event's id."""
    data = ConversationEvent(
        account_id=ACCOUNT,
        thread_id=thread,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        message_id=f"m-{thread}",
        occurred_at=datetime.now(UTC) - timedelta(days=days_ago),
        question=question,
        language="en",
        miss_count=1,
    )
    event = make_event(CONVERSATION_KNOWLEDGE_GAP, data, source="conversation", account_id=ACCOUNT)
    assert await insights.apply_event("admin-api-test", event.id, event.type, event.data)
    return event.id


async def _gaps_left(units: Units) -> dict[str, str]:
    """Each gap left, by question, with its status."""
    async with units() as uow:
        return {gap["question"]: gap["status"] for gap in await uow.gaps.list(ACCOUNT, None)}


async def _linked(units: Units, asked: dict[str, str]) -> set[str]:
    """The questions whose knowledge_gap event still links to a gap."""
    async with units() as uow:
        return {question for question, event_id in asked.items() if await uow.gaps.gap_of_question(ACCOUNT, event_id)}


async def test_gaps_closed_longer_than_their_retention_go_with_their_question_links_and_open_ones_stay(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    insights = InsightUseCases(units)
    first_asked = {
        "Do you ship to Iceland?": 1000,
        "Can I pay with MobilePay?": 3,
        "Any student discount?": 2,
        "Do you sell gift cards?": 1,
    }
    asked = {
        question: await _declined(insights, question, thread=f"t-{n}", days_ago=days)
        for n, (question, days) in enumerate(first_asked.items())
    }
    ids = {gap["question"]: gap["id"] for gap in await insights.gaps(ACCOUNT, None)}
    await insights.resolve_gap(ACCOUNT, "key-1", ids["Can I pay with MobilePay?"], "Yes, with MobilePay.", None)
    await insights.dismiss_gap(ACCOUNT, actor="key-1", gap_id=ids["Any student discount?"])
    await insights.dismiss_gap(ACCOUNT, actor="key-1", gap_id=ids["Do you sell gift cards?"])
    async with units() as uow:  # as if the gift cards were dismissed half a year and a day ago
        closed_long_ago = datetime.now(UTC) - timedelta(days=181)
        await uow.gaps.update(ACCOUNT, ids["Do you sell gift cards?"], {"closed_at": closed_long_ago})
        await uow.commit()
    sweep = _sweep(units, scratch_schema[1])
    now = datetime.now(UTC)

    assert (await sweep.run_once(now))["knowledge_gaps"] == 1
    assert await _gaps_left(units) == {
        "Do you ship to Iceland?": "open",
        "Can I pay with MobilePay?": "resolved",
        "Any student discount?": "dismissed",
    }
    assert await _linked(units, asked) == {
        "Do you ship to Iceland?",
        "Can I pay with MobilePay?",
        "Any student discount?",
    }

    # Half a year and a day on, the gaps closed today go too; the open one, first asked years ago, stays.
    assert (await sweep.run_once(now + timedelta(days=181)))["knowledge_gaps"] == 2
    assert await _gaps_left(units) == {"Do you ship to Iceland?": "open"}
    assert await _linked(units, asked) == {"Do you ship to Iceland?"}


async def test_gaps_an_older_pod_closed_without_a_time_are_stamped_then_deleted_in_time(
    units: Units, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    insights = InsightUseCases(units)
    for n, question in enumerate(("Do you ship to Iceland?", "Can I pay with MobilePay?", "Any student discount?")):
        await _declined(insights, question, thread=f"t-{n}", days_ago=300)
    ids = {gap["question"]: gap["id"] for gap in await insights.gaps(ACCOUNT, None)}
    await insights.resolve_gap(ACCOUNT, "key-1", ids["Can I pay with MobilePay?"], "Yes, with MobilePay.", None)
    await insights.dismiss_gap(ACCOUNT, actor="key-1", gap_id=ids["Any student discount?"])
    async with units() as uow:  # as a pod from before closed_at left them: resolved 200 days ago, dismissed
        resolved_long_ago = datetime.now(UTC) - timedelta(days=200)
        await uow.gaps.update(
            ACCOUNT, ids["Can I pay with MobilePay?"], {"closed_at": None, "resolved_at": resolved_long_ago}
        )
        await uow.gaps.update(ACCOUNT, ids["Any student discount?"], {"closed_at": None})
        await uow.commit()
    sweep = _sweep(units, scratch_schema[1])
    now = datetime.now(UTC)

    # The resolved one counts from when it was resolved; the dismissal, whose time is unknown, from now.
    assert (await sweep.run_once(now))["knowledge_gaps"] == 1
    assert await _gaps_left(units) == {"Do you ship to Iceland?": "open", "Any student discount?": "dismissed"}
    assert (await sweep.run_once(now + timedelta(days=181)))["knowledge_gaps"] == 1
    assert await _gaps_left(units) == {"Do you ship to Iceland?": "open"}
