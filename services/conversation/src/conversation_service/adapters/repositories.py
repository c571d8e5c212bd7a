"""Repositories over conversation's tables; they use the unit of work's session and never commit."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import datetime
from typing import Any

from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import RowMapping, bindparam, delete, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from conversation_service.adapters.orm import agent_profiles, questions, threads
from conversation_service.domain.language import account_languages
from conversation_service.domain.model import AgentProfileRecord, AskedQuestion, ConversationThread, Turn


def resolution_hours_of(snapshot: AgentConfigSnapshot) -> int | None:
    """The credit plan's quiet hours before a resolution, as admin-api puts them in the snapshot."""
    return snapshot.resolution_hours


def _thread(row: RowMapping, *, is_new: bool = False) -> ConversationThread:
    return ConversationThread(
        account_id=row["account_id"],
        thread_id=row["thread_id"],
        channel_type=row["channel_type"],
        channel_id=row["channel_id"],
        language=row["language"],
        consecutive_misses=row["consecutive_misses"],
        agent_replied=row["agent_replied"],
        handed_off=row["handed_off"],
        negative_feedback=row["negative_feedback"],
        last_message_at=row["last_message_at"],
        resolved_at=row["resolved_at"],
        turns=[_turn(item) for item in row["recent_turns"] or []],
        is_new=is_new,
    )


def _turn(item: dict[str, Any]) -> Turn:
    return Turn(role=str(item["role"]), text=str(item["text"]), at=datetime.fromisoformat(str(item["at"])))


class AgentProfileRepository:
    """Agent profiles folded from agent.config.v1."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def apply(self, snapshot: AgentConfigSnapshot) -> bool:
        """Store the snapshot unless a newer (or the same) version is stored; True if it was applied."""
        values = {
            "account_id": snapshot.account_id,
            "version": snapshot.version,
            "name": snapshot.agent.name,
            "role": snapshot.agent.role.value,
            "personality": snapshot.agent.personality.value,
            "default_language": snapshot.default_language,
            "resolution_hours": resolution_hours_of(snapshot),
            "answer_threshold": snapshot.agent.answer_threshold,
            "languages": account_languages(snapshot.default_language, snapshot.handoff.messages),
            "deleted": snapshot.deleted,
            "updated_at": snapshot.updated_at,
        }
        statement = insert(agent_profiles).values(**values)
        upsert = statement.on_conflict_do_update(
            index_elements=["account_id"],
            set_={key: statement.excluded[key] for key in values if key != "account_id"},
            where=agent_profiles.c.version < statement.excluded.version,
        ).returning(agent_profiles.c.account_id)
        return (await self._session.execute(upsert)).first() is not None

    async def get(self, account_id: str) -> AgentProfileRecord | None:
        """The stored profile of an account, if any."""
        row = (
            (await self._session.execute(select(agent_profiles).where(agent_profiles.c.account_id == account_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        return AgentProfileRecord(
            account_id=row["account_id"],
            version=row["version"],
            name=row["name"],
            role=row["role"],
            personality=row["personality"],
            default_language=row["default_language"],
            resolution_hours=row["resolution_hours"],
            deleted=row["deleted"],
            answer_threshold=row["answer_threshold"],
            languages=tuple(row["languages"] or ()),
        )


# The two statements run for every message are built once, with bindparam() placeholders, and executed
# with a parameters dict: a reused statement object keeps its cache key and compiled form, whereas
# building one per call costs SQLAlchemy a new construction and cache key every time.

_NEW_THREAD = insert(threads).values(
    account_id=bindparam("account_id"),
    thread_id=bindparam("thread_id"),
    consecutive_misses=0,
    agent_replied=False,
    handed_off=False,
    negative_feedback=False,
    last_message_at=bindparam("last_message_at"),
    recent_turns=[],
)
# DO UPDATE (a no-op change) both creates the row and locks it, in one round trip.
_LOCK_THREAD = _NEW_THREAD.on_conflict_do_update(
    index_elements=["account_id", "thread_id"], set_={"account_id": _NEW_THREAD.excluded.account_id}
).returning(*threads.c, literal_column("(xmax = 0)").label("inserted"))

_SAVED_COLUMNS = (
    "channel_type",
    "channel_id",
    "language",
    "consecutive_misses",
    "agent_replied",
    "handed_off",
    "negative_feedback",
    "last_message_at",
    "resolved_at",
    "recent_turns",
)
# The WHERE parameters are prefixed: a parameter named like a column would also be SET by SQLAlchemy.
_SAVE_THREAD = (
    threads.update()
    .where(threads.c.account_id == bindparam("b_account_id"), threads.c.thread_id == bindparam("b_thread_id"))
    .values({name: bindparam(name) for name in _SAVED_COLUMNS})
)


class ThreadRepository(TransactionScopedRepository):
    """Threads, with their recent turns kept on the row (one read and one write per message).

    A thread locked in a transaction is kept until it ends, and its writes wait for a batch's commit: in a
    batch, the threads are locked once (``lock_many``) and written once; the record kept here is then the
    only up-to-date copy, so ``lock`` answers from it.
    """

    async def lock(self, account_id: str, thread_id: str, now: datetime) -> ConversationThread:
        """The thread's state, row-locked for this transaction; a new thread is created on first sight."""
        record = self._kept.get((account_id, thread_id))
        if isinstance(record, ConversationThread):
            return record
        parameters = {"account_id": account_id, "thread_id": thread_id, "last_message_at": now}
        row = (await self._session.execute(_LOCK_THREAD, parameters)).mappings().one()
        return self._keep(_thread(row, is_new=bool(row["inserted"])))

    async def lock_many(
        self, keys: Collection[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], ConversationThread]:
        """Lock (creating missing ones) several threads by (account, thread) in one statement, in key order."""
        wanted = sorted(set(keys) - self._kept.keys())  # one order for every process: no lock cycles
        if wanted:
            parameters = [
                {"account_id": account_id, "thread_id": thread_id, "last_message_at": now}
                for account_id, thread_id in wanted
            ]
            for row in (await self._session.execute(_LOCK_THREAD, parameters)).mappings():
                self._keep(_thread(row, is_new=bool(row["inserted"])))
        return {key: self._kept[key] for key in keys}

    async def peek(self, account_id: str, thread_id: str) -> ConversationThread | None:
        """The thread's state without locking it (the copy this transaction holds, if any); None if unseen."""
        record = self._kept.get((account_id, thread_id))
        if isinstance(record, ConversationThread):
            return record
        statement = select(threads).where(threads.c.account_id == account_id, threads.c.thread_id == thread_id)
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else _thread(row)

    def _keep(self, record: ConversationThread) -> ConversationThread:
        self._kept[(record.account_id, record.thread_id)] = record
        return record

    async def save(self, record: ConversationThread) -> None:
        """Write the thread's state (and its recent turns) back (in a batch: at its commit)."""
        key = (record.account_id, record.thread_id)
        self._keep(record)
        parameters = {
            "b_account_id": record.account_id,
            "b_thread_id": record.thread_id,
            "channel_type": record.channel_type,
            "channel_id": record.channel_id,
            "language": record.language,
            "consecutive_misses": record.consecutive_misses,
            "agent_replied": record.agent_replied,
            "handed_off": record.handed_off,
            "negative_feedback": record.negative_feedback,
            "last_message_at": record.last_message_at,
            "resolved_at": record.resolved_at,
            "recent_turns": [
                {"role": turn.role, "text": turn.text, "at": turn.at.isoformat()} for turn in record.turns
            ],
        }
        await self._write(_SAVE_THREAD, key, parameters)

    async def claim_due_for_resolution(self, now: datetime, default_hours: int, limit: int) -> list[ConversationThread]:
        """Threads the resolution rule now resolves (locked, skipping ones another process holds)."""
        hours = func.coalesce(agent_profiles.c.resolution_hours, default_hours)
        rows = (
            (
                await self._session.execute(
                    select(threads)
                    .select_from(threads.outerjoin(agent_profiles, agent_profiles.c.account_id == threads.c.account_id))
                    .where(
                        threads.c.resolved_at.is_(None),
                        threads.c.agent_replied.is_(True),
                        threads.c.handed_off.is_(False),
                        threads.c.negative_feedback.is_(False),
                        threads.c.last_message_at + func.make_interval(0, 0, 0, 0, hours) <= now,
                    )
                    .order_by(threads.c.last_message_at)
                    .limit(limit)
                    .with_for_update(of=threads, skip_locked=True)
                )
            )
            .mappings()
            .all()
        )
        return [_thread(row) for row in rows]


