"""Deleting routing's rows past their retention: transcripts of idle threads, old ownership changes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Delete, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.adapters.orm import threads_table, transcript_table, transitions_table
from routing_service.domain.ownership import ThreadState


class RetentionRepository:
    """Batched deletes for the retention sweep; each returns how many rows it deleted."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def forget_transcripts(self, idle_since: datetime, *, keeping: Collection[ThreadState], limit: int) -> int:
        """Delete up to ``limit`` transcript entries written before ``idle_since`` unless their thread changed
        since then or is in one of the ``keeping`` states (entries of a thread routing no longer has go too)."""
        entries, threads = transcript_table, threads_table
        needed = select(threads.c.thread_id).where(
            threads.c.account_id == entries.c.account_id,
            threads.c.thread_id == entries.c.thread_id,
            or_(threads.c.updated_at >= idle_since, threads.c.state.in_([state.value for state in keeping])),
        )
        idle = select(entries.c.id).where(entries.c.at < idle_since, ~needed.exists()).limit(limit)
        return await self._deleted(delete(entries).where(entries.c.id.in_(idle.scalar_subquery())))

    async def forget_transitions(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` ownership changes made before ``before``."""
        table = transitions_table
        oldest = select(table.c.id).where(table.c.at < before).limit(limit)
        return await self._deleted(delete(table).where(table.c.id.in_(oldest.scalar_subquery())))

    async def _deleted(self, statement: Delete) -> int:
        result = await self._session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]
