"""Admin-api's migrations apply and roll back on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_api.bootstrap import MIGRATIONS_DIR
from alembic import command
from customer_agent_shared.persistence.migrations import alembic_config
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import (
    assert_migrations_apply_and_roll_back,
    assert_plumbing_becomes_bounded_keeping_rows,
)
from customer_agent_shared.testing.plumbing import eventually
from sqlalchemy import text
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
            "credit_usage_days",
        },
    )


async def test_bounding_the_plumbing_keeps_every_row(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    await assert_plumbing_becomes_bounded_keeping_rows(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema, before="0003"
    )


async def test_a_failed_index_build_leaves_the_column_under_its_version_and_a_retry_finishes(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    await asyncio.to_thread(command.upgrade, config, "0011")
    async with engine.connect() as blocker:
        # Holding this lock makes the concurrent build of the question links' index wait, so it can be cancelled.
        await blocker.execute(text(f'LOCK TABLE "{schema}".knowledge_gap_questions IN SHARE UPDATE EXCLUSIVE MODE'))
        upgrade = asyncio.create_task(asyncio.to_thread(command.upgrade, config, "head"))

        async def cancel_the_waiting_build() -> bool:
            async with engine.connect() as connection:
                return bool(
                    await connection.scalar(
                        text(
                            "SELECT bool_or(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND query ILIKE 'CREATE INDEX CONCURRENTLY%' AND query LIKE :table"
                        ),
                        {"table": f"%{schema}%knowledge_gap_questions%"},
                    )
                )

        await eventually(cancel_the_waiting_build, "the index build waits for the lock and is cancelled")
        with pytest.raises(Exception, match="cancel"):
            await upgrade
        await blocker.rollback()
    async with engine.connect() as connection:
        version = await connection.scalar(text(f'SELECT version_num FROM "{schema}".alembic_version'))
    assert version == "0012", "the column and its backfill are committed under their own version"
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as connection:
        valid = await connection.execute(
            text(
                "SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema AND c.relname IN "
                "('ix_knowledge_gaps_closed_at', 'ix_knowledge_gap_questions_gap')"
            ),
            {"schema": schema},
        )
        assert dict(valid.all()) == {"ix_knowledge_gaps_closed_at": True, "ix_knowledge_gap_questions_gap": True}


def _entry(kind: str, cause: str, amount: int, at: datetime) -> dict[str, Any]:
    """A ledger entry as a credit state's history carries it."""
    return {"kind": kind, "amount": amount, "balance_after": 0, "cause": cause, "recorded_at": at.isoformat()}


async def test_the_credits_used_per_day_are_seeded_from_whole_histories(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    config = alembic_config(MIGRATIONS_DIR, infrastructure.database_url, schema)
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    whole = [  # newest first, down to the opening allotment
        _entry("refund", "thread:b", 1, today),
        _entry("usage", "thread:c", -1, today),
        _entry("usage", "thread:b", -1, yesterday),
        _entry("purchase", "cmd_1", 50, yesterday),
        _entry("usage", "thread:a", -1, yesterday),
        _entry("allotment", "period:2026-12-01T00:00:00+00:00", 1000, yesterday),
    ]
    cut_short = [_entry("usage", "thread:z", -1, today), _entry("usage", "thread:y", -1, yesterday)]
    await asyncio.to_thread(command.upgrade, config, "0013")
    async with engine.begin() as connection:
        for account, version, history in (("whole", 7, whole), ("cut-short", 90, cut_short)):
            await connection.execute(
                text(f'INSERT INTO "{schema}".credit_states (account_id, version, state) VALUES (:a, :v, :s)'),
                {"a": account, "v": version, "s": json.dumps({"recent_entries": history})},
            )
    await asyncio.to_thread(command.upgrade, config, "head")
    async with engine.connect() as connection:
        rows = await connection.execute(
            text(f'SELECT account_id, day, credits, version FROM "{schema}".credit_usage_days ORDER BY day')
        )
        seeded = [tuple(row) for row in rows]
    # Only the whole history is known to hold every charge: the other waits for billing's next state.
    assert seeded == [("whole", yesterday.date(), 2, 7), ("whole", today.date(), 0, 7)]
