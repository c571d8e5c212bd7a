"""The syncs resumed at start-up and by every scheduler pass are read through ``ix_sources_state`` on real
PostgreSQL: the few sources waiting, not a scan of every source of every account."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.sources import SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.migrations import migrated_sessions
from ingestion_service.adapters.orm import SCHEMA
from ingestion_service.adapters.repositories import SourceRepository
from ingestion_service.bootstrap import MIGRATIONS_DIR
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

SOURCES = 20_000


async def test_waiting_files_and_websites_are_read_through_the_state_index(
    infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]
) -> None:
    engine, schema = scratch_schema
    sessions = await migrated_sessions(
        engine, infrastructure.database_url, MIGRATIONS_DIR, schema=schema, service_schema=SCHEMA
    )
    sources = f'"{schema}".sources'
    async with engine.begin() as connection:
        await connection.execute(
            text(
                f"INSERT INTO {sources} (account_id, source_id, kind, state) SELECT 'acc-' || n % 100, 'src-' || n, "
                f"CASE WHEN n % 2 = 0 THEN 'file' ELSE 'url' END, 'ready' FROM generate_series(1, {SOURCES}) n"
            )
        )
        await connection.execute(
            text(
                f"INSERT INTO {sources} (account_id, source_id, kind, state, pending_file) VALUES "
                """('acc-1', 'waiting-file', 'file', 'pending', '{"event_id": "e", "command": {}}'), """
                "('acc-1', 'waiting-site', 'url', 'syncing', NULL)"
            )
        )
        await connection.execute(text(f"ANALYZE {sources}"))
    sent: list[tuple[str, Any]] = []

    def keep(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    async with sessions() as session:
        event.listen(engine.sync_engine, "before_cursor_execute", keep)
        try:
            files = await SourceRepository(session).pending_syncs(SourceKind.FILE)
            websites = await SourceRepository(session).pending_syncs(SourceKind.URL)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", keep)
        plans: list[str] = []
        connection = await session.connection()
        for statement, parameters in sent:
            result = await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            plans.append("\n".join(row[0] for row in result))

    assert (files, websites) == ([("acc-1", "waiting-file")], [("acc-1", "waiting-site")])
    assert len(plans) == 2
    for plan in plans:
        assert "ix_sources_state" in plan, plan
