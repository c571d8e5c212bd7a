"""Monthly resets on real PostgreSQL: every due account is reset in one pass, batch after batch; replicas
share the due accounts (SKIP LOCKED) instead of waiting on each other's; an account whose reset fails (its
stored plan unreadable, say) is skipped without holding back the others, and nothing it did, even a write a
batch defers to its commit, is kept; a database failing every write fails the pass; a gauge shows those still
due."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from billing_service.bootstrap import BillingService
from billing_service.domain.ledger import period_cause
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.scheduler import BillingScheduler
from customer_agent_shared.events.billing import CreditPlan
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import ManualClock, refuse_ledger_inserts

pytestmark = pytest.mark.integration

OPENED = datetime(2026, 11, 20, 12, tzinfo=UTC)
RESET = datetime(2026, 12, 1, tzinfo=UTC)  # the default plan resets on the 1st, UTC
POLICY = LedgerPolicy(default_plan=CreditPlan(monthly_allotment=100))
BATCH = 5


async def open_accounts(billing: BillingService, count: int, *, opened: datetime = OPENED) -> list[str]:
    """``count`` accounts opened at ``opened`` (by default the 20th of November, due on the 1st of December)."""
    accounts = [unique_name("acc") for _ in range(count)]
    async with billing.unit_of_work() as uow:
        ledger = LedgerTransaction(uow, POLICY, opened)
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


def counted_resets() -> float:
    """Resets committed in this process so far."""
    return REGISTRY.get_sample_value("customer_agent_billing_resets_total") or 0.0


def reset_failures() -> float:
    """Resets that failed in this process so far."""
    return REGISTRY.get_sample_value("customer_agent_billing_reset_failures_total") or 0.0


def pass_failures() -> float:
    """Scheduler passes that failed in this process so far."""
    return REGISTRY.get_sample_value("customer_agent_billing_scheduler_pass_failures_total") or 0.0


async def record_reset_already(engine: AsyncEngine, schema: str, accounts: list[str], period_start: datetime) -> None:
    """Give ``accounts`` the ledger entry of the reset opening ``period_start`` while their rows stay due, as
    after the accounts table was restored from a backup older than the ledger: the reset's own entry then
    breaks the ledger's unique cause, so the reset fails every time."""
    async with engine.begin() as connection:
        for account in accounts:
            await connection.execute(
                text(
                    f'INSERT INTO "{schema}".ledger_entries (account_id, kind, cause_id, amount, balance_after, '
                    "recorded_at) VALUES (:account, 'reset', :cause, 0, 100, :at)"
                ),
                {"account": account, "cause": period_cause(period_start), "at": period_start},
            )


async def outbox_events(engine: AsyncEngine, schema: str, accounts: list[str]) -> int:
    """How many events the outbox holds for ``accounts``."""
    async with engine.connect() as connection:
        query = f'SELECT count(*) FROM "{schema}".outbox WHERE message_key = ANY(:accounts)'
        return int(await connection.scalar(text(query), {"accounts": accounts}) or 0)


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
    await running.periodic.start()
    try:
        await eventually(lambda: _all_reset(engine, schema, accounts), "every account reset", within=10)
    finally:
        await running.periodic.stop()
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


async def test_accounts_whose_reset_fails_are_skipped_for_the_pass_and_the_others_are_reset(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str], caplog: pytest.LogCaptureFixture
) -> None:
    engine, schema = scratch_schema
    # A whole batch of broken accounts, due first (since the 1st of November): they come back first every time.
    broken = await open_accounts(billing, BATCH, opened=OPENED - timedelta(days=31))
    await record_reset_already(engine, schema, broken, RESET)
    healthy = await open_accounts(billing, 2 * BATCH + 2)
    failures, broken_events = reset_failures(), await outbox_events(engine, schema, broken)

    with caplog.at_level(logging.ERROR, logger="billing_service.handlers.scheduler"):
        outcome = await scheduler(billing, ManualClock(RESET + timedelta(minutes=1))).run_pass()

    assert (outcome.changed, outcome.unfinished) == (len(healthy), False)
    assert await reset_accounts(engine, schema) == sorted(broken + healthy)  # the broken ones: only the entry given
    assert due_gauge() == len(broken)
    assert reset_failures() - failures == len(broken)  # each tried once in the pass, not again and again
    assert sorted(getattr(record, "account_id", "") for record in caplog.records) == sorted(broken)
    assert await outbox_events(engine, schema, broken) == broken_events  # no state of a reset rolled back


