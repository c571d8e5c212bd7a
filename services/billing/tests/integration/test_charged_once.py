"""Billing charges each thread once: redelivered and replayed events, two instances across a rebalance,
and a batch of events in one transaction."""

from __future__ import annotations

import asyncio
import json
import random
from contextlib import AsyncExitStack

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from billing_service.bootstrap import BillingService, build_service
from billing_service.clock import system_clock
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.metering import ConversationMetering
from customer_agent_shared.events.billing import CREDITS_STATE
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.messaging.failures import TransientHandlerError
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import (
    ReceivedRecord,
    client_options,
    collect_records,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_CREDIT_STATE, CONVERSATIONS_EVENTS
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    assert_consistent,
    billing_settings,
    cached_balance,
    conversation_event,
    credit_state_offsets,
    credit_states,
    handled_all,
    kafka_producer,
    ledger,
    send,
    send_conversation,
    wait_until_consuming,
)

pytestmark = pytest.mark.integration


async def test_redelivered_and_replayed_usage_events_charge_once(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str], redis_client: Redis
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    # With the optional Redis layer on, so forgetting a Redis key shows the inbox alone suffices.
    settings = billing_settings(schema, unique_name("billing.test")).model_copy(update={"redis_dedup": True})
    service = build_service(settings)
    account = unique_name("acc")
    first = conversation_event(account, "t1")
    replay = conversation_event(account, "t1")  # the same answer published again under a new event id
    second = conversation_event(account, "t2")
    preview = conversation_event(account, "t3", billable=False)
    offsets = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send_conversation(producer, first)
        await eventually(lambda: handled_all(engine, schema, [first.id]), "the first event")
        # Redis forgets (eviction, flush): the transactional inbox alone must drop the redelivery.
        assert await redis_client.delete(f"processed:{settings.service_name}:{CONVERSATIONS_EVENTS}:{first.id}") == 1
        for event in (first, first, replay, second, second, preview):
            await send_conversation(producer, event)
        ids = [first.id, replay.id, second.id, preview.id]
        await eventually(lambda: handled_all(engine, schema, ids), "every event handled")
        states = await credit_states(bootstrap, account, offsets, lambda s: any(x.balance == 998 for x in s))

    entries = await ledger(engine, schema, account)
    assert [(e.kind, e.cause_id, e.amount) for e in entries if e.kind == "usage"] == [
        ("usage", "thread:t1", -1),
        ("usage", "thread:t2", -1),
    ]
    assert_consistent(entries, await cached_balance(engine, schema, account))
    assert entries[-1].balance_after == 998
    assert [s.version for s in states] == list(range(1, len(states) + 1))
    assert [s.balance for s in states] == [1000, 999, 998]
    assert {s.type for s in states} == {CREDITS_STATE}
    history = states[-1].data["recent_entries"]
    assert [(h["kind"], h["cause"]) for h in history][:2] == [("usage", "thread:t2"), ("usage", "thread:t1")]


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    async with kafka_producer(bootstrap) as producer:
        return sorted(await producer.partitions_for(topic))


async def _committed_everywhere(bootstrap: str, group: str, partitions: list[int]) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    committed = {tp.partition for tp, meta in offsets.items() if tp.topic == CONVERSATIONS_EVENTS and meta.offset >= 0}
    return committed >= set(partitions)


