"""Billing's repositories in memory, for handler tests on a fake unit of work."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from billing_service.adapters.ledger_repository import RecordedEntry
from billing_service.adapters.repositories import AccountCounts
from billing_service.domain.ledger import CreditAccount, CreditsUsed, EntryKey, EntryKind, LedgerEntry, tally_usage
from billing_service.domain.pricing import ThreadFacts, counts_as_resolution
from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork

ThreadKey = tuple[str, str]


@dataclass
class Tables:
    """Billing's state: what a unit of work changes and, at its commit, the fake database keeps."""

    accounts: dict[str, CreditAccount] = field(default_factory=dict)
    ledger: dict[str, list[RecordedEntry]] = field(default_factory=dict)
    threads: dict[ThreadKey, ThreadFacts] = field(default_factory=dict)
    commands: set[tuple[str, str]] = field(default_factory=set)


FakeDatabase = InMemoryDatabase[Tables]


def credits_used(
    entries: Collection[tuple[LedgerEntry, datetime]], *, period_start: datetime, now: datetime
) -> CreditsUsed:
    """The credits used that the ledger's ``entries`` (each with when billing recorded it) add up to, as
    ``domain.ledger`` defines them: each refund with the charge of its cause (none recorded: not counted)."""
    charged_at = {entry.cause_id: at for entry, at in entries if entry.kind is EntryKind.USAGE}
    moves = [
        (charged_at[entry.cause_id], entry.amount)
        for entry, _ in entries
        if entry.kind in (EntryKind.USAGE, EntryKind.REFUND) and entry.cause_id in charged_at
    ]
    return tally_usage(((at.astimezone(UTC).date(), at >= period_start, -amount) for at, amount in moves), now)


class FakeAccounts:
    """Accounts by id (their states are frozen: no copies needed)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def lock(self, account_id: str) -> CreditAccount | None:
        """The account, if opened."""
        return self._tables.accounts.get(account_id)

    async def lock_many(self, account_ids: Collection[str]) -> None:
        """Nothing to read ahead."""

    async def insert_if_absent(self, account: CreditAccount) -> bool:
        """Open the account unless it is open."""
        if account.account_id in self._tables.accounts:
            return False
        self._tables.accounts[account.account_id] = account
        return True

    async def save(self, account: CreditAccount) -> None:
        """Write the state back."""
        self._tables.accounts[account.account_id] = account

    async def lock_due_for_reset(self, now: datetime, limit: int, *, skip: Collection[str] = ()) -> list[str]:
        """Accounts whose period has ended, but ``skip`` (no other transaction here)."""
        return [account_id for account_id in self._due(now) if account_id not in skip][:limit]

    async def count(self, now: datetime) -> AccountCounts:
        """Accounts out of credits and accounts whose period has ended."""
        exhausted = sum(1 for account in self._tables.accounts.values() if account.exhausted)
        return AccountCounts(exhausted=exhausted, due_for_reset=len(self._due(now)))

    def _due(self, now: datetime) -> list[str]:
        return sorted(account_id for account_id, account in self._tables.accounts.items() if account.reset_at <= now)


class FakeLedger:
    """Entries per account, oldest first."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def recorded(self, account_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        """The keys the account's ledger holds."""
        held = {(EntryKind(entry.kind), entry.cause_id) for entry in self._tables.ledger.get(account_id, [])}
        return {key for key in keys if key in held}

    async def find(self, account_id: str, key: EntryKey) -> RecordedEntry | None:
        """The entry with that key."""
        for entry in self._tables.ledger.get(account_id, []):
            if (EntryKind(entry.kind), entry.cause_id) == key:
                return entry
        return None

    async def credits_used(self, account_id: str, *, period_start: datetime, now: datetime) -> CreditsUsed:
        """What the account's entries add up to (``credits_used``)."""
        entries = [
            (LedgerEntry(EntryKind(entry.kind), entry.cause_id, entry.amount), entry.recorded_at)
            for entry in self._tables.ledger.get(account_id, [])
        ]
        return credits_used(entries, period_start=period_start, now=now)

    async def append(self, account_id: str, entries: Sequence[LedgerEntry], balance_before: int, at: datetime) -> None:
        """Each entry with the balance after it."""
        balance = balance_before
        for entry in entries:
            balance += entry.amount
            recorded = RecordedEntry(entry.kind.value, entry.cause_id, entry.amount, balance, at, entry.note)
            self._tables.ledger.setdefault(account_id, []).append(recorded)

    async def recent(self, account_id: str, limit: int) -> list[RecordedEntry]:
        """Newest first."""
        return list(reversed(self._tables.ledger.get(account_id, [])))[:limit]


class FakeThreadFacts:
    """Facts per thread."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def get(self, account_id: str, thread_id: str) -> ThreadFacts:
        """Empty facts for a thread never seen."""
        return self._tables.threads.get((account_id, thread_id), ThreadFacts())

    async def get_many(self, keys: Collection[tuple[str, str]]) -> None:
        """Nothing to read ahead."""

    async def save(self, account_id: str, thread_id: str, facts: ThreadFacts) -> None:
        """Insert or update."""
        self._tables.threads[(account_id, thread_id)] = facts

    async def forget_quiet(self, quiet_since: datetime, limit: int) -> int:
        """Drop threads quiet since ``quiet_since``."""
        quiet = [
            key
            for key, facts in self._tables.threads.items()
            if facts.last_activity_at is not None and facts.last_activity_at < quiet_since
        ][:limit]
        for key in quiet:
            del self._tables.threads[key]
        return len(quiet)

    async def quiet_resolutions(
        self,
        now: datetime,
        limit: int,
        *,
        skip_accounts: Collection[str] = (),
        skip_threads: Collection[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """Uncharged resolvable threads of per-resolution accounts, quiet for the plan's hours, but those skipped."""
        found = []
        for (account_id, thread_id), facts in self._tables.threads.items():
            if account_id in skip_accounts or (account_id, thread_id) in skip_threads:
                continue
            plan = self._tables.accounts[account_id].plan
            quiet_since = now - timedelta(hours=plan.resolution_hours)
            if (
                plan.pricing_rule is PricingRule.PER_RESOLUTION
                and not facts.charged
                and facts.billable
                and counts_as_resolution(facts)
                and facts.last_activity_at is not None
                and facts.last_activity_at <= quiet_since
            ):
                found.append((account_id, thread_id))
        return found[:limit]


class FakeCommands:
    """Applied command ids per account."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def claim(self, account_id: str, command_id: str, *, command_type: str) -> bool:
        """False when applied before."""
        if (account_id, command_id) in self._tables.commands:
            return False
        self._tables.commands.add((account_id, command_id))
        return True


class FakeUnitOfWork(InMemoryUnitOfWork[Tables]):
    """Billing's repositories over the copy of the committed tables."""

    accounts: FakeAccounts
    ledger: FakeLedger
    threads: FakeThreadFacts
    commands: FakeCommands

    def bind(self, tables: Tables) -> None:
        """Attach the fake repositories to ``tables``."""
        self.accounts = FakeAccounts(tables)
        self.ledger = FakeLedger(tables)
        self.threads = FakeThreadFacts(tables)
        self.commands = FakeCommands(tables)
