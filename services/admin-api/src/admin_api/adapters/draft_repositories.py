"""Repositories of drafts, publications and draft replays; they use the unit of work's session, never commit."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from admin_api.adapters.draft_tables import drafts_table, publications_table, replays_table
from admin_api.domain.drafts import DraftSection, SectionValue

RUNNING_STATES = ("answering", "routing")


@dataclass(frozen=True)
class StoredDraft:
    """An account's draft: its sections, and who saved it last, when."""

    sections: dict[str, DraftSection]
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Publication:
    """A published draft: the sections it changed, before and after."""

    id: int
    config_version: int
    before: dict[str, SectionValue | None]
    after: dict[str, SectionValue]
    published_at: datetime
    unpublished_at: datetime | None


@dataclass
class ReplayRecord:
    """A draft replay and how far it got."""

    id: str
    account_id: str
    state: str
    question_limit: int
    draft_etag: str
    live_version: int
    requested_by: str
    requested_at: datetime
    configs: dict[str, Any] | None = None
    answers: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        """Still waiting for conversation or routing."""
        return self.state in RUNNING_STATES


class DraftRepository:
    """One draft per account."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: str, *, for_update: bool = False) -> StoredDraft | None:
        """The account's draft, optionally locked until commit."""
        query = select(drafts_table).where(drafts_table.c.account_id == account_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        sections = {name: DraftSection.from_json(value) for name, value in row["sections"].items()}
        return StoredDraft(sections, row["updated_at"], row["updated_by"])

    async def put(self, account_id: str, sections: dict[str, DraftSection], *, by: str, at: datetime) -> None:
        """Store the draft's sections."""
        values = {
            "sections": {name: section.to_json() for name, section in sections.items()},
            "updated_at": at,
            "updated_by": by,
        }
        statement = insert(drafts_table).values(account_id=account_id, **values)
        await self._session.execute(statement.on_conflict_do_update(index_elements=["account_id"], set_=values))

    async def delete(self, account_id: str) -> None:
        """Drop the account's draft (if any)."""
        await self._session.execute(delete(drafts_table).where(drafts_table.c.account_id == account_id))


class PublicationRepository:
    """Published drafts, newest last."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        account_id: str,
        *,
        config_version: int,
        before: dict[str, SectionValue | None],
        after: dict[str, SectionValue],
        by: str,
        at: datetime,
    ) -> None:
        """Record a publication."""
        await self._session.execute(
            insert(publications_table).values(
                account_id=account_id,
                config_version=config_version,
                before=before,
                after=after,
                published_at=at,
                published_by=by,
            )
        )

    async def latest(self, account_id: str) -> Publication | None:
        """The account's last publication (the caller holds the account's lock)."""
        query = (
            select(publications_table)
            .where(publications_table.c.account_id == account_id)
            .order_by(publications_table.c.id.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return Publication(
            row["id"], row["config_version"], row["before"], row["after"], row["published_at"], row["unpublished_at"]
        )

    async def mark_unpublished(self, publication_id: int, at: datetime) -> None:
        """The publication was undone."""
        await self._session.execute(
            update(publications_table).where(publications_table.c.id == publication_id).values(unpublished_at=at)
        )


class ReplayRepository:
    """Draft replays."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: ReplayRecord) -> None:
        """Store a new replay."""
        await self._session.execute(insert(replays_table).values(**asdict(record)))

    async def get(self, account_id: str, replay_id: str, *, for_update: bool = False) -> ReplayRecord | None:
        """The account's replay with this id, optionally locked until commit."""
        query = select(replays_table).where(replays_table.c.account_id == account_id, replays_table.c.id == replay_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else ReplayRecord(**dict(row))

    async def running(self, account_id: str) -> ReplayRecord | None:
        """The account's latest replay still running, if any."""
        query = (
            select(replays_table)
            .where(replays_table.c.account_id == account_id, replays_table.c.state.in_(RUNNING_STATES))
            .order_by(replays_table.c.requested_at.desc())
            .limit(1)
        )
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else ReplayRecord(**dict(row))

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` replays requested before ``before``; return how many."""
        oldest = select(replays_table.c.id).where(replays_table.c.requested_at < before).limit(limit)
        result = await self._session.execute(
            delete(replays_table).where(replays_table.c.id.in_(oldest.scalar_subquery()))
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def save(self, record: ReplayRecord) -> None:
        """Write the replay's progress back."""
        values = asdict(record)
        del values["id"], values["account_id"]
        await self._session.execute(
            update(replays_table)
            .where(replays_table.c.account_id == record.account_id, replays_table.c.id == record.id)
            .values(**values)
        )
