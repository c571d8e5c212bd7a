"""The credit plan's resolution hours, as billing applies them, reach the agent's configuration snapshot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.billing import CREDITS_STATE, CreditPlan, CreditState
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.testing.kafka import ReceivedRecord, produce_raw
from customer_agent_shared.topics import AGENT_CONFIG, BILLING_CREDIT_STATE

from .harness import Account, Harness, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration


async def _billing_publishes(
    harness: Harness, account: Account, *, version: int, balance: int, resolution_hours: int
) -> None:
    """A state billing publishes (``credits.state``) with a plan of ``resolution_hours``."""
    state = CreditState(
        account_id=account.id,
        balance=balance,
        allotment=500,
        used_this_period=0,
        reset_at=datetime.now(UTC) + timedelta(days=20),
        exhausted=False,
        plan=CreditPlan(monthly_allotment=500, resolution_hours=resolution_hours),
        version=version,
        cause="plan_set" if version == 1 else "usage",
    )
    event = make_event(CREDITS_STATE, state, source="billing", account_id=account.id)
    await produce_raw(
        harness.settings.kafka_bootstrap_servers, BILLING_CREDIT_STATE, serialize_event(event), key=account.id.encode()
    )


async def test_a_plan_with_other_resolution_hours_publishes_a_new_snapshot_once(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    config_offsets = await topic_ends(servers, AGENT_CONFIG)
    await _billing_publishes(harness, account, version=1, balance=500, resolution_hours=24)
    await get_until(harness, account, "/credits", lambda body: body.get("balance") == 500)
    await _billing_publishes(harness, account, version=2, balance=499, resolution_hours=24)  # usage, same plan
    await get_until(harness, account, "/credits", lambda body: body.get("balance") == 499)
    # A profile change last: its snapshot follows, on the account's partition, any the states caused.
    profile = {"name": "Marker", "role": "customer_service", "personality": "friendly"}
    assert (await client.put(account.path("/agent"), json=profile, headers=account.edit)).status_code == 200

    def marker_seen(records: list[ReceivedRecord]) -> bool:
        return any(e["data"]["agent"]["name"] == "Marker" for e in events_for(records, account.id))

    records = await read_from(servers, AGENT_CONFIG, config_offsets, marker_seen)
    snapshots = [e["data"] for e in events_for(records, account.id, "agent.config.snapshot")]
    assert [(s["version"], s["resolution_hours"]) for s in snapshots] == [(2, 24), (3, 24)]  # 1 = creation