_RECORD_QUESTION = (
    insert(questions)
    .values({column.name: bindparam(column.name) for column in questions.c})
    .on_conflict_do_nothing(index_elements=["account_id", "thread_id", "message_id"])
)


class QuestionLogRepository(TransactionScopedRepository):
    """Real visitors' questions, for draft replays (in a batch, written at its commit in one statement)."""

    async def record(self, question: AskedQuestion) -> None:
        """Keep a question (a redelivered message is kept once)."""
        key = ("question", question.account_id, question.thread_id, question.message_id)
        await self._write(_RECORD_QUESTION, key, dataclasses.asdict(question))

    async def latest(self, account_id: str, limit: int) -> list[AskedQuestion]:
        """The account's ``limit`` latest questions, newest first."""
        statement = (
            select(questions)
            .where(questions.c.account_id == account_id)
            .order_by(questions.c.asked_at.desc(), questions.c.thread_id, questions.c.message_id)
            .limit(limit)
        )
        rows = (await self._session.execute(statement)).mappings().all()
        return [AskedQuestion(**dict(row)) for row in rows]

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` questions asked before ``before``; how many were deleted."""
        oldest = select(questions.c.account_id, questions.c.thread_id, questions.c.message_id).where(
            questions.c.asked_at < before
        )
        keys = (await self._session.execute(oldest.limit(limit))).all()
        if not keys:
            return 0
        columns = (questions.c.account_id, questions.c.thread_id, questions.c.message_id)
        await self._session.execute(delete(questions).where(tuple_(*columns).in_([tuple(key) for key in keys])))
        return len(keys)
