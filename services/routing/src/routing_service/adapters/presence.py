"""Users' presence reported by the human inbox, kept apart from the admin's configuration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.adapters.orm import user_presence_table


class PresenceRepository:
    """Presence per user of an account; a report older than the stored one changes nothing."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def report(self, account_id: str, user_id: str, *, available: bool, changed_at: datetime) -> bool:
        """Store the user's presence unless a later report is stored; True when stored."""
        table = user_presence_table
        statement = (
            insert(table)
            .values(account_id=account_id, user_id=user_id, available=available, changed_at=changed_at)
            .on_conflict_do_update(
                index_elements=["account_id", "user_id"],
                set_={"available": available, "changed_at": changed_at},
                where=table.c.changed_at <= changed_at,
            )
            .returning(table.c.user_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def of_account(self, account_id: str) -> dict[str, bool]:
        """The presence of every user of the account the inbox reported on."""
        table = user_presence_table
        rows = await self._session.execute(
            select(table.c.user_id, table.c.available).where(table.c.account_id == account_id)
        )
        return {row.user_id: row.available for row in rows}
