"""Billing's retention on real PostgreSQL: applied command ids go after the retention, and a command repeated
after that is still refused by its ledger entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from billing_service.bootstrap import BillingService
from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.retention import retentions
from customer_agent_shared.events.billing import CREDITS_PURCHASE
from customer_agent_shared.persistence.retention import RetentionSweep
from customer_agent_shared.testing.kafka import unique_name
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import billing_settings, cached_balance, command, ledger

pytestmark = pytest.mark.integration


async def test_command_ids_are_forgotten_after_the_retention_and_a_late_repeat_changes_nothing(
    billing: BillingService, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    settings = billing_settings(schema, "unused")
    policy = LedgerPolicy(default_plan=settings.default_plan(), history_entries=settings.history_entries)
    commands = CreditCommands(billing.unit_of_work, policy=policy, clock=lambda: datetime.now(UTC), consumer="c")
    account = unique_name("acc")
    assert await commands.handle(command(CREDITS_PURCHASE, account, "purchase-1", credits=100))
    balance = await cached_balance(engine, schema, account)
    sweep = RetentionSweep(
        "billing-test", billing.unit_of_work, retentions(command_days=14), schema=schema, interval_seconds=0
    )
    now = datetime.now(UTC)

    assert await sweep.run_once(now + timedelta(days=13)) == {"applied_commands": 0}
    # Within the retention a repeat (re-sent under a new event id) stops at the command id.
    assert not await commands.handle(command(CREDITS_PURCHASE, account, "purchase-1", credits=100))

    assert await sweep.run_once(now + timedelta(days=15)) == {"applied_commands": 1}
    # After it the repeat is claimed anew but refused by its ledger entry: not applied, nothing changes.
    assert not await commands.handle(command(CREDITS_PURCHASE, account, "purchase-1", credits=100))
    assert await cached_balance(engine, schema, account) == balance
    assert [entry.cause_id for entry in await ledger(engine, schema, account)].count("command:purchase-1") == 1
