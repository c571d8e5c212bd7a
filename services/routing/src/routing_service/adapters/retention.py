"""Deleting routing's rows past their retention: transcripts of idle threads, closed or abandoned threads, old
ownership changes."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from customer_agent_shared.persistence.retention import delete_before, delete_keyed
from sqlalchemy import ColumnElement, and_, delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.adapters.orm import threads_table, transcript_table, transitions_table
from routing_service.adapters.repositories import thread_of
from routing_service.domain.model import RoutedThread
from routing_service.domain.ownership import ThreadState


class RetentionRepository:
    """Batched deletes for the retention sweep; each returns how many rows it deleted."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def forget_idle_transcripts(
        self, idle_since: datetime, *, idle_after: datetime, keeping: Collection[ThreadState], limit: int
    ) -> int:
        """Delete up to ``limit`` transcript entries of threads last changed between ``idle_after`` and
        ``idle_since`` and in none of the ``keeping`` states."""
        # Walked from the threads (ix_threads_updated_at) to their entries: only threads idle within the
        # window are read, never the entries of those kept. Threads idle longer lost their entries on the way
        # through the window, or lose them to forget_entries_before.
        entries, threads = transcript_table, threads_table
        same_thread = and_(entries.c.account_id == threads.c.account_id, entries.c.thread_id == threads.c.thread_id)
        idle = (
            select(entries.c.id)
            .join_from(threads, entries, same_thread)
            .where(
                threads.c.updated_at < idle_since,
                threads.c.updated_at >= idle_after,
                threads.c.state.not_in([state.value for state in keeping]),
            )
            .limit(limit)
        )
        return await delete_keyed(self._session, entries, idle)

    async def forget_closed_threads(self, closed_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` threads closed (and not written on since) before ``closed_before``, with any
        transcript entry they still have; how many threads."""
        threads = threads_table
        # Locked, skipping the rows a message or an inbox event holds: the thread they are reopening or
        # changing stays, and a message that comes once its thread is gone makes a new one.
        closed = (
            select(threads.c.account_id, threads.c.thread_id)
            .where(threads.c.state == ThreadState.CLOSED.value, threads.c.updated_at < closed_before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return await self._forget(tuple_(threads.c.account_id, threads.c.thread_id).in_(closed))

    async def lock_open_threads(self, untouched_since: datetime, limit: int) -> list[RoutedThread]:
        """Up to ``limit`` threads in any state but closed, untouched (no message, no change of owner) since
        ``untouched_since``, locked; those a message or an inbox event holds are skipped."""
        threads = threads_table
        untouched = (
            select(threads)
            .where(threads.c.state != ThreadState.CLOSED.value, threads.c.updated_at < untouched_since)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [thread_of(row) for row in await self._session.execute(untouched)]

    async def forget_threads(self, keys: Collection[tuple[str, str]]) -> int:
        """Delete these threads (locked by this transaction) with their transcript entries; how many threads."""
        if not keys:
            return 0
        threads = threads_table
        return await self._forget(tuple_(threads.c.account_id, threads.c.thread_id).in_(list(keys)))

    async def _forget(self, which: ColumnElement[bool]) -> int:
        """Delete the threads ``which`` selects and their transcript entries in one statement; how many threads."""
        threads, entries = threads_table, transcript_table
        gone = delete(threads).where(which).returning(threads.c.account_id, threads.c.thread_id).cte("gone")
        their_entries = (
            delete(entries)
            .where(tuple_(entries.c.account_id, entries.c.thread_id).in_(select(gone.c.account_id, gone.c.thread_id)))
            .returning(entries.c.id)
            .cte("their_entries")
        )
        statement = select(func.count()).select_from(gone).add_cte(their_entries)
        return int(await self._session.scalar(statement) or 0)

    async def forget_entries_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` transcript entries written before ``before``, whatever their thread."""
        table = transcript_table
        return await delete_before(self._session, table, time_column=table.c.at, before=before, limit=limit)

    async def forget_transitions(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` ownership changes made before ``before``."""
        table = transitions_table
        return await delete_before(self._session, table, time_column=table.c.at, before=before, limit=limit)
