"""Routing's repositories in memory, for handler tests on a fake unit of work (alone, or joined to a batch's)."""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import MessageReceived, TranscriptEntry
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.testing.in_memory_unit_of_work import (
    InMemoryBatch,
    InMemoryDatabase,
    InMemoryStore,
    InMemoryUnitOfWork,
)
from routing_service.domain.handoff import LoadKey
from routing_service.domain.model import RoutedThread
from routing_service.domain.ownership import ThreadState, Transition

ThreadKey = tuple[str, str]


@dataclass(frozen=True)
class RecordedTransition:
    """One transition as the fake stored it."""

    thread_id: str
    step: Transition
    cause_event_type: str
    reason: str | None


@dataclass
class Tables:
    """Routing's state: what a unit of work changes and, at its commit, the fake database keeps."""

    threads: dict[ThreadKey, RoutedThread] = field(default_factory=dict)
    transcripts: dict[ThreadKey, list[tuple[str, TranscriptEntry]]] = field(default_factory=dict)
    transitions: list[RecordedTransition] = field(default_factory=list)
    loads: dict[tuple[str, LoadKey], int] = field(default_factory=dict)
    configs: dict[str, AgentConfigSnapshot] = field(default_factory=dict)
    credits: dict[str, CreditState] = field(default_factory=dict)
    presence: dict[tuple[str, str], tuple[bool, datetime]] = field(default_factory=dict)


FakeDatabase = InMemoryDatabase[Tables]


class FakeThreads:
    """Threads and their transitions."""

    def __init__(self, tables: Tables, kept: dict[Hashable, Any]) -> None:
        self._tables = tables
        self._kept = kept
        """Lives as long as the transaction: what ``receive_many`` received ahead, by message."""

    async def receive(self, message: MessageReceived, *, sent_at: datetime, now: datetime) -> RoutedThread | None:
        """Store the message and count it on its thread (created on first sight); None for a repeat. A message
        ``receive_many`` received ahead answers from what it kept, once."""
        ahead = _received(message)
        if ahead in self._kept:
            thread: RoutedThread | None = self._kept.pop(ahead)
            return thread
        return self._receive(message, sent_at)

    def _receive(self, message: MessageReceived, sent_at: datetime) -> RoutedThread | None:
        key = (message.account_id, message.thread_id)
        entries = self._tables.transcripts.setdefault(key, [])
        entry_key = f"message:{message.message_id}"
        if any(stored_key == entry_key for stored_key, _ in entries):
            return None
        entries.append((entry_key, TranscriptEntry(role="visitor", text=message.text, at=sent_at)))
        stored = self._tables.threads.get(key)
        if stored is None:
            stored = RoutedThread(
                message.account_id, message.thread_id, ThreadState.NEW, message.channel, None, None, True, None, None, 0
            )
        stored.messages += 1
        stored.last_message_id = message.message_id
        stored.locale = message.sender.locale or stored.locale
        self._tables.threads[key] = stored
        return replace(stored)

    async def receive_many(self, messages: Sequence[tuple[MessageReceived, datetime]], now: datetime) -> None:
        """``receive`` ahead for the first message of several threads, kept for each one's ``receive``."""
        for message, sent_at in messages:
            self._kept[_received(message)] = self._receive(message, sent_at)

    async def states(self, keys: Collection[ThreadKey]) -> dict[ThreadKey, ThreadState]:
        """The stored state of each thread seen."""
        return {key: self._tables.threads[key].state for key in keys if key in self._tables.threads}

    async def lock_in_order(self, keys: Collection[ThreadKey], *, keep: bool = True) -> None:
        """Nothing to lock: one fake unit of work runs at a time."""

    async def lock(self, account_id: str, thread_id: str) -> RoutedThread | None:
        """A copy of the thread, if routing saw it."""
        stored = self._tables.threads.get((account_id, thread_id))
        return replace(stored) if stored is not None else None

    async def save(self, thread: RoutedThread, now: datetime) -> None:
        """Write the thread back."""
        self._tables.threads[(thread.account_id, thread.thread_id)] = replace(thread)

    async def record_transitions(
        self,
        thread: RoutedThread,
        transitions: tuple[Transition, ...],
        *,
        cause_event_id: str,
        cause_event_type: str,
        reason: str | None,
        at: datetime,
    ) -> None:
        """Append the transitions."""
        self._tables.transitions.extend(
            RecordedTransition(thread.thread_id, step, cause_event_type, reason) for step in transitions
        )