async def test_two_instances_in_one_group_never_double_charge_across_a_rebalance(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    group = unique_name("billing.test")
    # One consumer group and one schema; distinct instance names keep their Redis dedup marks and
    # metrics apart, so only the database (inbox + unique ledger causes) stands between them.
    first = build_service(billing_settings(schema, group, "-a"))
    second = build_service(billing_settings(schema, group, "-b"))
    account = unique_name("acc")
    threads = [f"t{i}" for i in range(40)]
    # Every thread answered, then the same answer replayed under a new id, in a shuffled stream.
    stream = [conversation_event(account, t) for t in threads] + [conversation_event(account, t) for t in threads]
    random.Random(7).shuffle(stream)
    partitions = await _partitions(bootstrap, CONVERSATIONS_EVENTS)
    warm_up = [conversation_event(account, f"warm-{p}", billable=False) for p in partitions]

    async with kafka_producer(bootstrap) as producer, AsyncExitStack() as second_running:
        first_running = AsyncExitStack()
        await first_running.enter_async_context(first.kernel.lifecycle.running())
        try:
            await wait_until_consuming(first.kernel.broker)
            # Commit an offset on every partition, so the instance joining later resumes exactly there.
            for partition, event in zip(partitions, warm_up, strict=True):
                await send(producer, CONVERSATIONS_EVENTS, event, f"{account}:{event.data.thread_id}", partition)
            await eventually(lambda: handled_all(engine, schema, [e.id for e in warm_up]), "warm-up events")
            await eventually(
                lambda: _committed_everywhere(bootstrap, f"{group}.{CONVERSATIONS_EVENTS}", partitions),
                "offsets committed on every partition",
            )
            for event in stream[:30]:
                await send_conversation(producer, event)
            await second_running.enter_async_context(second.kernel.lifecycle.running())  # joins: rebalance
            for event in stream[30:55]:
                await send_conversation(producer, event)
                await asyncio.sleep(0.02)
            await wait_for_assignment(second.kernel.broker)
        finally:
            await first_running.aclose()  # leaves mid-stream: its partitions move to the second
        for event in stream[55:]:
            await send_conversation(producer, event)
        await eventually(lambda: handled_all(engine, schema, [e.id for e in stream]), "every event handled", within=60)

    entries = await ledger(engine, schema, account)
    usage = [e for e in entries if e.kind == "usage"]
    assert sorted(e.cause_id for e in usage) == sorted(f"thread:{t}" for t in threads)
    assert all(e.amount == -1 for e in usage)
    balance = await cached_balance(engine, schema, account)
    assert balance == 1000 - len(threads)
    assert_consistent(entries, balance)
    assert _handled_by(group + "-a") > 0, "the first instance consumed part of the stream"
    assert _handled_by(group + "-b") > 0, "the second instance took over partitions"


def _handled_by(service_name: str) -> float:
    value = REGISTRY.get_sample_value(
        "customer_agent_events_consumed_total",
        {"service": service_name, "topic": CONVERSATIONS_EVENTS, "outcome": "handled"},
    )
    return value or 0.0


async def test_a_batch_locks_its_accounts_once_and_charges_each_thread_once(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    settings = billing_settings(schema, unique_name("billing.test"))
    service = build_service(settings)
    metering = ConversationMetering(
        service.unit_of_work,
        policy=LedgerPolicy(default_plan=settings.default_plan()),
        clock=system_clock,
        consumer=unique_name("batch-metering"),
    )
    account, other = unique_name("acc"), unique_name("acc")

    async def run_batch(events: list[CloudEvent[ConversationEvent]]) -> list[bool]:
        async with shared_transaction(service.unit_of_work) as batch:
            await metering.prepare(events)
            handled_events = [await metering.handle(event) for event in events]
            await batch.commit()
        return handled_events

    async with service.kernel.lifecycle.running():
        first = [
            conversation_event(account, "t1"),
            conversation_event(account, "t1"),  # the same thread again: charged once
            conversation_event(account, "t2"),
            conversation_event(other, "t1"),
            conversation_event(account, "t3", billable=False),
        ]
        offsets = await credit_state_offsets(bootstrap)
        assert await run_batch(first) == [True] * 5
        assert await cached_balance(engine, schema, account) == 998
        # Opening an account and two charges: one credit state per account leaves, the latest.
        published = await _published_states(bootstrap, offsets, {account, other}, 2)
        assert published == {account: [(3, 998)], other: [(2, 999)]}
        assert await _thread_facts(engine, schema, account) == {"t1": True, "t2": True}
        # The next batch finds the accounts and threads stored: only the new thread is charged.
        offsets = await credit_state_offsets(bootstrap)
        assert await run_batch([conversation_event(account, "t1"), conversation_event(account, "t4")]) == [True] * 2
        assert await _published_states(bootstrap, offsets, {account, other}, 1) == {account: [(4, 997)]}

    entries = await ledger(engine, schema, account)
    assert [(e.cause_id, e.amount) for e in entries if e.kind == "usage"] == [
        ("thread:t1", -1),
        ("thread:t2", -1),
        ("thread:t4", -1),
    ]
    assert_consistent(entries, await cached_balance(engine, schema, account))
    assert await cached_balance(engine, schema, account) == 997
    assert await cached_balance(engine, schema, other) == 999
    assert await _thread_facts(engine, schema, account) == {"t1": True, "t2": True, "t4": True}


async def test_a_batch_redone_event_by_event_counts_its_credits_once(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    settings = billing_settings(schema, "unused")
    metering = ConversationMetering(
        billing.unit_of_work,
        policy=LedgerPolicy(default_plan=settings.default_plan()),
        clock=system_clock,
        consumer=unique_name("batch-metering"),
    )
    account = unique_name("acc")
    answered, preview = conversation_event(account, "t1"), conversation_event(account, "t2", billable=False)
    first_attempts = {preview.id}

    async def handle(event: CloudEvent[ConversationEvent]) -> bool:
        if event.id in first_attempts:
            first_attempts.discard(event.id)
            raise TransientHandlerError("PostgreSQL connection lost")  # the batch rolls back, then splits
        return await metering.handle(event)

    before = _credits_used()
    batches = billing.kernel.batch_consumer(billing.unit_of_work, settings)
    await batches.run([answered, preview], handle, inbox_consumer=metering.inbox_consumer, prepare=metering.prepare)

    assert await handled_all(engine, schema, [answered.id, preview.id])
    usage = [(e.cause_id, e.amount) for e in await ledger(engine, schema, account) if e.kind == "usage"]
    assert usage == [("thread:t1", -1)]
    assert _credits_used() - before == 1  # the charge of the batch that was rolled back is not counted


def _credits_used() -> float:
    value = REGISTRY.get_sample_value("customer_agent_billing_credits_used_total", {"pricing_rule": "per_conversation"})
    return value or 0.0


async def _thread_facts(engine: AsyncEngine, schema: str, account: str) -> dict[str, bool]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT thread_id, charged FROM "{schema}".threads WHERE account_id = :account'),
            {"account": account},
        )
        return {str(row[0]): bool(row[1]) for row in rows}


async def _published_states(
    bootstrap: str, offsets: dict[int, int], accounts: set[str], expected: int
) -> dict[str, list[tuple[int, int]]]:
    """(version, balance) of each credit state the relay published for ``accounts`` since ``offsets``.

    Read from the topic (the relay deletes a row once it is published); once ``expected`` states have
    arrived, one more second of reading would catch one too many.
    """

    def states_of(records: list[ReceivedRecord]) -> list[tuple[str, int, int]]:
        found = []
        for record in records:
            if record.key is not None and record.key.decode() in accounts:
                data = json.loads(record.value)["data"]
                found.append((str(data["account_id"]), int(data["version"]), int(data["balance"])))
        return found

    records = await collect_records(
        bootstrap,
        BILLING_CREDIT_STATE,
        until=lambda records: len(states_of(records)) >= expected,
        timeout_seconds=20.0,
        from_offsets=offsets,
    )
    records = await collect_records(
        bootstrap,
        BILLING_CREDIT_STATE,
        until=lambda records: len(states_of(records)) > expected,
        timeout_seconds=1.0,
        from_offsets=offsets,
    )
    by_account: dict[str, list[tuple[int, int]]] = {}
    for account, version, balance in states_of(records):
        by_account.setdefault(account, []).append((version, balance))
    return by_account
