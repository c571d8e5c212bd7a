"""Routing's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork

from routing_service.adapters.account_repositories import AccountRepository, LoadRepository
from routing_service.adapters.presence import PresenceRepository
from routing_service.adapters.repositories import ThreadRepository
from routing_service.adapters.retention import RetentionRepository
from routing_service.adapters.transcript_repository import TranscriptRepository


class RoutingUnitOfWork(SqlUnitOfWork):
    """Transaction scope for routing's use cases, with its repositories."""

    threads: ThreadRepository
    transcripts: TranscriptRepository
    loads: LoadRepository
    accounts: AccountRepository
    presence: PresenceRepository
    retention: RetentionRepository

    def on_begin(self) -> None:
        """Bind the repositories to this unit of work's session."""
        self.threads = ThreadRepository(self.session, kept=self.transaction_cache("threads"))
        self.transcripts = TranscriptRepository(
            self.session, write_at_commit=self.write_at_commit, write_pending=self.write_pending
        )
        self.loads = LoadRepository(self.session, kept=self.transaction_cache("assignments"))
        self.accounts = AccountRepository(self.session)
        self.presence = PresenceRepository(self.session)
        self.retention = RetentionRepository(self.session)
