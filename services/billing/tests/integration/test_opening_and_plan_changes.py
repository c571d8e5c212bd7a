"""admin-api's account opening gives a new account its default plan at once, and a plan change sets only the
fields it names: the others keep the account's values."""

from __future__ import annotations

import pytest
from billing_service.bootstrap import build_service
from customer_agent_shared.events.billing import CREDITS_OPEN, CREDITS_PLAN_CHANGE, CreditPlanChange
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.topics import BILLING_COMMANDS
from sqlalchemy.ext.asyncio import AsyncEngine

from .billing_harness import (
    assert_consistent,
    billing_settings,
    cached_balance,
    command,
    credit_state_offsets,
    credit_states,
    kafka_producer,
    ledger,
    send,
    wait_until_consuming,
)

pytestmark = pytest.mark.integration


async def test_a_partial_plan_keeps_the_fields_it_omits(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    bootstrap = infrastructure.kafka_bootstrap_servers
    settings = billing_settings(
        schema, unique_name("billing.test"), default_monthly_allotment=300, default_resolution_hours=24
    )
    service = build_service(settings)
    account = unique_name("acc")
    opening = command(CREDITS_OPEN, account, "open-1")
    lowered = CreditPlanChange(monthly_allotment=10, timezone="Europe/Copenhagen")
    packs = CreditPlanChange(auto_upgrade_pack_credits=50, auto_upgrade_limit=1)
    offsets = await credit_state_offsets(bootstrap)
    async with service.kernel.lifecycle.running(), kafka_producer(bootstrap) as producer:
        await wait_until_consuming(service.kernel.broker)
        await send(producer, BILLING_COMMANDS, opening, account)
        await send(producer, BILLING_COMMANDS, command(CREDITS_OPEN, account, "open-1"), account)  # a re-send
        await send(
            producer, BILLING_COMMANDS, command(CREDITS_PLAN_CHANGE, account, "p-1", plan_change=lowered), account
        )
        await send(producer, BILLING_COMMANDS, command(CREDITS_PLAN_CHANGE, account, "p-2", plan_change=packs), account)
        states = await credit_states(bootstrap, account, offsets, lambda s: len(s) >= 3)

    assert [(s.data["cause"], s.balance, s.data["allotment"]) for s in states] == [
        ("opened", 300, 300),
        ("plan", 10, 10),
        ("plan", 10, 10),
    ]
    assert states[0].data["plan"] == settings.default_plan().model_dump(mode="json")
    assert states[-1].data["plan"] == {
        **settings.default_plan().model_dump(mode="json"),
        "monthly_allotment": 10,
        "timezone": "Europe/Copenhagen",
        "auto_upgrade_pack_credits": 50,
        "auto_upgrade_limit": 1,
    }
    entries = await ledger(engine, schema, account)
    assert [(e.kind, e.amount) for e in entries] == [("allotment", 300), ("allotment", -290), ("allotment", 0)]
    assert_consistent(entries, await cached_balance(engine, schema, account))
