"""Admin-api's unit of work over its schema, and the request transaction use cases can join.

A creating request with an ``Idempotency-Key`` runs its use case and stores the
response in one transaction (``request_transaction``), so a crash can never
leave the action done but the key unrecorded; the key is locked first, so two
identical concurrent requests run the action once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Self

from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork

from admin_api.adapters.repositories import (
    AccountRepository,
    ApiKeyRepository,
    AuditRepository,
    ConversationFactRepository,
    CreditStateRepository,
    IdempotencyRepository,
    KnowledgeGapRepository,
    SourceRepository,
)


class AdminUnitOfWork(SqlUnitOfWork):
    """Transaction scope for admin-api's use cases, with its repositories."""

    accounts: AccountRepository
    keys: ApiKeyRepository
    sources: SourceRepository
    credits: CreditStateRepository
    facts: ConversationFactRepository
    gaps: KnowledgeGapRepository
    audit: AuditRepository
    idempotency: IdempotencyRepository

    def on_begin(self) -> None:
        """Bind the repositories to the new session."""
        self.accounts = AccountRepository(self.session)
        self.keys = ApiKeyRepository(self.session)
        self.sources = SourceRepository(self.session)
        self.credits = CreditStateRepository(self.session)
        self.facts = ConversationFactRepository(self.session)
        self.gaps = KnowledgeGapRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)


_request_transaction: ContextVar[AdminUnitOfWork | None] = ContextVar("admin_request_transaction", default=None)


class JoinedUnitOfWork(AdminUnitOfWork):
    """A use case's unit of work inside a request transaction: same session, the request commits."""

    def __init__(self, outer: AdminUnitOfWork) -> None:
        self._outer = outer

    async def __aenter__(self) -> Self:
        self._session = self._outer.session
        self.on_begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # Nothing to close: an error propagates to the request transaction, which rolls everything back.
        self._session = None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Claim in the request transaction."""
        return await self._outer.claim_event(consumer, event_id)

    async def publish(self, topic: str, key: str | None, event: CloudEvent[Any]) -> None:
        """Stage in the request transaction (the relay is woken when it commits)."""
        await self._outer.publish(topic, key, event)

    async def commit(self) -> None:
        """Send the changes so far to the database; they become durable with the request transaction."""
        await self.session.flush()

    async def rollback(self) -> None:
        """A joined unit of work cannot discard part of the request's transaction."""
        raise RuntimeError("roll back the request transaction instead of a joined unit of work")


def joined_or_new(create: Callable[[], AdminUnitOfWork]) -> AdminUnitOfWork:
    """The request transaction's unit of work when one is open, else a new one from ``create``."""
    outer = _request_transaction.get()
    return JoinedUnitOfWork(outer) if outer is not None else create()


@asynccontextmanager
async def request_transaction(create: Callable[[], AdminUnitOfWork]) -> AsyncIterator[AdminUnitOfWork]:
    """One transaction for a whole request: use cases' units of work join it; the caller commits it."""
    async with create() as uow:
        token = _request_transaction.set(uow)
        try:
            yield uow
        finally:
            _request_transaction.reset(token)
