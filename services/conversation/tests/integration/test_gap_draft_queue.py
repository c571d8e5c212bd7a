"""The gap draft queue on real PostgreSQL: leases that never overlap, the same question queued once, the retention."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conversation_service.adapters.orm import SCHEMA, gap_drafts, inbox_table, outbox_table
from conversation_service.adapters.unit_of_work import ConversationUnitOfWork
from conversation_service.bootstrap import MIGRATIONS_DIR
from conversation_service.domain.gap_drafts import DraftSource, PendingDraft
from conversation_service.handlers.gap_drafts import GapDraftRetention
from customer_agent_shared.persistence.database import create_session_factory
from customer_agent_shared.persistence.migrations import upgrade_to_head
from customer_agent_shared.persistence.unit_of_work import shared_transaction
from customer_agent_shared.settings import InfrastructureSettings
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

pytestmark = pytest.mark.integration

ACCOUNT = "acc-1"
NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
LEASE_SECONDS = 60.0
Queue = Callable[[], ConversationUnitOfWork]


@pytest.fixture
async def queue(infrastructure: InfrastructureSettings, scratch_schema: tuple[AsyncEngine, str]) -> Queue:
    """Units of work over a freshly migrated scratch schema."""
    engine, schema = scratch_schema
    await asyncio.to_thread(upgrade_to_head, MIGRATIONS_DIR, infrastructure.database_url, schema)
    sessions = create_session_factory(engine.execution_options(schema_translate_map={SCHEMA: schema}))
    return lambda: ConversationUnitOfWork(sessions, outbox=outbox_table, inbox=inbox_table)


def _draft(
    gap_event_id: str, question: str = "Tager I MobilePay?", *, account: str = ACCOUNT, language: str = "da"
) -> PendingDraft:
    source = DraftSource("Payment", "We accept cards and MobilePay.", "https://x.test/pay")
    return PendingDraft(gap_event_id, account, "t-1", f"m-{gap_event_id}", question, language, (source,))


async def _add(queue: Queue, *drafts: PendingDraft, at: datetime = NOW) -> None:
    async with queue() as uow:
        for draft in drafts:
            await uow.gap_drafts.add(draft, at)
        await uow.commit()


async def _lease(queue: Queue, at: datetime, limit: int = 10) -> tuple[str, set[str]]:
    async with queue() as uow:
        token, drafts = await uow.gap_drafts.lease(at, limit=limit, lease_seconds=LEASE_SECONDS)
        await uow.commit()
    return token, {draft.gap_event_id for draft in drafts}


async def _finish(queue: Queue, gap_event_id: str, token: str, at: datetime = NOW) -> bool:
    async with queue() as uow:
        finished = await uow.gap_drafts.finish(gap_event_id, token, at)
        await uow.commit()
    return finished


async def _rows(queue: Queue) -> dict[str, dict[str, Any]]:
    async with queue() as uow:
        rows = (await uow.session.execute(select(gap_drafts))).mappings().all()
    return {row["gap_event_id"]: dict(row) for row in rows}


async def test_two_leases_at_once_never_take_the_same_draft_and_an_expired_lease_cannot_finish(queue: Queue) -> None:
    await _add(queue, _draft("g1", "Q1?"), _draft("g2", "Q2?"), _draft("g3", "Q3?"))

    async with asyncio.timeout(10), queue() as first, queue() as second:  # both open: the first's rows stay locked
        first_token, first_drafts = await first.gap_drafts.lease(NOW, limit=2, lease_seconds=LEASE_SECONDS)
        _, second_drafts = await second.gap_drafts.lease(NOW, limit=2, lease_seconds=LEASE_SECONDS)
        await first.commit()
        await second.commit()
    first_ids = {draft.gap_event_id for draft in first_drafts}
    assert len(first_ids) == 2
    assert {draft.gap_event_id for draft in second_drafts} == {"g1", "g2", "g3"} - first_ids
    assert (await _lease(queue, NOW + timedelta(seconds=LEASE_SECONDS - 1)))[1] == set()  # all still leased

    expired = NOW + timedelta(seconds=LEASE_SECONDS + 1)
    later_token, later_ids = await _lease(queue, expired)
    assert later_ids == {"g1", "g2", "g3"}  # the leases ran out: another drafter takes them
    taken = sorted(first_ids)[0]
    assert not await _finish(queue, taken, first_token)
    assert await _finish(queue, taken, later_token)
    assert not await _finish(queue, taken, later_token)  # done once
    far_later = expired + timedelta(days=1)
    assert (await _lease(queue, far_later))[1] == {"g1", "g2", "g3"} - {taken}  # a done draft is never leased


async def test_the_same_question_is_queued_once_while_pending_and_for_a_day_after_it_is_done(queue: Queue) -> None:
    await _add(queue, _draft("g1", "Tager I MobilePay?"), _draft("g2", "tager i  MOBILEPAY"))
    async with shared_transaction(queue) as batch:  # a batch's writes run one after another at its commit
        async with queue() as uow:
            await uow.gap_drafts.add(_draft("g3", "Tager I MobilePay"), NOW)
            await uow.gap_drafts.add(_draft("g4", "Tager I kontanter?"), NOW)
            await uow.gap_drafts.add(_draft("g5", "Tager I kontanter!"), NOW)
            await uow.commit()
        await batch.commit()
    await _add(queue, _draft("g6", language="en"), _draft("g7", account="acc-2"))
    assert set(await _rows(queue)) == {"g1", "g4", "g6", "g7"}

    async with queue() as uow:
        assert await uow.gap_drafts.pending(ACCOUNT, limit=10) == 3
        assert await uow.gap_drafts.pending(ACCOUNT, limit=2) == 2
    token, _ = await _lease(queue, NOW)
    assert await _finish(queue, "g1", token, NOW)
    async with queue() as uow:
        assert await uow.gap_drafts.pending(ACCOUNT, limit=10) == 2

    await _add(queue, _draft("g8"), at=NOW + timedelta(hours=23))  # done within the day: not again
    await _add(queue, _draft("g9"), at=NOW + timedelta(hours=25))  # a day later: drafted again
    rows = await _rows(queue)
    assert set(rows) == {"g1", "g4", "g6", "g7", "g9"}
    assert (rows["g1"]["question"], rows["g1"]["sources"]) == ("", [])  # done: the visitor's text is gone


async def test_the_retention_deletes_drafts_done_a_day_ago_and_pending_ones_after_two_days(queue: Queue) -> None:
    await _add(queue, _draft("done-old", "Q1?"), _draft("pending-old", "Q2?"), at=NOW - timedelta(hours=49))
    await _add(queue, _draft("done-late", "Q3?"), at=NOW - timedelta(hours=30))
    await _add(queue, _draft("done-new", "Q4?"), _draft("pending-new", "Q5?"), at=NOW - timedelta(hours=47))
    token, _ = await _lease(queue, NOW - timedelta(hours=25))
    for gap_event_id in ("done-old", "done-new"):
        assert await _finish(queue, gap_event_id, token, NOW - timedelta(hours=25))
    assert await _finish(queue, "done-late", token, NOW - timedelta(hours=23))

    retention = GapDraftRetention(queue, batch=1)
    assert await retention.run_once(NOW) == (2, 1)
    assert set(await _rows(queue)) == {"done-late", "pending-new"}
    assert await retention.run_once(NOW) == (0, 0)
