"""Quiet per-resolution charges on real PostgreSQL: a charge that fails (its account's stored plan unreadable,
the ledger refusing the thread's entry) is skipped for the pass, even a whole batch of them, and the threads
after it are charged and long-quiet threads forgotten; an account whose stored resolution hours are no number
the query can use is left out of it; a database failing every write fails the pass."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from billing_service.bootstrap import BillingService
from billing_service.domain.pricing import ThreadFacts
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.scheduler import BillingScheduler, UnreadableAccountError
from customer_agent_shared.events.billing import CreditPlan, PricingRule
from customer_agent_shared.testing.kafka import unique_name
from prometheus_client import REGISTRY
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import refuse_ledger_inserts

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # the accounts reset on the 1st of December: none is due
PLAN = CreditPlan(monthly_allotment=100, pricing_rule=PricingRule.PER_RESOLUTION, resolution_hours=2)
POLICY = LedgerPolicy(default_plan=PLAN)
BATCH = 5
QUIET = ThreadFacts(answered=True)


def scheduler(billing: BillingService) -> BillingScheduler:
    """A scheduler charging ``BATCH`` quiet threads per query, on a clock stopped at ``NOW``."""
    return BillingScheduler(
        billing.unit_of_work, policy=POLICY, clock=lambda: NOW, interval_seconds=3600, batch_size=BATCH
    )


async def open_account(billing: BillingService, threads: dict[str, ThreadFacts]) -> str:
    """A new per-resolution account with ``threads`` (by id) as billing knows them."""
    account = unique_name("acc")
    async with billing.unit_of_work() as uow:
        await LedgerTransaction(uow, POLICY, NOW - timedelta(days=1)).lock_account(account)
        for thread, facts in threads.items():
            await uow.threads.save(account, thread, facts)
        await uow.commit()
    return account


def quiet_threads(prefix: str, count: int, *, hours: int) -> dict[str, ThreadFacts]:
    """``count`` answered threads quiet for ``hours`` (more than the plan's 2: each is a resolution to charge)."""
    facts = replace(QUIET, last_activity_at=NOW - timedelta(hours=hours))
    return {f"{prefix}-{number}": facts for number in range(count)}


async def charged_threads(engine: AsyncEngine, schema: str, accounts: list[str]) -> list[tuple[str, str]]:
    """The (account, thread) pairs the ledger of ``accounts`` holds a usage entry for."""
    async with engine.connect() as connection:
        query = (
            f'SELECT account_id, cause_id FROM "{schema}".ledger_entries '
            "WHERE kind = 'usage' AND account_id = ANY(:accounts)"
        )
        rows = await connection.execute(text(query), {"accounts": accounts})
        return sorted((row.account_id, row.cause_id.removeprefix("thread:")) for row in rows)


async def known_threads(engine: AsyncEngine, schema: str, account: str) -> set[str]:
    """The threads billing still knows of the account."""
    async with engine.connect() as connection:
        query = f'SELECT thread_id FROM "{schema}".threads WHERE account_id = :account'
        return set((await connection.execute(text(query), {"account": account})).scalars())


def counted(metric: str) -> float:
    """A counter of this process so far."""
    return REGISTRY.get_sample_value(f"customer_agent_billing_{metric}_total") or 0.0


async def test_an_account_whose_plan_does_not_validate_is_skipped_and_the_others_are_charged_and_forgotten(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str], caplog: pytest.LogCaptureFixture
) -> None:
    engine, schema = scratch_schema
    # Quiet the longest, so first in every query, and more than a batch: a plan from a newer release, say.
    unreadable_threads = quiet_threads("unread", BATCH + 2, hours=10)
    unreadable = await open_account(billing, unreadable_threads)
    async with engine.begin() as connection:
        query = f"""UPDATE "{schema}".accounts SET plan = plan || '{{"credits_per_unit": 0}}' WHERE account_id = :a"""
        await connection.execute(text(query), {"a": unreadable})
    first = await open_account(billing, quiet_threads("first", BATCH, hours=5))
    old = replace(QUIET, charged=True, last_activity_at=NOW - timedelta(days=100))  # past the 90 days kept
    second = await open_account(billing, {**quiet_threads("second", BATCH, hours=4), "long-gone": old})
    failures, passes_failed = counted("quiet_charge_failures"), counted("scheduler_pass_failures")

    with caplog.at_level(logging.ERROR, logger="billing_service.handlers.scheduler"):
        outcome = await scheduler(billing).run_pass()

    assert (outcome.changed, outcome.unfinished) == (2 * BATCH + 1, False)  # charged, then the one forgotten
    assert await charged_threads(engine, schema, [unreadable, first, second]) == sorted(
        [(first, f"first-{n}") for n in range(BATCH)] + [(second, f"second-{n}") for n in range(BATCH)]
    )
    assert "long-gone" not in await known_threads(engine, schema, second)
    assert await known_threads(engine, schema, unreadable) == set(unreadable_threads)
    # The account failed once: its other threads were not tried in the pass.
    assert counted("quiet_charge_failures") - failures == 1
    assert counted("scheduler_pass_failures") == passes_failed
    [logged] = [record for record in caplog.records if getattr(record, "account_id", None) == unreadable]
    assert getattr(logged, "thread_id", None) in unreadable_threads
    assert logged.exc_info is not None
    assert isinstance(logged.exc_info[1], UnreadableAccountError)
    assert isinstance(logged.exc_info[1].__cause__, ValidationError)


