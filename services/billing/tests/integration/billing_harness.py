"""What the billing integration tests share: an in-process billing on real Kafka and PostgreSQL, the
events and commands other services send it, and readers of its ledger and published credit states.

Other suites publish to the same topics at the same time: every test uses its own account
and reads only that account's records.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from billing_service.bootstrap import MIGRATIONS_DIR, BillingService, build_service
from billing_service.settings import BillingSettings
from customer_agent_shared.events.billing import CREDITS_PLAN_SET, BillingCommand, CreditPlan, PricingRule
from customer_agent_shared.events.channels import Assignee, HandoffReason
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED, CONVERSATION_HANDED_OFF, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.events.inbox import InboxEventData
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.testing.kafka import (
    ReceivedRecord,
    client_options,
    collect_records,
    end_offsets,
    unique_name,
    wait_for_assignment,
)
from customer_agent_shared.topics import BILLING_CREDIT_STATE, CONVERSATIONS_EVENTS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

CREDIT_STATE_PARTITIONS = 3


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def reset_day_away_from(today: datetime) -> int:
    """A plan's reset day two weeks from ``today``: no reset falls inside a test, whatever the date of the run."""
    return (today.day + 13) % 28 + 1


def billing_settings(schema: str, group: str, instance: str = "", **overrides: Any) -> BillingSettings:
    """Settings of one in-process billing on ``schema``, consuming only what is produced from now on.

    Its default plan resets two weeks from today (``reset_day_away_from``): on the 1st, the default, a test on
    the wall clock run across midnight of a month's last day would see its accounts reset between two charges.
    """
    overrides.setdefault("default_reset_day", reset_day_away_from(datetime.now(UTC)))
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
async def built_billing(database_url: str, schema: str, **overrides: Any) -> AsyncIterator[BillingService]:
    """A billing process over a freshly migrated ``schema``, built but not started: no consumer runs, so
    only what the test calls changes the schema (and the process's metrics)."""
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS_DIR, database_url, schema)
    service = build_service(billing_settings(schema, unique_name("billing.test"), **overrides))
    try:
        yield service
    finally:
        await service.kernel.engine.dispose()


