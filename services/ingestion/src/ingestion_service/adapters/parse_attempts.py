"""How many parser processes a file command has started, and why the last one was stopped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingestion_service.adapters.orm import parse_attempts_table


@dataclass(frozen=True)
class ParseAttempt:
    """The attempt now starting (1 for the first) and why the one before it was stopped, if known."""

    number: int
    previous_failure: str | None


class ParseAttemptRepository:
    """Parse attempts per command event; uses the unit of work's session and never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def begin(self, event_id: str, *, account_id: str, source_id: str) -> ParseAttempt:
        """Count one more attempt of ``event_id`` and return it."""
        table = parse_attempts_table
        now = datetime.now(UTC)
        statement = (
            insert(table)
            .values(event_id=event_id, account_id=account_id, source_id=source_id, attempts=1, updated_at=now)
            .on_conflict_do_update(
                index_elements=[table.c.event_id],
                set_={"attempts": table.c.attempts + 1, "updated_at": now},
            )
            .returning(table.c.attempts, table.c.last_failure)
        )
        row = (await self._session.execute(statement)).one()
        return ParseAttempt(number=int(row.attempts), previous_failure=row.last_failure)

    async def record_failure(self, event_id: str, *, reason: str) -> None:
        """Remember why the last attempt of ``event_id`` was stopped."""
        statement = (
            update(parse_attempts_table)
            .where(parse_attempts_table.c.event_id == event_id)
            .values(last_failure=reason, updated_at=datetime.now(UTC))
        )
        await self._session.execute(statement)

    async def forget(self, event_id: str) -> None:
        """Drop the count once the command is done."""
        await self._session.execute(delete(parse_attempts_table).where(parse_attempts_table.c.event_id == event_id))
