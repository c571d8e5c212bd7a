"""Repositories of what admin-api folds for its reports: conversation facts, the credits used per day, knowledge
gaps, the audit log."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from customer_agent_shared.events.audit import AuditRecorded
from customer_agent_shared.persistence.retention import delete_before, delete_keyed
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import ColumnElement, bindparam, delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.adapters.orm import (
    audit_log_table,
    conversation_facts_table,
    credit_usage_days_table,
    knowledge_gap_questions_table,
    knowledge_gaps_table,
)
from admin_api.adapters.repositories import Row
from admin_api.domain.performance import ConversationFact

_FACT_COLUMNS = ("event_id", "account_id", "kind", "thread_id", "occurred_at", "billable", "question", "reason")

# Run for every conversation event: built once with bindparam() placeholders and executed with a parameters
# dict, so SQLAlchemy reuses its cache key and compiled form instead of building a statement per event.
_ADD_FACT = (
    insert(conversation_facts_table)
    .values({name: bindparam(name) for name in _FACT_COLUMNS})
    .on_conflict_do_nothing(index_elements=["event_id"])
)


class ConversationFactRepository(TransactionScopedRepository):
    """Conversation events kept for performance reports.

    Facts are only ever added, and read by reports in other transactions, so in a batch they are
    inserted together at its commit.
    """

    async def add(self, event_id: str, *, account_id: str, fact: ConversationFact) -> None:
        """Store one fact (a replayed event id is ignored)."""
        parameters = {
            "event_id": event_id,
            "account_id": account_id,
            "kind": fact.kind,
            "thread_id": fact.thread_id,
            "occurred_at": fact.occurred_at,
            "billable": fact.billable,
            "question": fact.question,
            "reason": fact.reason,
        }
        await self._write(_ADD_FACT, event_id, parameters)

    async def forget_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` facts that happened before ``before``; return how many."""
        table = conversation_facts_table
        return await delete_before(self._session, table, time_column=table.c.occurred_at, before=before, limit=limit)

    async def before(
        self, account_id: str, start: datetime, *, thread_ids: Sequence[str], kinds: Sequence[str]
    ) -> list[ConversationFact]:
        """Facts of ``kinds`` on ``thread_ids`` that happened before ``start``."""
        if not thread_ids:
            return []
        table = conversation_facts_table
        return await self._facts(
            (table.c.account_id == account_id)
            & (table.c.occurred_at < start)
            & table.c.thread_id.in_(thread_ids)
            & table.c.kind.in_(kinds)
        )

    async def between(self, account_id: str, *, start: datetime, end: datetime) -> list[ConversationFact]:
        """Facts with start <= occurred_at < end."""
        table = conversation_facts_table
        return await self._facts(
            (table.c.account_id == account_id) & (table.c.occurred_at >= start) & (table.c.occurred_at < end)
        )

    async def _facts(self, condition: ColumnElement[bool]) -> list[ConversationFact]:
        table = conversation_facts_table
        columns = (table.c.kind, table.c.thread_id, table.c.occurred_at, table.c.billable, table.c.question)
        rows = await self._session.execute(
            select(*columns, table.c.reason).where(condition).order_by(table.c.occurred_at)
        )
        return [
            ConversationFact(
                kind=row.kind,
                thread_id=row.thread_id,
                occurred_at=row.occurred_at,
                billable=row.billable,
                question=row.question,
                reason=row.reason,
            )
            for row in rows
        ]


