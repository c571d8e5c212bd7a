"""Admin-api's unit of work over its schema, and the request transaction use cases can join.

A creating request with an ``Idempotency-Key`` runs its use case and stores the
response in one transaction (``request_transaction``), so a crash can never
leave the action done but the key unrecorded; the key is locked first, so two
identical concurrent requests run the action once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork, shared_transaction
from customer_agent_shared.uploads.postgres import PostgresUploadStore

from admin_api.adapters.draft_repositories import DraftRepository, PublicationRepository, ReplayRepository
from admin_api.adapters.insight_repositories import (
    AuditRepository,
    ConversationFactRepository,
    CreditUsageRepository,
    KnowledgeGapRepository,
)
from admin_api.adapters.repositories import (
    AccountRepository,
    ApiKeyRepository,
    CreditStateRepository,
    IdempotencyRepository,
    SourceRepository,
)


class AdminUnitOfWork(SqlUnitOfWork):
    """Transaction scope for admin-api's use cases, with its repositories."""

    accounts: AccountRepository
    keys: ApiKeyRepository
    sources: SourceRepository
    credits: CreditStateRepository
    credit_usage: CreditUsageRepository
    facts: ConversationFactRepository
    gaps: KnowledgeGapRepository
    audit: AuditRepository
    idempotency: IdempotencyRepository
    drafts: DraftRepository
    publications: PublicationRepository
    replays: ReplayRepository
    uploads: PostgresUploadStore

    def on_begin(self) -> None:
        """Bind the repositories to the new session."""
        self.accounts = AccountRepository(self.session)
        self.keys = ApiKeyRepository(self.session)
        self.sources = SourceRepository(self.session)
        self.credits = CreditStateRepository(self.session)
        self.credit_usage = CreditUsageRepository(self.session)
        self.facts = ConversationFactRepository(self.session, write_at_commit=self.write_at_commit)
        self.gaps = KnowledgeGapRepository(self.session)
        self.audit = AuditRepository(self.session)
        self.idempotency = IdempotencyRepository(self.session)
        self.drafts = DraftRepository(self.session)
        self.publications = PublicationRepository(self.session)
        self.replays = ReplayRepository(self.session)
        self.uploads = PostgresUploadStore(self.session)


@asynccontextmanager
async def request_transaction(create: Callable[[], AdminUnitOfWork]) -> AsyncIterator[AdminUnitOfWork]:
    """One transaction for a whole request: use cases' units of work join it; the caller commits it."""
    async with shared_transaction(create) as uow:
        assert isinstance(uow, AdminUnitOfWork)
        yield uow
