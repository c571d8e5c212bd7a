"""Unit of work: one transaction for state, outgoing events (outbox) and the inbox claim.

Repositories add and query through ``session``; only ``commit`` commits. After a
commit that staged events the outbox relay is woken so they leave at once.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.persistence.inbox import claim_event
from customer_agent_shared.persistence.outbox import OutboxRelay, stage_event


class SqlUnitOfWork:
    """Base unit of work; services subclass it to attach their repositories in ``on_begin``."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        outbox: Table,
        inbox: Table,
        relay: OutboxRelay | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._inbox = inbox
        self._relay = relay
        self._session: AsyncSession | None = None
        self._staged_events = 0

    @property
    def session(self) -> AsyncSession:
        """The open session (only inside ``async with``)."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    def on_begin(self) -> None:
        """Hook for subclasses: create repositories bound to ``self.session``."""

    async def __aenter__(self) -> Self:
        self._session = self._session_factory()
        self._staged_events = 0
        self.on_begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        try:
            await self._session.rollback()  # no-op after commit; discards anything uncommitted
        finally:
            await self._session.close()
            self._session = None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Mark the event handled in this transaction; False means it was handled before."""
        return await claim_event(self.session, self._inbox, consumer, event_id)

    async def publish(self, topic: str, key: str | None, event: CloudEvent[Any]) -> None:
        """Stage an event: it is sent only if this unit of work commits."""
        await stage_event(self.session, self._outbox, topic, key, event)
        self._staged_events += 1

    async def commit(self) -> None:
        """Commit state, inbox and outbox atomically, then wake the relay."""
        await self.session.commit()
        if self._staged_events and self._relay is not None:
            self._relay.notify()
        self._staged_events = 0

    async def rollback(self) -> None:
        """Discard everything since the last commit."""
        await self.session.rollback()
        self._staged_events = 0
