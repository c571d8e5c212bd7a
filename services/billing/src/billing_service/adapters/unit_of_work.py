"""Billing's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork

from billing_service.adapters.ledger_repository import LedgerRepository
from billing_service.adapters.repositories import AccountRepository, CommandRepository
from billing_service.adapters.thread_repository import ThreadRepository


class BillingUnitOfWork(SqlUnitOfWork):
    """Transaction scope for billing's use cases, with its repositories."""

    accounts: AccountRepository
    ledger: LedgerRepository
    threads: ThreadRepository
    commands: CommandRepository

    def on_begin(self) -> None:
        """Bind the repositories to this transaction's session."""
        self.accounts = AccountRepository(
            self.session, kept=self.transaction_cache("accounts"), write_at_commit=self.write_at_commit
        )
        self.ledger = LedgerRepository(self.session, kept=self.transaction_cache("ledger"))
        self.threads = ThreadRepository(
            self.session, kept=self.transaction_cache("threads"), write_at_commit=self.write_at_commit
        )
        self.commands = CommandRepository(self.session)
