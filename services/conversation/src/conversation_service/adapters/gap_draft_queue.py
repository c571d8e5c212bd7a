"""The queue of knowledge gaps waiting for the LLM's draft, leased so that replicas never draft one twice at once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import Executable, RowMapping, bindparam, delete, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert

from conversation_service.adapters.orm import gap_drafts
from conversation_service.domain.gap_drafts import DRAFTED_RECENTLY, DraftSource, PendingDraft, question_key

_ROW = {column.name: bindparam(column.name, type_=column.type) for column in gap_drafts.c}
_SAME_QUESTION = exists().where(
    gap_drafts.c.account_id == _ROW["account_id"],
    gap_drafts.c.question_key == _ROW["question_key"],
    gap_drafts.c.language == _ROW["language"],
    or_(
        gap_drafts.c.done_at.is_(None),
        gap_drafts.c.done_at > bindparam("recent_after", type_=gap_drafts.c.done_at.type),
    ),
)
# One statement, so that the same question twice in a shared transaction (its writes run at the commit,
# one after the other) is queued once too.
_QUEUE_DRAFT = (
    insert(gap_drafts)
    .from_select(list(_ROW), select(*_ROW.values()).where(~_SAME_QUESTION))
    .on_conflict_do_nothing(index_elements=["gap_event_id"])
)
_PENDING = gap_drafts.c.done_at.is_(None)


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
    """Drafts: queued with the gap's event, leased by a drafter, marked done, deleted by the retention."""

    async def add(self, draft: PendingDraft, now: datetime) -> None:
        """Queue a draft, due at once, unless the account has the same question in that language pending or
        done since ``DRAFTED_RECENTLY`` (a redelivered message queues it once; in a batch, at its commit)."""
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
            "question_key": question_key(draft.question),
            "done_at": None,
            "recent_after": now - DRAFTED_RECENTLY,
        }
        await self._write(_QUEUE_DRAFT, ("gap_draft", draft.gap_event_id), parameters)

    async def pending(self, account_id: str, *, limit: int) -> int:
        """How many of the account's drafts are pending, counting up to ``limit``."""
        mine = select(gap_drafts.c.gap_event_id).where(gap_drafts.c.account_id == account_id, _PENDING).limit(limit)
        return int(await self._session.scalar(select(func.count()).select_from(mine.subquery())) or 0)

    async def lease(self, now: datetime, *, limit: int, lease_seconds: float) -> tuple[str, list[PendingDraft]]:
        """Take up to ``limit`` due drafts for ``lease_seconds`` (skipping those another drafter holds), each
        counted as one more attempt; returns the lease's token and the drafts."""
        token = uuid.uuid4().hex
        due = (
            select(gap_drafts.c.gap_event_id)
            .where(_PENDING, gap_drafts.c.next_attempt_at <= now)
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

    async def finish(self, gap_event_id: str, token: str, now: datetime) -> bool:
        """Mark a draft still under this lease done, forgetting its question and sources (its key stays, for
        ``add``); False if its lease expired and another drafter took it."""
        statement = (
            update(gap_drafts)
            .where(gap_drafts.c.gap_event_id == gap_event_id, gap_drafts.c.lease_token == token, _PENDING)
            .values(done_at=now, lease_token=None, question="", sources=[])
            .returning(gap_drafts.c.gap_event_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def retry_at(self, gap_event_id: str, token: str, at: datetime) -> bool:
        """Make a draft still under this lease due again at ``at``; False if another drafter took it."""
        statement = (
            update(gap_drafts)
            .where(gap_drafts.c.gap_event_id == gap_event_id, gap_drafts.c.lease_token == token, _PENDING)
            .values(next_attempt_at=at, lease_token=None)
            .returning(gap_drafts.c.gap_event_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def prune_done(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` drafts done before ``before``; how many were deleted."""
        # Done after it was queued: the condition on created_at changes nothing but lets its index serve.
        return await self._delete(gap_drafts.c.created_at < before, gap_drafts.c.done_at < before, limit=limit)

    async def expire_pending(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` drafts still pending that were queued before ``created_before``."""
        return await self._delete(gap_drafts.c.created_at < created_before, _PENDING, limit=limit)

    async def _delete(self, *conditions: Any, limit: int) -> int:
        # Rows a drafter holds locked right now are left for the next run.
        batch = select(gap_drafts.c.gap_event_id).where(*conditions).limit(limit).with_for_update(skip_locked=True)
        statement: Executable = (
            delete(gap_drafts)
            .where(gap_drafts.c.gap_event_id.in_(batch.scalar_subquery()))
            .returning(gap_drafts.c.gap_event_id)
        )
        return len((await self._session.execute(statement)).all())
