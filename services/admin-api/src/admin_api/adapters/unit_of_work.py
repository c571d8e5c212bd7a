"""Admin-api's unit of work over its schema."""

from __future__ import annotations

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