async def test_an_account_whose_stored_resolution_hours_are_no_usable_number_is_left_out_of_the_query(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    # An integer cast fails on either, and with it the query; "1" is read as the plan reads it, as 1.
    hand_edited = {"words": '"72h"', "huge": "1e400", "text": '"1"'}
    edited = {name: await open_account(billing, quiet_threads(name, 2, hours=10)) for name in hand_edited}
    async with engine.begin() as connection:
        for name, hours in hand_edited.items():
            query = (
                f"""UPDATE "{schema}".accounts SET plan = jsonb_set(plan, '{{resolution_hours}}', CAST(:h AS jsonb))"""
            )
            await connection.execute(text(query + " WHERE account_id = :a"), {"a": edited[name], "h": hours})
    account = await open_account(billing, quiet_threads("quiet", 2, hours=5))
    failures = counted("quiet_charge_failures")

    outcome = await scheduler(billing).run_pass()

    assert (outcome.changed, outcome.unfinished) == (4, False)
    assert await charged_threads(engine, schema, [account, *edited.values()]) == sorted(
        [(account, "quiet-0"), (account, "quiet-1"), (edited["text"], "text-0"), (edited["text"], "text-1")]
    )
    assert counted("quiet_charge_failures") == failures  # never tried: no thread of theirs was found quiet


async def test_a_batch_of_threads_whose_charge_fails_is_skipped_and_the_rest_of_their_account_charged(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str], caplog: pytest.LogCaptureFixture
) -> None:
    engine, schema = scratch_schema
    # A whole batch the ledger refuses (standing in for a bug or a row billing cannot write), quiet the longest.
    refused = quiet_threads("refused", BATCH, hours=10)
    account = await open_account(billing, {**refused, **quiet_threads("charged", BATCH + 1, hours=5)})
    where = "NEW.kind = 'usage' AND NEW.cause_id LIKE 'thread:refused-%'"
    await refuse_ledger_inserts(engine, schema, where=where, errcode="check_violation", message="refused")
    failures = counted("quiet_charge_failures")

    with caplog.at_level(logging.ERROR, logger="billing_service.handlers.scheduler"):
        outcome = await scheduler(billing).run_pass()

    assert (outcome.changed, outcome.unfinished) == (BATCH + 1, False)
    assert await charged_threads(engine, schema, [account]) == [(account, f"charged-{n}") for n in range(BATCH + 1)]
    assert counted("quiet_charge_failures") - failures == BATCH  # each tried once in the pass
    assert sorted(getattr(record, "thread_id", "") for record in caplog.records) == sorted(refused)


async def test_a_database_failing_every_write_fails_the_pass_at_the_first_quiet_charge(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    account = await open_account(billing, quiet_threads("quiet", 2, hours=5))
    await refuse_ledger_inserts(engine, schema)  # disk full: transient, it would fail every charge
    failures, passes_failed = counted("quiet_charge_failures"), counted("scheduler_pass_failures")

    with pytest.raises(DBAPIError, match="could not extend file"):
        await scheduler(billing).run_pass()

    assert await charged_threads(engine, schema, [account]) == []
    assert counted("scheduler_pass_failures") - passes_failed == 1
    assert counted("quiet_charge_failures") == failures
