"""The queue of knowledge gaps waiting for the LLM's draft, leased so that replicas never draft one twice at once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import RowMapping, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert

from conversation_service.adapters.orm import gap_drafts
from conversation_service.domain.gap_drafts import DraftSource, PendingDraft

_QUEUE_DRAFT = (
    insert(gap_drafts)
    .values({column.name: bindparam(column.name) for column in gap_drafts.c})
    .on_conflict_do_nothing(index_elements=["gap_event_id"])
)


def _pending(row: RowMapping) -> PendingDraft:
    return PendingDraft(
        gap_event_id=row["gap_event_id"],
        account_id=row["account_id"],
        thread_id=row["thread_id"],
        message_id=row["message_id"],
        question=row["question"],
        language=row["language"],
        sources=tuple(DraftSource(**item) for item in row["sources"]),
        attempts=row["attempts"],
    )


class GapDraftQueue(TransactionScopedRepository):
    """Pending drafts: queued with the gap's event, leased by a drafter, deleted when done."""

    async def add(self, draft: PendingDraft, now: datetime) -> None:
        """Queue a draft, due at once (a redelivered message queues it once; in a batch, at its commit)."""
        parameters: dict[str, Any] = {
            "gap_event_id": draft.gap_event_id,
            "account_id": draft.account_id,
            "thread_id": draft.thread_id,
            "message_id": draft.message_id,
            "question": draft.question,
            "language": draft.language,
            "sources": [{"title": s.title, "text": s.text, "url": s.url} for s in draft.sources],
            "attempts": 0,
            "next_attempt_at": now,
            "lease_token": None,
            "created_at": now,
        }
        await self._write(_QUEUE_DRAFT, ("gap_draft", draft.gap_event_id), parameters)

    async def lease(self, now: datetime, *, limit: int, lease_seconds: float) -> tuple[str, list[PendingDraft]]:
        """Take up to ``limit`` due drafts for ``lease_seconds`` (skipping those another drafter holds), each
        counted as one more attempt; returns the lease's token and the drafts."""
        token = uuid.uuid4().hex
        due = (
            select(gap_drafts.c.gap_event_id)
            .where(gap_drafts.c.next_attempt_at <= now)
            .order_by(gap_drafts.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(gap_drafts)
            .where(gap_drafts.c.gap_event_id.in_(due.scalar_subquery()))
            .values(
                attempts=gap_drafts.c.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease_seconds),
                lease_token=token,
            )
            .returning(*gap_drafts.c)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return token, [_pending(row) for row in rows]

    async def finish(self, gap_event_id: str, token: str) -> bool:
        """Remove a draft still under this lease; False if its lease expired and another drafter took it."""
        statement = (
            delete(gap_drafts)
            .where(gap_drafts.c.gap_event_id == gap_event_id, gap_drafts.c.lease_token == token)
            .returning(gap_drafts.c.gap_event_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def retry_at(self, gap_event_id: str, token: str, at: datetime) -> bool:
        """Make a draft still under this lease due again at ``at``; False if another drafter took it."""
        statement = (
            update(gap_drafts)
            .where(gap_drafts.c.gap_event_id == gap_event_id, gap_drafts.c.lease_token == token)
            .values(next_attempt_at=at, lease_token=None)
            .returning(gap_drafts.c.gap_event_id)
        )
        return (await self._session.execute(statement)).first() is not None
