"""What the use cases need from storage: small protocols the SQL unit of work and a test's fake both meet."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from customer_agent_shared.persistence.retention import LockingUnitOfWork
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWorkProtocol

from billing_service.adapters.ledger_repository import RecordedEntry
from billing_service.adapters.repositories import AccountCounts
from billing_service.domain.ledger import CreditAccount, CreditsUsed, EntryKey, LedgerEntry
from billing_service.domain.pricing import ThreadFacts


class AccountStore(Protocol):
    """Each account's cached ledger state."""

    async def lock(self, account_id: str) -> CreditAccount | None:
        """The account locked for this transaction; None when it has none yet."""
        ...

    async def lock_many(self, account_ids: Collection[str]) -> None:
        """Lock several accounts ahead; ``lock`` then answers for them."""
        ...

    async def insert_if_absent(self, account: CreditAccount) -> bool:
        """Create the account unless it exists; True when created."""
        ...

    async def save(self, account: CreditAccount) -> None:
        """Write the account's state back."""
        ...

    async def lock_due_for_reset(self, now: datetime, limit: int, *, skip: Collection[str] = ()) -> list[str]:
        """Lock up to ``limit`` accounts whose period has ended, other than ``skip``, that no other
        transaction holds."""
        ...

    async def count(self, now: datetime) -> AccountCounts:
        """How many accounts are out of credits and how many periods have ended, read together."""
        ...


class LedgerStore(Protocol):
    """The append-only ledger of every account."""

    async def recorded(self, account_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        """Which of ``keys`` (kind, cause) the account's ledger holds already."""
        ...

    async def find(self, account_id: str, key: EntryKey) -> RecordedEntry | None:
        """The entry with that key, or None."""
        ...

    async def credits_used(self, account_id: str, *, period_start: datetime, now: datetime) -> CreditsUsed:
        """The credits the account used, as its ledger holds them now (see ``domain.ledger``)."""
        ...

    async def append(self, account_id: str, entries: Sequence[LedgerEntry], balance_before: int, at: datetime) -> None:
        """Append entries in order, each with the balance after it."""
        ...

    async def recent(self, account_id: str, limit: int) -> list[RecordedEntry]:
        """The account's latest entries, newest first."""
        ...


class ThreadFactStore(Protocol):
    """What billing knows about each thread."""

    async def get(self, account_id: str, thread_id: str) -> ThreadFacts:
        """The thread's facts (empty for a thread never seen)."""
        ...

    async def get_many(self, keys: Collection[tuple[str, str]]) -> None:
        """Read several threads' facts ahead; ``get`` then answers for them."""
        ...

    async def save(self, account_id: str, thread_id: str, facts: ThreadFacts) -> None:
        """Insert or update the thread's facts."""
        ...

    async def forget_quiet(self, quiet_since: datetime, limit: int) -> int:
        """Delete threads quiet since ``quiet_since``; how many."""
        ...

    async def quiet_resolutions(
        self,
        now: datetime,
        limit: int,
        *,
        skip_accounts: Collection[str] = (),
        skip_threads: Collection[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """Uncharged threads of per-resolution accounts quiet for their resolution hours, the longest quiet
        first, but the threads of ``skip_accounts`` and the ``skip_threads``."""
        ...


class CommandStore(Protocol):
    """Billing commands already applied."""

    async def claim(self, account_id: str, command_id: str, *, command_type: str) -> bool:
        """Record the command as applied; False if it already was."""
        ...


class BillingUnitOfWorkProtocol(UnitOfWorkProtocol, Protocol):
    """One transaction over billing's repositories."""

    @property
    def accounts(self) -> AccountStore:
        """Accounts."""
        ...

    @property
    def ledger(self) -> LedgerStore:
        """The ledger."""
        ...

    @property
    def threads(self) -> ThreadFactStore:
        """Thread facts."""
        ...

    @property
    def commands(self) -> CommandStore:
        """Applied commands."""
        ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """Part of the transaction that may fail alone: on an error what it did is undone and the error raised."""
        ...


class AppliedCommandRetention(Protocol):
    """Forgetting applied command ids past their retention."""

    async def forget_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` command ids applied before ``before``; how many."""
        ...


class RetentionUnitOfWork(LockingUnitOfWork, Protocol):
    """One transaction of the retention sweep."""

    @property
    def commands(self) -> AppliedCommandRetention:
        """Applied commands."""
        ...


UnitOfWorkFactory = Callable[[], BillingUnitOfWorkProtocol]
"""Opens a new unit of work over billing's schema."""