class CreditUsageRepository:
    """The credits each account used on each UTC day, as billing's credit states report them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save(self, account_id: str, *, version: int, days: Mapping[date, int]) -> None:
        """Keep each day's figure unless a state of a newer or equal version reported that day."""
        if not days:
            return
        table = credit_usage_days_table
        statement = insert(table).values(
            [{"account_id": account_id, "day": day, "credits": used, "version": version} for day, used in days.items()]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=["account_id", "day"],
                set_={"credits": statement.excluded.credits, "version": statement.excluded.version},
                where=table.c.version < statement.excluded.version,
            )
        )

    async def used(self, account_id: str, *, first: date, last: date) -> int:
        """The credits used from the first to the last day (inclusive)."""
        table = credit_usage_days_table
        total = await self._session.scalar(
            select(func.coalesce(func.sum(table.c.credits), 0)).where(
                table.c.account_id == account_id, table.c.day >= first, table.c.day <= last
            )
        )
        return int(total or 0)

    async def forget_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` days that ended before the day of ``before``; return how many."""
        table = credit_usage_days_table
        keys = select(table.c.account_id, table.c.day).where(table.c.day < before.astimezone(UTC).date()).limit(limit)
        return await delete_keyed(self._session, table, keys)


class KnowledgeGapRepository:
    """Grouped unanswered questions."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open_gaps(self, account_id: str, *, for_update: bool = False, limit: int = 500) -> list[Row]:
        """The account's open gaps, the ``limit`` most recently seen (a new question is compared with each)."""
        query = (
            select(knowledge_gaps_table)
            .where(knowledge_gaps_table.c.account_id == account_id, knowledge_gaps_table.c.status == "open")
            .order_by(knowledge_gaps_table.c.last_seen_at.desc())
            .limit(limit)
        )
        if for_update:
            query = query.with_for_update()
        return [dict(row._mapping) for row in await self._session.execute(query)]

    async def list(self, account_id: str, status: str | None) -> list[Row]:
        """Gaps, most frequent first."""
        query = select(knowledge_gaps_table).where(knowledge_gaps_table.c.account_id == account_id)
        if status is not None:
            query = query.where(knowledge_gaps_table.c.status == status)
        query = query.order_by(knowledge_gaps_table.c.count.desc(), knowledge_gaps_table.c.last_seen_at.desc())
        return [dict(row._mapping) for row in await self._session.execute(query)]

    async def get(self, account_id: str, gap_id: str) -> Row | None:
        """One gap, locked until commit."""
        row = (
            await self._session.execute(
                select(knowledge_gaps_table)
                .where(knowledge_gaps_table.c.account_id == account_id, knowledge_gaps_table.c.id == gap_id)
                .with_for_update()
            )
        ).first()
        return dict(row._mapping) if row else None

    async def add(self, values: Row) -> None:
        """Insert a gap."""
        await self._session.execute(insert(knowledge_gaps_table).values(**values))

    async def update(self, account_id: str, gap_id: str, values: Row) -> None:
        """Change a gap."""
        await self._session.execute(
            update(knowledge_gaps_table)
            .where(knowledge_gaps_table.c.account_id == account_id, knowledge_gaps_table.c.id == gap_id)
            .values(**values)
        )

    async def record_question(self, account_id: str, event_id: str, gap_id: str, at: datetime) -> None:
        """Remember the gap a knowledge_gap event's question joined (once per event)."""
        statement = insert(knowledge_gap_questions_table).values(
            account_id=account_id, event_id=event_id, gap_id=gap_id, seen_at=at
        )
        await self._session.execute(statement.on_conflict_do_nothing(index_elements=["account_id", "event_id"]))

    async def forget_questions(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` of the question-to-gap links seen before ``before``; return how many."""
        table = knowledge_gap_questions_table
        return await delete_before(self._session, table, time_column=table.c.seen_at, before=before, limit=limit)

    async def forget_closed_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` gaps resolved or dismissed before ``before``, with their question links (never
        an open gap); return how many gaps."""
        gaps, links = knowledge_gaps_table, knowledge_gap_questions_table
        # A pod older than closed_at closed some without it (a rolling deploy): they count as closed when
        # resolved, or now if that is unknown, so they too are deleted in time.
        unstamped = (
            select(gaps.c.account_id, gaps.c.id)
            .where(gaps.c.status != "open", gaps.c.closed_at.is_(None))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        await self._session.execute(
            update(gaps)
            .where(tuple_(gaps.c.account_id, gaps.c.id).in_(unstamped))
            .values(closed_at=func.coalesce(gaps.c.resolved_at, func.now()))
        )
        closed = (
            select(gaps.c.account_id, gaps.c.id)
            .where(gaps.c.status != "open", gaps.c.closed_at < before)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        keys = [tuple(row) for row in await self._session.execute(closed)]
        if not keys:
            return 0
        await self._session.execute(delete(links).where(tuple_(links.c.account_id, links.c.gap_id).in_(keys)))
        result = await self._session.execute(delete(gaps).where(tuple_(gaps.c.account_id, gaps.c.id).in_(keys)))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def gap_of_question(self, account_id: str, event_id: str) -> str | None:
        """The gap a knowledge_gap event's question joined, if it joined one."""
        table = knowledge_gap_questions_table
        statement = select(table.c.gap_id).where(table.c.account_id == account_id, table.c.event_id == event_id)
        return (await self._session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class AuditQuery:
    """Filters of the audit log."""

    account_id: str
    target_type: str | None = None
    target_id: str | None = None
    action: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    before_id: int | None = None
    limit: int = 100


class AuditRepository:
    """The append-only audit log (rows are never updated or deleted)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, event_id: str, entry: AuditRecorded) -> None:
        """Append an entry; an event id seen before is ignored."""
        await self._session.execute(
            insert(audit_log_table)
            .values(
                event_id=event_id,
                account_id=entry.account_id,
                actor=entry.actor,
                action=entry.action,
                target_type=entry.target_type,
                target_id=entry.target_id,
                before=entry.before,
                after=entry.after,
                at=entry.at,
            )
            .on_conflict_do_nothing(index_elements=["event_id"])
        )

    async def search(self, query: AuditQuery) -> list[Row]:
        """Entries matching the filters, newest first."""
        table = audit_log_table
        statement = select(table).where(table.c.account_id == query.account_id)
        if query.target_type is not None:
            statement = statement.where(table.c.target_type == query.target_type)
        if query.target_id is not None:
            statement = statement.where(table.c.target_id == query.target_id)
        if query.action is not None:
            statement = statement.where(table.c.action == query.action)
        if query.start is not None:
            statement = statement.where(table.c.at >= query.start)
        if query.end is not None:
            statement = statement.where(table.c.at < query.end)
        if query.before_id is not None:
            statement = statement.where(table.c.id < query.before_id)
        statement = statement.order_by(table.c.id.desc()).limit(query.limit)
        return [dict(row._mapping) for row in await self._session.execute(statement)]