@asynccontextmanager
async def kafka_producer(bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    """A producer that waits for every in-sync replica."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **client_options())
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def conversation_event(
    account: str, thread: str, event_type: str = CONVERSATION_ANSWERED, at: datetime | None = None, **fields: Any
) -> CloudEvent[ConversationEvent]:
    """A conversation event as conversation (answered, resolved, ...) or routing (handed_off) publishes it, happening
    ``at`` (else now); an answer says "hi" unless ``fields`` give one."""
    if event_type == CONVERSATION_ANSWERED:
        fields.setdefault("answer", "hi")
    data = ConversationEvent(account_id=account, thread_id=thread, occurred_at=at or datetime.now(UTC), **fields)
    source = "routing" if event_type == CONVERSATION_HANDED_OFF else "conversation"
    return make_event(event_type, data, source=source, account_id=account)


def handed_off(account: str, thread: str, at: datetime) -> CloudEvent[ConversationEvent]:
    """Routing's handoff of a thread to a person (a trigger word)."""
    return conversation_event(
        account,
        thread,
        CONVERSATION_HANDED_OFF,
        at,
        reason=HandoffReason.TRIGGER,
        assignee=Assignee(kind="user", id="ada"),
    )


def from_inbox(
    event_type: str, data: InboxEventData, envelope_account: str | None = None, at: datetime | None = None
) -> CloudEvent[Any]:
    """An inbox event as the help desk publishes it (happening ``at``, else now)."""
    return make_event(event_type, data, source="inbox", account_id=envelope_account or data.account_id, time=at)


def command(kind: str, account: str, command_id: str, **fields: Any) -> CloudEvent[BillingCommand]:
    """A billing command as admin-api sends it."""
    data = BillingCommand(account_id=account, command_id=command_id, **fields)
    return make_event(kind, data, source="admin-api-test", account_id=account)


def per_resolution_plan(today: datetime) -> CreditPlan:
    """3 credits per resolved thread (2 quiet hours resolve one); the plan resets two weeks from ``today``."""
    return CreditPlan(
        pricing_rule=PricingRule.PER_RESOLUTION,
        resolution_hours=2,
        credits_per_unit=3,
        reset_day=reset_day_away_from(today),
    )


@dataclass(frozen=True)
class PerResolutionBilling:
    """A billing on a clock the test moves, and an account with the command that puts it on a
    per-resolution plan (``per_resolution_plan``) ready to send."""

    service: BillingService
    clock: ManualClock
    account: str
    plan_set: CloudEvent[BillingCommand]


def per_resolution_billing(schema: str) -> PerResolutionBilling:
    """A billing whose clock starts now and whose scheduler runs every 0.2 s, and a new account for it."""
    now = datetime.now(UTC)
    clock = ManualClock(now)
    service = build_service(
        billing_settings(schema, unique_name("billing.test"), scheduler_interval_seconds=0.2), clock=clock
    )
    account = unique_name("acc")
    plan_set = command(CREDITS_PLAN_SET, account, "plan-1", plan=per_resolution_plan(now))
    return PerResolutionBilling(service, clock, account, plan_set)


async def send(
    producer: AIOKafkaProducer, topic: str, event: CloudEvent[Any], key: str, partition: int | None = None
) -> None:
    """Produce ``event`` under ``key`` (to ``partition`` if given)."""
    await producer.send_and_wait(topic, serialize_event(event), key=key.encode(), partition=partition)


async def send_conversation(producer: AIOKafkaProducer, event: CloudEvent[ConversationEvent]) -> None:
    """Produce a conversation event under its thread's key."""
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
    """One ledger entry."""

    id: int
    kind: str
    cause_id: str
    amount: int
    balance_after: int


async def ledger(engine: AsyncEngine, schema: str, account: str) -> list[Entry]:
    """The account's ledger entries, oldest first."""
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
    """The account's stored balance (None before it has an account row)."""
    async with engine.connect() as connection:
        value = await connection.scalar(
            text(f'SELECT balance FROM "{schema}".accounts WHERE account_id = :account'), {"account": account}
        )
        return None if value is None else int(value)


async def handled(engine: AsyncEngine, schema: str, event_ids: list[str]) -> set[str]:
    """Which of these events billing has handled (claimed in its inbox)."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT event_id FROM "{schema}".processed_events WHERE event_id = ANY(:ids)'),
            {"ids": event_ids},
        )
        return set(rows.scalars())


async def handled_all(engine: AsyncEngine, schema: str, ids: list[str]) -> bool:
    """Whether billing has handled every one of these events."""
    return await handled(engine, schema, ids) == set(ids)


async def has_entry(engine: AsyncEngine, schema: str, account: str, kind: str, cause: str) -> bool:
    """Whether the account's ledger holds an entry of this kind and cause."""
    return any(e.kind == kind and e.cause_id == cause for e in await ledger(engine, schema, account))


async def plan_is_per_resolution(engine: AsyncEngine, schema: str, account: str) -> bool:
    """Whether billing has put the account on a per-resolution plan."""
    async with engine.connect() as connection:
        rule = await connection.scalar(
            text(f"""SELECT plan->>'pricing_rule' FROM "{schema}".accounts WHERE account_id = :a"""), {"a": account}
        )
    return bool(rule == PricingRule.PER_RESOLUTION.value)


@dataclass(frozen=True)
class State:
    """One published credit state of an account."""

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
        return [_state(record.value) for record in records if record.key == account.encode()]

    records = await collect_records(
        bootstrap,
        BILLING_CREDIT_STATE,
        until=lambda records: until(states_of(records)),
        timeout_seconds=within,
        from_offsets=offsets,
    )
    return states_of(records)


async def staged_credit_states(engine: AsyncEngine, schema: str, account: str) -> list[State]:
    """The account's credit states billing staged in its outbox, in order (a billing not started sends none)."""
    async with engine.connect() as connection:
        payloads = await connection.scalars(
            text(f'SELECT payload FROM "{schema}".outbox WHERE topic = :topic AND message_key = :a ORDER BY id'),
            {"topic": BILLING_CREDIT_STATE, "a": account},
        )
        return [_state(payload) for payload in payloads]


def _state(payload: bytes) -> State:
    body = json.loads(payload)
    data = body["data"]
    return State(body["type"], data["version"], data["balance"], data["exhausted"], data)


async def credit_state_offsets(bootstrap: str) -> dict[int, int]:
    """Where the credit-state topic ends now (read from there)."""
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


async def refuse_ledger_inserts(
    engine: AsyncEngine,
    schema: str,
    *,
    where: str = "true",
    errcode: str = "disk_full",
    message: str = "could not extend file",
) -> None:
    """Make each ledger insert whose row (``NEW``) meets ``where`` fail with ``errcode``: by default as on a
    database that cannot write (its disk full), a transient error."""
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f'CREATE FUNCTION "{schema}".refuse_ledger_insert() RETURNS trigger LANGUAGE plpgsql AS '
                f"$$ BEGIN IF {where} THEN RAISE EXCEPTION '{message}' USING ERRCODE = '{errcode}'; END IF; "
                "RETURN NEW; END $$"
            )
        )
        await connection.execute(
            text(
                f'CREATE TRIGGER refuse_ledger_insert BEFORE INSERT ON "{schema}".ledger_entries '
                f'FOR EACH ROW EXECUTE FUNCTION "{schema}".refuse_ledger_insert()'
            )
        )