async def test_an_account_whose_stored_plan_does_not_validate_is_skipped_and_the_others_are_reset(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str], caplog: pytest.LogCaptureFixture
) -> None:
    engine, schema = scratch_schema
    # Due first, so in the first batch with others: a plan from a newer version, say, that this one cannot read.
    unreadable = await open_accounts(billing, 1, opened=OPENED - timedelta(days=31))
    async with engine.begin() as connection:
        query = f'UPDATE "{schema}".accounts SET plan = :plan WHERE account_id = :account'
        await connection.execute(text(query), {"plan": '{"pricing_rule": "per_minute"}', "account": unreadable[0]})
    others = await open_accounts(billing, 2 * BATCH)
    failures, passes_failed = reset_failures(), pass_failures()

    with caplog.at_level(logging.ERROR, logger="billing_service.handlers.scheduler"):
        outcome = await scheduler(billing, ManualClock(RESET + timedelta(minutes=1))).run_pass()

    assert (outcome.changed, outcome.unfinished) == (len(others), False)
    assert await reset_accounts(engine, schema) == sorted(others)
    assert due_gauge() == 1
    assert reset_failures() - failures == 1
    assert pass_failures() == passes_failed
    logged = [record for record in caplog.records if getattr(record, "account_id", None) == unreadable[0]]
    assert [record.exc_info[0] for record in logged if record.exc_info] == [ValidationError]


async def test_a_pass_failing_before_its_end_is_counted_and_still_shows_the_accounts_left_due(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    accounts = await open_accounts(billing, 3)
    await scheduler(billing, ManualClock(RESET - timedelta(minutes=1))).run_pass()
    assert due_gauge() == 0  # the last pass before midnight
    # A database failing every write fails every pass at its first batch, not one account after another.
    await refuse_ledger_inserts(engine, schema)
    failures, resets_failed = pass_failures(), reset_failures()

    with pytest.raises(DBAPIError, match="could not extend file"):
        await scheduler(billing, ManualClock(RESET + timedelta(minutes=1))).run_pass()

    assert await reset_accounts(engine, schema) == []
    assert due_gauge() == len(accounts)  # not the 0 of before midnight: CreditResetsBehind can fire
    assert pass_failures() - failures == 1
    assert reset_failures() == resets_failed


async def test_a_reset_undone_by_its_savepoint_leaves_no_entry_state_event_count_or_kept_row(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    undone, kept = await open_accounts(billing, 2)
    events, resets = await outbox_events(engine, schema, [undone]), counted_resets()

    async with billing.unit_of_work() as uow:
        ledger = LedgerTransaction(uow, POLICY, RESET + timedelta(minutes=1))
        await uow.accounts.lock_due_for_reset(RESET, 10)
        with pytest.raises(RuntimeError, match="after the reset"):
            await reset_then_fail(ledger, undone)
        assert ledger.applied == []
        still_due = await uow.accounts.lock(undone)
        assert still_due is not None
        assert still_due.reset_at == RESET  # the row as kept before the savepoint
        await ledger.lock_account(kept)
        await uow.commit()

    assert await reset_accounts(engine, schema) == [kept]
    assert await outbox_events(engine, schema, [undone]) == events
    assert counted_resets() - resets == 1


async def test_a_savepoint_undone_in_a_batch_leaves_no_deferred_write_for_the_batch_commit(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    undone, kept = await open_accounts(billing, 2)

    async with shared_transaction(billing.unit_of_work) as batch:
        async with billing.unit_of_work() as uow:  # joined: its account writes wait for the batch's commit
            ledger = LedgerTransaction(uow, POLICY, RESET + timedelta(minutes=1))
            with pytest.raises(RuntimeError, match="after the reset"):
                await reset_then_fail(ledger, undone)
            await ledger.lock_account(kept)
            await uow.commit()
        await batch.commit()

    assert await reset_accounts(engine, schema) == [kept]
    # Without its ledger entry the account's reset state must not be saved either.
    assert await stored_reset_at(engine, schema, [undone, kept]) == {
        undone: RESET,
        kept: datetime(2027, 1, 1, tzinfo=UTC),
    }


async def stored_reset_at(engine: AsyncEngine, schema: str, accounts: list[str]) -> dict[str, datetime]:
    """Each account's reset date as stored in its row."""
    async with engine.connect() as connection:
        query = f'SELECT account_id, reset_at FROM "{schema}".accounts WHERE account_id = ANY(:accounts)'
        return {row.account_id: row.reset_at for row in await connection.execute(text(query), {"accounts": accounts})}


async def reset_then_fail(ledger: LedgerTransaction, account_id: str) -> None:
    """Reset the account in a savepoint (its entry written, its state staged, its count pending), then fail."""
    async with ledger.savepoint():
        await ledger.lock_account(account_id)
        raise RuntimeError("after the reset")
