"""Billing's unit of work over its schema."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork

from billing_service.adapters.repositories import (
    AccountRepository,
    CommandRepository,
    LedgerRepository,
    ThreadRepository,
)


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
        self.ledger = LedgerRepository(self.session)
        self.threads = ThreadRepository(
            self.session, kept=self.transaction_cache("threads"), write_at_commit=self.write_at_commit
        )
        self.commands = CommandRepository(self.session)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Run part of the transaction that may fail alone (a SAVEPOINT): on an error its writes (deferred ones
        too), staged events, after-commit actions and kept rows are undone and the error is raised; the rest
        goes on."""
        await self.write_pending()  # writes deferred before it are not the savepoint's to undo
        transaction = self._transaction
        outbox_rows, staged_states = list(transaction.outbox_rows), dict(transaction.staged_states)
        staged_events, after_commit = transaction.staged_events, len(transaction.after_commit)
        caches = {name: dict(cache) for name, cache in transaction.caches.items()}
        deferred = {statement: dict(writes) for statement, writes in transaction.deferred.items()}
        try:
            async with self.session.begin_nested():
                yield
                await self.write_pending()  # inside it, so that a failing deferred write is undone with it
        except BaseException:
            transaction.outbox_rows[:] = outbox_rows
            transaction.staged_states = staged_states
            transaction.staged_events = staged_events
            del transaction.after_commit[after_commit:]
            # A shared transaction's writes deferred inside it would otherwise run at the batch's commit: an
            # account's balance saved without the ledger entry the savepoint rolled back.
            transaction.deferred.clear()
            transaction.deferred.update(deferred)
            for name, cache in transaction.caches.items():  # in place: the repositories hold these dicts
                cache.clear()
                cache.update(caches.get(name, {}))
            raise
