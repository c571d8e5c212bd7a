"""Routing runs in-process on the real stack: consumes a real inbound event exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import produce_raw, unique_name, wait_for_assignment
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CHANNELS_INBOUND
from routing_service.adapters.orm import inbox_table, threads_table, transitions_table
from routing_service.bootstrap import build_service
from routing_service.settings import RoutingSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def test_inbound_event_is_recorded_once(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    _, schema = scratch_schema
    settings = RoutingSettings(
        service_name=unique_name("routing-test"),
        database_schema=schema,
        consumer_group=unique_name("routing.test"),
        consumer_offset_reset="latest",
    )
    service = build_service(settings)
    account = unique_name("acc")
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id="t1",
        message_id="m1",
        sender=Sender(id="v1"),
        text="hello",
        sent_at=datetime.now(UTC),
    )
    event = make_event("message.received", message, source="test", account_id=account)
    claimed = select(inbox_table.c.event_id).where(inbox_table.c.event_id == event.id)

    async def handled() -> bool:
        async with service.kernel.session_factory() as session:
            return bool((await session.execute(claimed)).all())

    async with service.kernel.lifecycle.running():
        await wait_for_assignment(service.kernel.broker)  # also resolves the 'latest' positions
        for _ in range(2):  # the same event twice
            await produce_raw(
                infrastructure.kafka_bootstrap_servers,
                CHANNELS_INBOUND,
                serialize_event(event),
                key=f"{account}:t1".encode(),
            )
        await eventually(handled, "routing handled the inbound event")
        await asyncio.sleep(0.5)  # waits for what must not happen: the duplicate handled a second time
        async with service.kernel.session_factory() as session:
            inbox = (await session.execute(claimed)).all()
            thread = (await session.execute(select(threads_table).where(threads_table.c.account_id == account))).one()
            steps = (
                await session.execute(
                    select(transitions_table.c.from_state, transitions_table.c.to_state, transitions_table.c.reason)
                    .where(transitions_table.c.account_id == account)
                    .order_by(transitions_table.c.id)
                )
            ).all()
    assert len(inbox) == 1
    # No configuration for the account: the agent is not deployed, the thread goes to the unassigned view.
    assert (thread.state, thread.messages) == ("unassigned", 1)
    assert [tuple(step) for step in steps] == [
        ("new", "handoff_pending", "not_deployed"),
        ("handoff_pending", "unassigned", "not_deployed"),
    ]
