"""Monthly resets on real PostgreSQL: every due account is reset in one pass, batch after batch; replicas
share the due accounts (SKIP LOCKED) instead of waiting on each other's; a gauge shows those still due."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from billing_service.bootstrap import BillingService
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.scheduler import BillingScheduler
from customer_agent_shared.events.billing import CreditPlan
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import ManualClock

pytestmark = pytest.mark.integration

OPENED = datetime(2026, 11, 20, 12, tzinfo=UTC)
RESET = datetime(2026, 12, 1, tzinfo=UTC)  # the default plan resets on the 1st, UTC
POLICY = LedgerPolicy(default_plan=CreditPlan(monthly_allotment=100))
BATCH = 5


async def open_accounts(billing: BillingService, count: int) -> list[str]:
    """``count`` accounts opened on the 20th of November, due for reset on the 1st of December."""
    accounts = [unique_name("acc") for _ in range(count)]
    async with billing.unit_of_work() as uow:
        ledger = LedgerTransaction(uow, POLICY, OPENED)
        for account in accounts:
            await ledger.lock_account(account)
        await uow.commit()
    return accounts


def scheduler(billing: BillingService, clock: ManualClock, *, pass_seconds: float = 10.0) -> BillingScheduler:
    """A scheduler resetting ``BATCH`` accounts per transaction."""
    return BillingScheduler(
        billing.unit_of_work,
        policy=POLICY,
        clock=clock,
        interval_seconds=3600,
        batch_size=BATCH,
        pass_seconds=pass_seconds,
    )


async def reset_accounts(engine: AsyncEngine, schema: str) -> list[str]:
    """The accounts with a reset entry, one row per entry."""
    async with engine.connect() as connection:
        query = f'SELECT account_id FROM "{schema}".ledger_entries WHERE kind = :kind'
        rows = await connection.execute(text(query), {"kind": "reset"})
        return sorted(rows.scalars())


def due_gauge() -> float | None:
    """The accounts the last pass left due for reset."""
    return REGISTRY.get_sample_value("customer_agent_billing_accounts_due_for_reset")


async def test_one_pass_resets_every_due_account_batch_after_batch(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    accounts = await open_accounts(billing, 4 * BATCH + 3)

    assert await scheduler(billing, ManualClock(RESET + timedelta(minutes=1))).run_once() == len(accounts)

    assert await reset_accounts(engine, schema) == sorted(accounts)
    assert due_gauge() == 0


async def test_a_pass_out_of_time_leaves_the_rest_due_and_the_loop_goes_on_without_waiting(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    accounts = await open_accounts(billing, 3 * BATCH)
    clock = ManualClock(RESET + timedelta(minutes=1))

    outcome = await scheduler(billing, clock, pass_seconds=0).run_pass()  # one batch, then out of time
    assert (outcome.changed, outcome.unfinished) == (BATCH, True)
    assert due_gauge() == 2 * BATCH

    running = scheduler(billing, clock, pass_seconds=0)  # an hour between passes, unless one is unfinished
    await running.start()
    try:
        await eventually(lambda: _all_reset(engine, schema, accounts), "every account reset", within=10)
    finally:
        await running.stop()
    assert due_gauge() == 0


async def _all_reset(engine: AsyncEngine, schema: str, accounts: list[str]) -> bool:
    return await reset_accounts(engine, schema) == sorted(accounts)


async def test_a_pass_skips_accounts_another_replica_is_resetting_instead_of_waiting_for_them(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    accounts = await open_accounts(billing, 2 * BATCH)
    held = sorted(accounts)[:3]
    async with engine.connect() as other_replica, other_replica.begin():
        await other_replica.execute(
            text(f'SELECT 1 FROM "{schema}".accounts WHERE account_id = ANY(:held) FOR UPDATE'), {"held": held}
        )
        async with asyncio.timeout(20):  # without SKIP LOCKED the pass waits for the other transaction
            changed = await scheduler(billing, ManualClock(RESET + timedelta(minutes=1))).run_once()
        assert changed == len(accounts) - len(held)
        assert due_gauge() == len(held)
    assert await reset_accounts(engine, schema) == sorted(set(accounts) - set(held))
