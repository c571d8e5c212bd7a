"""The inbox partitioned by day on real PostgreSQL: a repeat is never claimed twice, and maintenance keeps
only the retention window, off the relay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.maintenance import PlumbingMaintenance
from customer_agent_shared.persistence.partitions import create_partition_sql, partition_name
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork
from customer_agent_shared.testing.plumbing import eventually, plumbing_store
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration


async def test_a_repeat_is_never_claimed_twice_across_partitions_or_concurrently(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    schema = scratch_schema[1]
    sessions = create_session_factory(engine)
    today = datetime.now(UTC).date()
    async with engine.begin() as connection:
        for day in (today - timedelta(days=3), today):
            await connection.execute(text(create_partition_sql(schema, day)))
        await connection.execute(
            inbox.insert().values(consumer="c", event_id="old", processed_at=datetime.now(UTC) - timedelta(days=3))
        )

    def unit() -> SqlUnitOfWork:
        return SqlUnitOfWork(sessions, outbox=outbox, inbox=inbox)

    async with unit() as uow:
        # Claimed three days ago, in another partition: a repeat today is still known.
        assert await uow.claim_event("c", "old") is False
        assert await uow.claim_events("c", ["old", "new", "new"]) == {"new"}
        assert await uow.claim_event("c", "new") is True  # the handler's claim, answered from the one made ahead
        assert await uow.claim_event("c", "new") is False
        await uow.commit()

    async def blocked_claimers() -> bool:
        async with engine.connect() as connection:
            waiting = await connection.scalar(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2")
            )
        return bool(waiting)

    for first_commits in (True, False):
        event_id = f"raced-{first_commits}"
        async with unit() as first:
            assert await first.claim_event("c", event_id) is True
            second = asyncio.create_task(_claim_alone(unit, event_id))
            await eventually(blocked_claimers, "the second claim waits for the first transaction")
            if first_commits:
                await first.commit()
            else:
                await first.rollback()
        # Committed: the waiting claim finds it; rolled back: the waiting claim takes it.
        assert await second is (not first_commits)
    async with sessions() as session:
        claims = await session.scalar(select(func.count()).select_from(inbox).where(inbox.c.event_id.like("raced-%")))
    assert claims == 2


async def _claim_alone(unit: Callable[[], SqlUnitOfWork], event_id: str) -> bool:
    async with unit() as uow:
        claimed = await uow.claim_event("c", event_id)
        await uow.commit()
        return claimed


async def test_maintenance_leaves_only_the_retention_window_and_prepares_the_coming_days(
    scratch_schema: tuple[AsyncEngine, str],
) -> None:
    engine, outbox, inbox = await plumbing_store(scratch_schema)
    schema = scratch_schema[1]
    now = datetime.now(UTC)
    ages = range(21)  # a claim a day for the last 20 days and today
    async with engine.begin() as connection:
        for age in ages:
            await connection.execute(text(create_partition_sql(schema, (now - timedelta(days=age)).date())))
        await connection.execute(
            inbox.insert(),
            [{"consumer": "c", "event_id": f"e{age}", "processed_at": now - timedelta(days=age)} for age in ages]
            # Claims of a day that had no partition, in the default partition:
            + [{"consumer": "c", "event_id": f"d{age}", "processed_at": now - timedelta(days=age)} for age in (30, 40)],
        )
        published = [now - timedelta(hours=hours) for hours in (30, 30, 30, 30, 30, 1)]
        await connection.execute(
            outbox.insert(),
            [
                {"event_id": f"o{i}", "topic": "t", "payload": b"{}", "published_at": at}
                for i, at in enumerate(published)
            ]
            + [{"event_id": "pending", "topic": "t", "payload": b"{}", "published_at": None}],
        )

    maintenance = PlumbingMaintenance(engine, schema, retention_days=14, chunk_rows=2)
    report = await maintenance.run_once(now)
    assert await maintenance.run_once(now) == type(report)()  # a second run finds nothing to do

    cutoff = now - timedelta(days=14)
    async with engine.connect() as connection:
        claims = await connection.execute(select(inbox.c.event_id, inbox.c.processed_at))
        kept = {row.event_id: row.processed_at for row in claims}
        outbox_left = set((await connection.execute(select(outbox.c.event_id))).scalars())
        partitions = set(
            (
                await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = :schema AND tablename LIKE 'processed%'"),
                    {"schema": schema},
                )
            ).scalars()
        )
    # Everything younger than the retention stays; what is left beyond it is within the cutoff's own day.
    assert {f"e{age}" for age in range(14)} <= set(kept)
    assert all(at > cutoff - timedelta(days=1) for at in kept.values())
    assert not {"e16", "e20", "d30", "d40"} & set(kept)
    assert report.deleted_claims == 2
    assert partition_name((now - timedelta(days=20)).date()) in report.dropped
    assert {partition_name((now + timedelta(days=ahead)).date()) for ahead in range(4)} <= partitions
    assert "processed_events_default" in partitions
    assert outbox_left == {"o5", "pending"}
    assert report.deleted_outbox_rows == 5  # in chunks of two
