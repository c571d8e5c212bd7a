"""Billing in-process on the real Kafka and PostgreSQL: charges once, survives a rebalance,
publishes exhaustion and restoration.

Other suites publish to the same topics at the same time: every test uses its own account
and reads only that account's records.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from billing_service.bootstrap import build_service
from billing_service.clock import system_clock
from billing_service.domain.pricing import ThreadFacts
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.metering import ConversationMetering
from billing_service.handlers.scheduler import BillingScheduler
from billing_service.settings import BillingSettings
from customer_agent_shared.events.billing import (
    CREDITS_ADJUST,
    CREDITS_EXHAUSTED,
    CREDITS_PLAN_SET,
    CREDITS_PURCHASE,
    CREDITS_RESTORED,
    CREDITS_STATE,
    BillingCommand,
    CreditPlan,
    PricingRule,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import (
    ReceivedRecord,
    client_options,
    collect_records,
    end_offsets,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_COMMANDS, BILLING_CREDIT_STATE, CONVERSATIONS_EVENTS
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

CREDIT_STATE_PARTITIONS = 3


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def billing_settings(schema: str, group: str, instance: str = "", **overrides: Any) -> BillingSettings:
    # A unique group (and service name, which keys the optional Redis dedup marks) keeps any other
    # billing process consuming the same topics (a running deployment, another test) out of the way.
    return BillingSettings(
        service_name=group + instance,
        database_schema=schema,
        consumer_group=group,
        consumer_offset_reset="latest",
        **overrides,
    )


@asynccontextmanager
async def kafka_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_options())
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def conversation_event(
    account: str,
    thread: str,
    event_type: str = CONVERSATION_ANSWERED,
    *,
    billable: bool = True,
    feedback: str | None = None,
) -> CloudEvent[ConversationEvent]:
    data = ConversationEvent(
        account_id=account,
        thread_id=thread,
        occurred_at=datetime.now(UTC),
        billable=billable,
        answer="hi",
        feedback=feedback,
    )
    return make_event(event_type, data, source="conversation-test", account_id=account)


async def send(
    producer: AIOKafkaProducer, topic: str, event: CloudEvent[Any], key: str, partition: int | None = None
) -> None:
    await producer.send_and_wait(topic, serialize_event(event), key=key.encode(), partition=partition)


async def send_conversation(producer: AIOKafkaProducer, event: CloudEvent[ConversationEvent]) -> None:
    await send(producer, CONVERSATIONS_EVENTS, event, f"{event.data.account_id}:{event.data.thread_id}")


async def wait_until_consuming(broker: object) -> None:
    """Wait for partitions and for each partition's start offset to be resolved.

    With ``auto_offset_reset='latest'`` the position is looked up after the assignment; a record
    produced before that lookup finishes would be skipped, so assignment alone is not enough.
    """
    await wait_for_assignment(broker)
    for subscriber in getattr(broker, "subscribers", []):
        consumer = subscriber.consumer
        for partition in consumer.assignment():
            await consumer.position(partition)


@dataclass(frozen=True)
class Entry:
    id: int
    kind: str
    cause_id: str
    amount: int
    balance_after: int


async def ledger(engine: AsyncEngine, schema: str, account: str) -> list[Entry]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(
                f'SELECT id, kind, cause_id, amount, balance_after FROM "{schema}".ledger_entries '
                "WHERE account_id = :account ORDER BY id"
            ),
            {"account": account},
        )
        return [Entry(*row) for row in rows]


async def cached_balance(engine: AsyncEngine, schema: str, account: str) -> int | None:
    async with engine.connect() as connection:
        value = await connection.scalar(
            text(f'SELECT balance FROM "{schema}".accounts WHERE account_id = :account'), {"account": account}
        )
        return None if value is None else int(value)


async def handled(engine: AsyncEngine, schema: str, event_ids: list[str]) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT event_id FROM "{schema}".processed_events WHERE event_id = ANY(:ids)'),
            {"ids": event_ids},
        )
        return set(rows.scalars())


@dataclass(frozen=True)
class State:
    type: str
    version: int
    balance: int
    exhausted: bool
    data: dict[str, Any]


async def credit_states(
    bootstrap: str, account: str, offsets: dict[int, int], until: Callable[[list[State]], bool], within: float = 30.0
) -> list[State]:
    """The account's credit-state records published since ``offsets``, in order, once ``until`` holds.

    Reads every partition: the account's key lives on one of them, whichever it is.
    """

    def states_of(records: list[ReceivedRecord]) -> list[State]:
        found: list[State] = []
        for record in records:
            if record.key == account.encode():
                body = json.loads(record.value)
                data = body["data"]
                found.append(State(body["type"], data["version"], data["balance"], data["exhausted"], data))
        return found

    records = await collect_records(
        bootstrap,
        BILLING_CREDIT_STATE,
        until=lambda records: until(states_of(records)),
        timeout_seconds=within,
        from_offsets=offsets,
    )
    return states_of(records)


async def credit_state_offsets(bootstrap: str) -> dict[int, int]:
    return await end_offsets(bootstrap, BILLING_CREDIT_STATE, CREDIT_STATE_PARTITIONS)


def assert_consistent(entries: list[Entry], balance: int | None) -> None:
    """The cached balance is the sum of the entries and each entry's running balance adds up."""
    running = 0
    for entry in entries:
        running += entry.amount
        assert entry.balance_after == running, f"entry {entry} breaks the running balance"
    assert balance == running
    keys = [(e.kind, e.cause_id) for e in entries]
    assert len(keys) == len(set(keys))


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
        await eventually(lambda: _handled_all(engine, schema, [first.id]), "the first event")
        # Redis forgets (eviction, flush): the transactional inbox alone must drop the redelivery.
        assert await redis_client.delete(f"processed:{settings.service_name}:{CONVERSATIONS_EVENTS}:{first.id}") == 1
        for event in (first, first, replay, second, second, preview):
            await send_conversation(producer, event)
        ids = [first.id, replay.id, second.id, preview.id]
        await eventually(lambda: _handled_all(engine, schema, ids), "every event handled")
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


