"""The transcript repository: what was said on each thread, kept for handoffs."""

from __future__ import annotations

from datetime import datetime

from customer_agent_shared.events.channels import TranscriptEntry
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository, WriteAtCommit, WritePending
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.adapters.orm import transcript_table

RECORD_ENTRY = (
    insert(transcript_table)
    .values(
        account_id=bindparam("account_id"),
        thread_id=bindparam("thread_id"),
        entry_key=bindparam("entry_key"),
        role=bindparam("role"),
        text=bindparam("text"),
        at=bindparam("at"),
    )
    .on_conflict_do_nothing(index_elements=["account_id", "thread_id", "entry_key"])
)


class TranscriptRepository(TransactionScopedRepository):
    """What was said on each thread, for handoff transcripts.

    ``record`` leaves its insert to the batch's commit (``write_at_commit``); ``recent`` first has the
    deferred writes executed, so it sees every entry of the transaction.
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        write_at_commit: WriteAtCommit | None = None,
        write_pending: WritePending | None = None,
    ) -> None:
        super().__init__(session, write_at_commit=write_at_commit)
        self._write_pending = write_pending

    async def record(
        self, account_id: str, thread_id: str, *, entry_key: str, role: str, text: str, at: datetime
    ) -> None:
        """Store one entry (one with that key already there is kept); in a batch, at its commit."""
        parameters = {
            "account_id": account_id,
            "thread_id": thread_id,
            "entry_key": entry_key,
            "role": role,
            "text": text,
            "at": at,
        }
        await self._write(RECORD_ENTRY, (account_id, thread_id, entry_key), parameters)

    async def recent(self, account_id: str, thread_id: str, limit: int) -> list[TranscriptEntry]:
        """The last ``limit`` entries, oldest first."""
        if self._write_pending is not None:
            await self._write_pending()
        rows = (
            await self._session.execute(
                select(transcript_table.c.role, transcript_table.c.text, transcript_table.c.at)
                .where(transcript_table.c.account_id == account_id, transcript_table.c.thread_id == thread_id)
                .order_by(transcript_table.c.id.desc())
                .limit(limit)
            )
        ).all()
        return [TranscriptEntry(role=row.role, text=row.text, at=row.at) for row in reversed(rows)]
