"""Credits run out and come back (purchase, period reset), per-resolution plans charge resolved and quiet
threads, and the scheduler forgets threads quiet longer than the retention."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from billing_service.bootstrap import build_service
from billing_service.domain.pricing import ThreadFacts
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.scheduler import BillingScheduler
from customer_agent_shared.events.billing import (
    CREDITS_ADJUST,
    CREDITS_EXHAUSTED,
    CREDITS_PURCHASE,
    CREDITS_RESTORED,
    CREDITS_STATE,
    CreditPlan,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_RESOLVED,
)
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import ReceivedRecord, collect_records, end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_COMMANDS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    ManualClock,
    assert_consistent,
    billing_settings,
    cached_balance,
    command,
    conversation_event,
    credit_state_offsets,
    credit_states,
    handled_all,
    kafka_producer,
    ledger,
    per_resolution_billing,
    send,
    send_conversation,
    wait_until_consuming,
)

pytestmark = pytest.mark.integration


async def test_exhaustion_then_purchase_and_reset_restore(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    clock = ManualClock(datetime(2026, 11, 20, 12, tzinfo=UTC))
    plan: dict[str, Any] = {"default_monthly_allotment": 2, "default_reset_day": 1}  # the clock passes 1 December
    settings = billing_settings(schema, unique_name("billing.test"), scheduler_interval_seconds=0.2, **plan)
    service = build_service(settings, clock=clock)
    account = unique_name("acc")
    offsets = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        # One at a time: two charges in one batch would leave only the second's plain state.
        await send_conversation(producer, conversation_event(account, "t1"))
        await credit_states(bootstrap, account, offsets, lambda s: any(x.balance == 1 for x in s))
        await send_conversation(producer, conversation_event(account, "t2"))
        states = await credit_states(bootstrap, account, offsets, lambda s: any(x.exhausted for x in s))
        assert [(s.type, s.balance) for s in states] == [
            (CREDITS_STATE, 2),
            (CREDITS_STATE, 1),
            (CREDITS_EXHAUSTED, 0),
        ]
        # A purchase restores; the same command sent again (new event id) adds nothing.
        for _ in range(2):
            await send(producer, BILLING_COMMANDS, command(CREDITS_PURCHASE, account, "p-1", credits=1), account)
        await credit_states(bootstrap, account, offsets, lambda s: len(s) >= 4)
        await send_conversation(producer, conversation_event(account, "t3"))  # exhausts again
        await credit_states(bootstrap, account, offsets, lambda s: len(s) >= 5)
        await send_conversation(producer, conversation_event(account, "t4"))  # overage while exhausted
        states = await credit_states(bootstrap, account, offsets, lambda s: len(s) >= 6)
        assert [(s.type, s.balance) for s in states] == [
            (CREDITS_STATE, 2),
            (CREDITS_STATE, 1),
            (CREDITS_EXHAUSTED, 0),
            (CREDITS_RESTORED, 1),
            (CREDITS_EXHAUSTED, 0),
            (CREDITS_STATE, -1),
        ]
        # No traffic, but time passes the reset date: the scheduler restores the account.
        clock.now = datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC)
        await credit_states(bootstrap, account, offsets, lambda s: len(s) >= 7)
        await asyncio.sleep(1.0)  # several more scheduler passes: the reset must not repeat
        states = await credit_states(bootstrap, account, offsets, lambda s: len(s) > 7, within=2.0)

    assert len(states) == 7
    restored = states[-1]
    assert restored.type == CREDITS_RESTORED
    assert restored.balance == 1  # the 1 bought credit was spent first on overage; a new allotment of 2
    assert restored.data["reset_at"].startswith("2027-01-01T00:00:00")
    assert restored.data["used_this_period"] == 0
    assert [s.version for s in states] == list(range(1, 8))
    entries = await ledger(engine, schema, account)
    assert [e.kind for e in entries].count("reset") == 1
    assert [e.kind for e in entries].count("purchase") == 1
    assert_consistent(entries, await cached_balance(engine, schema, account))


async def test_per_resolution_charges_resolved_and_quiet_threads_only(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    # The conversation events happen now (real time), and the clock then passes their quiet period.
    billing = per_resolution_billing(schema)
    service, clock, account, plan_set = billing.service, billing.clock, billing.account, billing.plan_set
    bad_purchase = command(CREDITS_PURCHASE, account, "bad-1", credits=0)
    goodwill = command(CREDITS_ADJUST, account, "adj-1", credits=5, note="goodwill")
    dlq_offsets = await end_offsets(bootstrap, BILLING_COMMANDS + ".dlq", 1)
    state_offsets = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send(producer, BILLING_COMMANDS, plan_set, account)
        await send(producer, BILLING_COMMANDS, bad_purchase, account)
        await send(producer, BILLING_COMMANDS, goodwill, account)
        await eventually(lambda: handled_all(engine, schema, [plan_set.id, goodwill.id]), "the commands")
        stream = [
            conversation_event(account, "resolved"),
            conversation_event(account, "resolved", CONVERSATION_RESOLVED),
            conversation_event(account, "quiet"),
            conversation_event(account, "handed-off"),
            conversation_event(account, "handed-off", CONVERSATION_HANDOFF_REQUESTED),
            conversation_event(account, "disliked"),
            conversation_event(account, "disliked", CONVERSATION_FEEDBACK, feedback="negative"),
        ]
        for event in stream:
            await send_conversation(producer, event)
        await eventually(lambda: handled_all(engine, schema, [e.id for e in stream]), "the conversation")
        charged_now = [e.cause_id for e in await ledger(engine, schema, account) if e.kind == "usage"]
        clock.now = datetime.now(UTC) + timedelta(hours=2, minutes=1)  # past every thread's quiet period
        await eventually(
            lambda: _usage_causes_are(engine, schema, account, {"thread:resolved", "thread:quiet"}), "quiet charge"
        )
        await asyncio.sleep(0.6)  # more scheduler passes charge nothing else
        dead = await _dead_letters(bootstrap, dlq_offsets, bad_purchase.id)
        states = await credit_states(bootstrap, account, state_offsets, lambda s: s[-1].balance == 999 if s else False)

    assert charged_now == ["thread:resolved"]
    usage = [e for e in await ledger(engine, schema, account) if e.kind == "usage"]
    assert [(e.cause_id, e.amount) for e in usage] == [("thread:resolved", -3), ("thread:quiet", -3)]
    assert dead, "the invalid purchase went to the dead-letter topic"
    latest = states[-1].data
    assert latest["plan"]["pricing_rule"] == "per_resolution"
    assert [(h["kind"], h["amount"], h["note"]) for h in latest["recent_entries"]][:3] == [
        ("usage", -3, None),
        ("usage", -3, None),
        ("adjustment", 5, "goodwill"),
    ]


async def _usage_causes_are(engine: AsyncEngine, schema: str, account: str, causes: set[str]) -> bool:
    return {e.cause_id for e in await ledger(engine, schema, account) if e.kind == "usage"} == causes


async def _dead_letters(bootstrap: str, offsets: dict[int, int], event_id: str) -> bool:
    def found(records: list[ReceivedRecord]) -> bool:
        return any(event_id.encode() in record.value for record in records)

    records = await collect_records(
        bootstrap, BILLING_COMMANDS + ".dlq", until=found, timeout_seconds=10, from_offsets=offsets
    )
    return found(records)


async def test_scheduler_forgets_threads_quiet_longer_than_the_retention(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    service = build_service(billing_settings(schema, unique_name("billing.test"), scheduler_interval_seconds=3600))
    account = unique_name("acc")
    ages = {"old-charged": 120, "old-uncharged": 95, "recent": 30}
    async with service.kernel.lifecycle.running():
        async with service.unit_of_work() as uow:
            for thread, days in ages.items():
                facts = ThreadFacts(answered=True, charged=thread.endswith("-charged"))
                await uow.threads.save(account, thread, replace(facts, last_activity_at=now - timedelta(days=days)))
            await uow.commit()
        scheduler = BillingScheduler(
            service.unit_of_work,
            policy=LedgerPolicy(default_plan=CreditPlan()),
            clock=lambda: now,
            interval_seconds=3600,
            thread_retention=timedelta(days=90),
        )
        assert await scheduler.run_once() == 2
        assert await scheduler.run_once() == 0

    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT thread_id FROM "{schema}".threads WHERE account_id = :account'), {"account": account}
        )
        assert set(rows.scalars()) == {"recent"}