async def _handled_all(engine: AsyncEngine, schema: str, ids: list[str]) -> bool:
    return await handled(engine, schema, ids) == set(ids)


async def test_exhaustion_then_purchase_and_reset_restore(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    clock = ManualClock(datetime(2026, 11, 20, 12, tzinfo=UTC))
    settings = billing_settings(
        schema, unique_name("billing.test"), default_monthly_allotment=2, scheduler_interval_seconds=0.2
    )
    service = build_service(settings, clock=clock)
    account = unique_name("acc")
    offsets = await credit_state_offsets(bootstrap)

    def purchase(command_id: str, credits: int) -> CloudEvent[BillingCommand]:
        command = BillingCommand(account_id=account, command_id=command_id, credits=credits)
        return make_event(CREDITS_PURCHASE, command, source="admin-api-test", account_id=account)

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
        await send(producer, BILLING_COMMANDS, purchase("p-1", 1), account)
        await send(producer, BILLING_COMMANDS, purchase("p-1", 1), account)
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
            await eventually(lambda: _handled_all(engine, schema, [e.id for e in warm_up]), "warm-up events")
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
        await eventually(lambda: _handled_all(engine, schema, [e.id for e in stream]), "every event handled", within=60)

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


async def test_per_resolution_charges_resolved_and_quiet_threads_only(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    # The conversation events happen now (real time), and the clock then passes their quiet period; the
    # plan resets two weeks away from today, so no reset falls in between whatever the date of the run.
    started = datetime.now(UTC)
    clock = ManualClock(started)
    service = build_service(
        billing_settings(schema, unique_name("billing.test"), scheduler_interval_seconds=0.2), clock=clock
    )
    account = unique_name("acc")
    plan = CreditPlan(
        pricing_rule=PricingRule.PER_RESOLUTION,
        resolution_hours=2,
        credits_per_unit=3,
        reset_day=(started.day + 13) % 28 + 1,
    )
    plan_set = make_event(
        CREDITS_PLAN_SET,
        BillingCommand(account_id=account, command_id="plan-1", plan=plan),
        source="admin-api-test",
        account_id=account,
    )
    bad_purchase = make_event(
        CREDITS_PURCHASE,
        BillingCommand(account_id=account, command_id="bad-1", credits=0),
        source="admin-api-test",
        account_id=account,
    )
    goodwill = make_event(
        CREDITS_ADJUST,
        BillingCommand(account_id=account, command_id="adj-1", credits=5, note="goodwill"),
        source="admin-api-test",
        account_id=account,
    )
    dlq_offsets = await end_offsets(bootstrap, BILLING_COMMANDS + ".dlq", 1)
    state_offsets = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send(producer, BILLING_COMMANDS, plan_set, account)
        await send(producer, BILLING_COMMANDS, bad_purchase, account)
        await send(producer, BILLING_COMMANDS, goodwill, account)
        await eventually(lambda: _handled_all(engine, schema, [plan_set.id, goodwill.id]), "the commands")
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
        await eventually(lambda: _handled_all(engine, schema, [e.id for e in stream]), "the conversation")
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


async def _thread_facts(engine: AsyncEngine, schema: str, account: str) -> dict[str, bool]:
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT thread_id, charged FROM "{schema}".threads WHERE account_id = :account'),
            {"account": account},
        )
        return {str(row[0]): bool(row[1]) for row in rows}


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