class FakeTranscripts:
    """Transcript entries by thread."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def record(
        self, account_id: str, thread_id: str, *, entry_key: str, role: str, text: str, at: datetime
    ) -> None:
        """Store the entry unless its key is there."""
        entries = self._tables.transcripts.setdefault((account_id, thread_id), [])
        if all(stored_key != entry_key for stored_key, _ in entries):
            entries.append((entry_key, TranscriptEntry(role=role, text=text, at=at)))

    async def recent(self, account_id: str, thread_id: str, limit: int) -> list[TranscriptEntry]:
        """The last entries, oldest first."""
        return [entry for _, entry in self._tables.transcripts.get((account_id, thread_id), [])][-limit:]


class FakeLoads:
    """Open threads per user and team."""

    def __init__(self, tables: Tables, kept: dict[Hashable, Any]) -> None:
        self._tables = tables
        self._kept = kept
        """Lives as long as the transaction: the accounts of its first hold."""

    @property
    def foreseen(self) -> set[str] | None:
        """The accounts of this transaction's first hold; None before it."""
        held: set[str] | None = self._kept.get("foreseen")
        return held

    async def wait_for_assignments(self, account_ids: Collection[str]) -> None:
        """Nothing to wait for: one fake transaction runs at a time; only its first hold may wait."""
        assert self.foreseen is None, "only a transaction's first hold of assignments may wait"
        self._kept["foreseen"] = set(account_ids)

    async def hold_free_assignments(self, account_ids: Collection[str]) -> set[str]:
        """Held already by the first hold: one fake unit of work runs at a time, so no thread changes between
        the unlocked read that foresaw its changes and its lock."""
        assert self.foreseen is not None, "the first hold comes before any other"
        assert set(account_ids) <= self.foreseen, f"{set(account_ids) - self.foreseen} not foreseen"
        return set()

    def first_hold_made(self) -> bool:
        """Whether this unit of work held accounts' assignments already."""
        return self.foreseen is not None

    async def loads(self, account_id: str) -> dict[LoadKey, int]:
        """The account's loads."""
        return {holder: load for (account, holder), load in self._tables.loads.items() if account == account_id}

    async def change(self, account_id: str, holder: LoadKey, delta: int) -> None:
        """Never below zero; only in an account whose assignments are held."""
        assert account_id in (self.foreseen or set()), f"a load of {account_id} changed without holding its account"
        key = (account_id, holder)
        self._tables.loads[key] = max(0, self._tables.loads.get(key, 0) + delta)

    async def free(self, places: Iterable[tuple[str, LoadKey]]) -> None:
        """One place off each listed, as ``change`` by -1."""
        for account_id, holder in places:
            await self.change(account_id, holder, -1)


class FakeAccounts:
    """Config snapshots and credit states, the newest version kept."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def save_config(self, snapshot: AgentConfigSnapshot) -> bool:
        """Kept when newer."""
        stored = self._tables.configs.get(snapshot.account_id)
        if stored is not None and stored.version >= snapshot.version:
            return False
        self._tables.configs[snapshot.account_id] = snapshot
        return True

    async def save_credit_state(self, state: CreditState, at: datetime) -> bool:
        """Kept when newer."""
        stored = self._tables.credits.get(state.account_id)
        if stored is not None and stored.version >= state.version:
            return False
        self._tables.credits[state.account_id] = state
        return True

    async def load(self, account_id: str) -> tuple[AgentConfigSnapshot | None, int, bool, int]:
        """What is stored, -1 versions when nothing is."""
        config = self._tables.configs.get(account_id)
        credit = self._tables.credits.get(account_id)
        return (
            config,
            config.version if config is not None else -1,
            credit.exhausted if credit is not None else False,
            credit.version if credit is not None else -1,
        )


class FakePresence:
    """Presence per user, the latest report kept."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def report(self, account_id: str, user_id: str, *, available: bool, changed_at: datetime) -> bool:
        """Kept unless a later report is stored."""
        stored = self._tables.presence.get((account_id, user_id))
        if stored is not None and stored[1] > changed_at:
            return False
        self._tables.presence[(account_id, user_id)] = (available, changed_at)
        return True

    async def of_account(self, account_id: str) -> dict[str, bool]:
        """Every reported user of the account."""
        return {user: report[0] for (account, user), report in self._tables.presence.items() if account == account_id}


FakeBatch = InMemoryBatch[Tables]


class FakeUnitOfWork(InMemoryUnitOfWork[Tables]):
    """Routing's repositories over the copy of the committed tables, or over a batch's when joined to it."""

    threads: FakeThreads
    transcripts: FakeTranscripts
    loads: FakeLoads
    accounts: FakeAccounts
    presence: FakePresence

    def bind(self, tables: Tables) -> None:
        """Attach the fake repositories to ``tables``."""
        self.threads = FakeThreads(tables, self.transaction_cache("threads"))
        self.transcripts = FakeTranscripts(tables)
        self.loads = FakeLoads(tables, self.transaction_cache("assignments"))
        self.accounts = FakeAccounts(tables)
        self.presence = FakePresence(tables)


class FakeStore(InMemoryStore[Tables]):
    """Opens units of work over one fake database; inside ``batch`` they join its shared transaction."""

    def __init__(self) -> None:
        super().__init__(FakeDatabase(Tables()))

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self.database, self.joining)


def _received(message: MessageReceived) -> tuple[str, ...]:
    return ("received", message.account_id, message.thread_id, message.message_id)
