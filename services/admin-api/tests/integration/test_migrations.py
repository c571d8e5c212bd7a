"""Admin-api's migrations apply and roll back on real PostgreSQL."""

from __future__ import annotations

import pytest
from admin_api.bootstrap import MIGRATIONS_DIR
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import (
    assert_migrations_apply_and_roll_back,
    assert_plumbing_becomes_bounded_keeping_rows,
)
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def test_migrations_apply_and_roll_back(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_migrations_apply_and_roll_back(
        engine,
        infrastructure.database_url,
        MIGRATIONS_DIR,
        schema,
        {
            "outbox",
            "processed_events",
            "outbox_dead",
            "accounts",
            "api_keys",
            "sources",
            "audit_log",
            "agent_drafts",
            "agent_publications",
            "agent_replays",
            "knowledge_gap_questions",
        },
    )


async def test_bounding_the_plumbing_keeps_every_row(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_plumbing_becomes_bounded_keeping_rows(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema, before="0003"
    )
