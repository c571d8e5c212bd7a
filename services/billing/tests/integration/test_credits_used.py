"""The credits used each published credit state carries, read from the ledger over real Kafka and PostgreSQL: a
charge by a billing of the previous release and a ledger row fixed by hand are in the next state, a refund early in a
period of the previous period's charge lowers that period, so a state's period use is the sum of its days, a
transaction reading them again (a batch) gets what reading the ledger whole would, and a reset later in a batch
expires the allotment its earlier charges left."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaProducer
from billing_service.bootstrap import BillingService
from billing_service.domain.periods import period_containing
from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.metering import ConversationMetering
from customer_agent_shared.events.billing import CREDITS_PURCHASE, CreditPlan, CreditState
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED, CONVERSATION_RESOLVED
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_COMMANDS
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    ManualClock,
    PerResolutionBilling,
    State,
    command,
    conversation_event,
    credit_state_offsets,
    credit_states,
    handed_off,
    has_entry,
    kafka_producer,
    ledger,
    per_resolution_billing,
    per_resolution_plan,
    plan_is_per_resolution,
    send,
    send_conversation,
    staged_credit_states,
    wait_until_consuming,
)

pytestmark = pytest.mark.integration


async def test_a_charge_by_the_previous_release_and_a_row_fixed_by_hand_are_in_the_next_state(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    billing = per_resolution_billing(schema)
    account, now = billing.account, billing.clock.now
    yesterday = now - timedelta(days=1)  # in the period: the plan reset about two weeks ago
    states_from = await credit_state_offsets(bootstrap)
    async with _on_the_plan(billing, engine, schema, bootstrap) as producer:
        await _resolved(producer, engine, schema, account, "first", now)
        async with engine.begin() as connection:
            # A billing of the previous release charges a thread: the ledger and the account's counters.
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}".ledger_entries (account_id, kind, cause_id, amount, balance_after,'
                    " recorded_at) VALUES (:a, 'usage', 'thread:older-billing', -3, 0, :at)"
                ),
                {"a": account, "at": yesterday},
            )
            await connection.execute(
                text(
                    f'UPDATE "{schema}".accounts SET balance = balance - 3, used_this_period = used_this_period + 3,'
                    " version = version + 1 WHERE account_id = :a"
                ),
                {"a": account},
            )
            # An operator corrects the first charge by hand (the runbook fixes rows): 1 credit, not 3.
            await connection.execute(
                text(
                    f'UPDATE "{schema}".ledger_entries SET amount = -1 WHERE account_id = :a'
                    " AND kind = 'usage' AND cause_id = 'thread:first'"
                ),
                {"a": account},
            )
        await _resolved(producer, engine, schema, account, "second", now)

    state = await _last_state(engine, schema, bootstrap, account, states_from)
    days = state.data["usage_by_day"]
    assert (days.get(yesterday.date().isoformat()), days.get(now.date().isoformat())) == (3, 1 + 3)
    assert state.data["used_this_period"] == sum(days.values()) == 7


async def test_a_refund_early_in_a_period_of_the_last_periods_charge_leaves_this_periods_use_its_days_sum(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    billing = per_resolution_billing(schema)
    clock, account = billing.clock, billing.account
    plan = per_resolution_plan(clock.now)
    reset_at = period_containing(clock.now, plan.reset_day, plan.timezone).end
    before, after = reset_at - timedelta(hours=1), reset_at + timedelta(hours=1)
    clock.now = before
    states_from = await credit_state_offsets(bootstrap)
    async with _on_the_plan(billing, engine, schema, bootstrap) as producer:
        await _resolved(producer, engine, schema, account, "last-period", before)
        clock.now = after
        await eventually(lambda: _has_reset(engine, schema, account), "the reset")
        # Routing's handoff of that thread, made before the resolution and heard only now: the charge is refunded.
        await send_conversation(producer, handed_off(account, "last-period", before - timedelta(seconds=30)))
        await eventually(lambda: has_entry(engine, schema, account, "refund", "thread:last-period"), "the refund")
        await _resolved(producer, engine, schema, account, "this-period", after)

    state = await _last_state(engine, schema, bootstrap, account, states_from)
    days = state.data["usage_by_day"]
    assert state.data["period_start"].startswith(reset_at.date().isoformat())
    assert (days[before.date().isoformat()], days[reset_at.date().isoformat()]) == (0, 3)
    period_days = [credits for day, credits in days.items() if day >= reset_at.date().isoformat()]
    assert state.data["used_this_period"] == sum(period_days) == 3


async def test_the_credits_used_read_again_in_one_transaction_are_those_of_the_whole_ledger(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    account, now = unique_name("acc"), datetime.now(UTC)
    async with billing.unit_of_work() as uow:
        ledger = LedgerTransaction(uow, LedgerPolicy(default_plan=per_resolution_plan(now)), now)
        opened = await ledger.lock_account(account)
        first, _ = await ledger.charge_thread(opened, "first")
        with suppress(LookupError):
            async with ledger.savepoint():
                await ledger.charge_thread(first, "undone")
                raise LookupError("the savepoint rolls back")
        second, _ = await ledger.charge_thread(first, "second")
        refunded = await ledger.refund_thread(second, "first")
        await uow.commit()
    async with billing.unit_of_work() as uow:
        whole = await uow.ledger.credits_used(account, period_start=refunded.period_start, now=now)
    published = await _last_staged(engine, schema, account)

    assert (first.used_this_period, second.used_this_period, refunded.used_this_period) == (3, 6, 3)
    assert (published.version, published.used_this_period) == (refunded.version, refunded.used_this_period)
    assert (published.used_this_period, published.usage_by_day) == (whole.this_period, whole.by_day)
    assert published.usage_by_day[now.date()] == 3


async def test_a_reset_later_in_a_batch_expires_only_the_allotment_its_earlier_charges_left(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    reset_at = datetime(2026, 12, 1, tzinfo=UTC)  # the plan resets on the 1st, UTC
    clock, account = ManualClock(reset_at - timedelta(days=2)), unique_name("acc")
    policy = LedgerPolicy(default_plan=CreditPlan(monthly_allotment=10))  # 1 credit per conversation
    commands = CreditCommands(billing.unit_of_work, policy=policy, clock=clock, consumer=unique_name("commands"))
    metering = ConversationMetering(billing.unit_of_work, policy=policy, clock=clock, consumer=unique_name("metering"))
    # 10 allotted and 20 bought: the reset's expiry is bounded by the allotment left, not by the balance.
    await commands.handle(command(CREDITS_PURCHASE, account, "pack", credits=20))
    before_reset = [conversation_event(account, f"before-{n}") for n in range(3)]
    after_reset = conversation_event(account, "after")

    async with shared_transaction(billing.unit_of_work) as batch:
        await metering.prepare([*before_reset, after_reset])
        for event in before_reset:
            await metering.handle(event)
        clock.now = reset_at + timedelta(minutes=1)  # the batch runs past the reset: its last event finds it due
        await metering.handle(after_reset)
        await batch.commit()
    async with billing.unit_of_work() as uow:
        stored = await uow.accounts.lock(account)
        assert stored is not None
        whole = await uow.ledger.credits_used(account, period_start=stored.period_start, now=clock.now)
    published = await _last_staged(engine, schema, account)

    # 3 of the 10 used: the 7 left expire (had the reset seen fewer used, more would have), the next 10 come in.
    [reset] = [entry for entry in await ledger(engine, schema, account) if entry.kind == "reset"]
    assert (reset.amount, reset.balance_after, stored.balance) == (10 - 7, 27 - 7 + 10, 30 - 1)
    assert (published.version, published.used_this_period) == (stored.version, stored.used_this_period)
    assert (published.used_this_period, published.usage_by_day) == (whole.this_period, whole.by_day)
    assert whole.this_period == 1
    assert (whole.by_day[(reset_at - timedelta(days=2)).date()], whole.by_day[reset_at.date()]) == (3, 1)


@asynccontextmanager
async def _on_the_plan(
    billing: PerResolutionBilling, engine: AsyncEngine, schema: str, bootstrap: str
) -> AsyncIterator[AIOKafkaProducer]:
    """The billing running, consuming, with its account on the per-resolution plan; a producer to send it events."""
    async with billing.service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(billing.service.kernel.broker)
        await send(producer, BILLING_COMMANDS, billing.plan_set, billing.account)
        await eventually(lambda: plan_is_per_resolution(engine, schema, billing.account), "the plan")
        yield producer


async def _resolved(
    producer: AIOKafkaProducer, engine: AsyncEngine, schema: str, account: str, thread: str, at: datetime
) -> None:
    """The agent answers the thread a minute before ``at`` and conversation resolves it at ``at``; once charged."""
    await send_conversation(
        producer, conversation_event(account, thread, CONVERSATION_ANSWERED, at - timedelta(minutes=1))
    )
    await send_conversation(producer, conversation_event(account, thread, CONVERSATION_RESOLVED, at))
    await eventually(lambda: has_entry(engine, schema, account, "usage", f"thread:{thread}"), f"{thread} charged")


async def _last_staged(engine: AsyncEngine, schema: str, account: str) -> CreditState:
    """The account's latest credit state in the outbox of a billing not started."""
    [*_, last] = await staged_credit_states(engine, schema, account)
    return CreditState.model_validate(last.data)


async def _has_reset(engine: AsyncEngine, schema: str, account: str) -> bool:
    async with engine.connect() as connection:
        kinds = await connection.scalars(
            text(f'SELECT kind FROM "{schema}".ledger_entries WHERE account_id = :a'), {"a": account}
        )
        return "reset" in set(kinds)


async def _last_state(engine: AsyncEngine, schema: str, bootstrap: str, account: str, offsets: dict[int, int]) -> State:
    """The state this billing published last for the account (the stack's own billing, if running, hears the same
    events and publishes states of its own, of other versions or periods)."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(f'SELECT version, period_start FROM "{schema}".accounts WHERE account_id = :a'), {"a": account}
            )
        ).one()
    version: int = row.version
    period_start: datetime = row.period_start

    def ours(state: State) -> bool:
        return state.version == version and datetime.fromisoformat(state.data["period_start"]) == period_start

    states: list[State] = await credit_states(bootstrap, account, offsets, lambda found: any(map(ours, found)))
    return [state for state in states if ours(state)][-1]
