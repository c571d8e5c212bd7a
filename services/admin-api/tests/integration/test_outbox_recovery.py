"""A crash between commit and publish still publishes: the committed outbox row leaves with the
relay of a process started later."""

from __future__ import annotations

import asyncio

import pytest
from admin_api.adapters.orm import outbox_table
from admin_api.bootstrap import MIGRATIONS_DIR, build_service
from admin_api.settings import AdminSettings
from customer_agent_shared.events.config import AgentProfile, Personality
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.topics import AGENT_CONFIG
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from .harness import events_for, read_from, topic_ends

pytestmark = pytest.mark.integration


async def test_committed_change_is_published_by_a_relay_started_later(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    _, schema = scratch_schema
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS_DIR, infrastructure.database_url, schema)
    settings = AdminSettings(database_schema=schema, service_name=unique_name("admin-api-test"))
    servers = infrastructure.kafka_bootstrap_servers
    offsets = await topic_ends(servers, AGENT_CONFIG)
    account_id = unique_name("acc")

    crashed = build_service(settings)  # never started: its relay never runs, as if it died after commit
    assert crashed.api is not None
    await crashed.api.accounts.create_account(account_id, "Crash Inc.")
    profile = AgentProfile(name="Survivor", personality=Personality.EMPATHETIC)
    await crashed.api.configuration.update_profile(account_id, actor="key_test", profile=profile, if_match=None)
    async with crashed.kernel.session_factory() as session:
        pending = await session.scalar(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        )
    assert pending == 5  # two snapshots, two audit events and billing's opening command, committed, not sent
    await crashed.kernel.engine.dispose()
    await crashed.kernel.redis.aclose()

    restarted = build_service(settings)
    await restarted.kernel.producer.start()
    restarted.kernel.relay.start()
    try:
        records = await read_from(servers, AGENT_CONFIG, offsets, lambda found: len(events_for(found, account_id)) >= 2)
    finally:
        await restarted.kernel.relay.stop()
        await restarted.kernel.producer.stop()
    snapshots = [event["data"] for event in events_for(records, account_id, "agent.config.snapshot")]
    assert [(s["version"], s["agent"]["name"]) for s in snapshots] == [(1, "Customer Agent"), (2, "Survivor")]
    async with restarted.kernel.session_factory() as session:
        left = await session.scalar(
            select(func.count()).select_from(outbox_table).where(outbox_table.c.published_at.is_(None))
        )
    assert left == 0
    await restarted.kernel.engine.dispose()
    await restarted.kernel.redis.aclose()
