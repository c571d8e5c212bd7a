"""What the use cases need from storage: small protocols the SQL unit of work and a test's fake both meet."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import MessageReceived, TranscriptEntry
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.persistence.retention import LockingUnitOfWork
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWorkProtocol

from routing_service.domain.handoff import LoadKey
from routing_service.domain.model import RoutedThread
from routing_service.domain.ownership import ThreadState, Transition


class ThreadStore(Protocol):
    """Threads by (account, thread), with the transitions they took."""

    async def receive(self, message: MessageReceived, *, sent_at: datetime, now: datetime) -> RoutedThread | None:
        """Store the visitor message and lock (or create) its thread, counting the message on it; None when
        the message was received before."""
        ...

    async def receive_many(self, messages: Sequence[tuple[MessageReceived, datetime]], now: datetime) -> None:
        """``receive`` ahead for the first message of several threads (with their sent_at)."""
        ...

    async def states(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], ThreadState]:
        """The state of each of these (account, thread) routing has seen, read without locking them."""
        ...

    async def lock_in_order(self, keys: Collection[tuple[str, str]], *, keep: bool = True) -> None:
        """Lock the rows of these threads routing has seen, in (account, thread) order, each kept for its first
        ``lock`` in this transaction."""
        ...

    async def lock(self, account_id: str, thread_id: str) -> RoutedThread | None:
        """The thread locked for this transaction (as ``lock_in_order`` kept it, else locked now); None when
        routing never saw it."""
        ...

    async def save(self, thread: RoutedThread, now: datetime) -> None:
        """Write the thread's state back."""
        ...

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
        """Append each transition with the event that caused it."""
        ...


class TranscriptStore(Protocol):
    """What was said on each thread."""

    async def record(
        self, account_id: str, thread_id: str, *, entry_key: str, role: str, text: str, at: datetime
    ) -> None:
        """Store one entry; one with that key already there is kept."""
        ...

    async def recent(self, account_id: str, thread_id: str, limit: int) -> list[TranscriptEntry]:
        """The last ``limit`` entries, oldest first."""
        ...


class LoadStore(Protocol):
    """Open threads per user and team."""

    async def wait_for_assignments(self, account_ids: Collection[str]) -> None:
        """The transaction's first hold: keep every other transaction from assigning in these accounts until
        this one ends, waiting for those another holds (when: ``assignment_holds``)."""
        ...

    async def hold_free_assignments(self, account_ids: Collection[str]) -> set[str]:
        """Hold those of these accounts' assignments no other transaction holds now, never waiting; the accounts
        another holds (none: all are held now)."""
        ...

    def first_hold_made(self) -> bool:
        """Whether this transaction held accounts' assignments already (even none)."""
        ...

    async def loads(self, account_id: str) -> dict[LoadKey, int]:
        """Current load of every user and team that has one."""
        ...

    async def change(self, account_id: str, holder: LoadKey, delta: int) -> None:
        """Add ``delta`` open threads to a user or team (never below zero)."""
        ...

    async def free(self, places: Iterable[tuple[str, LoadKey]]) -> None:
        """Free one place of each (account, user or team) listed, one more each time it is listed (never below
        zero), all at once, in accounts whose assignments the transaction holds."""
        ...


class AccountStore(Protocol):
    """Each account's folded configuration and credit state."""

    async def save_config(self, snapshot: AgentConfigSnapshot) -> bool:
        """Store the snapshot unless a newer or equal version is stored; True when stored."""
        ...

    async def save_credit_state(self, state: CreditState, at: datetime) -> bool:
        """Store the credit state unless a newer or equal version is stored; True when stored."""
        ...

    async def load(self, account_id: str) -> tuple[AgentConfigSnapshot | None, int, bool, int]:
        """(snapshot, its version, credits exhausted, credit version); -1 versions when unknown."""
        ...


class PresenceStore(Protocol):
    """Users' presence as the inbox reports it."""

    async def report(self, account_id: str, user_id: str, *, available: bool, changed_at: datetime) -> bool:
        """Store the presence unless a later report is stored; True when stored."""
        ...

    async def of_account(self, account_id: str) -> dict[str, bool]:
        """The presence of every user of the account the inbox reported on."""
        ...


class RoutingUnitOfWorkProtocol(UnitOfWorkProtocol, Protocol):
    """One transaction over the service's repositories."""

    @property
    def threads(self) -> ThreadStore:
        """Threads."""
        ...

    @property
    def transcripts(self) -> TranscriptStore:
        """Transcripts."""
        ...

    @property
    def loads(self) -> LoadStore:
        """Loads of users and teams."""
        ...

    @property
    def accounts(self) -> AccountStore:
        """Account configuration and credit state."""
        ...

    @property
    def presence(self) -> PresenceStore:
        """Users' presence."""
        ...

    def transaction_cache(self, name: str) -> dict[Hashable, Any]:
        """A dict that lives until the transaction ends, shared by every unit of work joined to it (a batch's):
        what a batch's ``prepare`` worked out once for its events' ``handle``."""
        ...


class RetentionStore(Protocol):
    """Batched deletes of rows past their retention."""

    async def forget_idle_transcripts(
        self, idle_since: datetime, *, idle_after: datetime, keeping: Collection[ThreadState], limit: int
    ) -> int:
        """Delete up to ``limit`` entries of threads last changed between ``idle_after`` and ``idle_since`` and
        in none of the ``keeping`` states; how many."""
        ...

    async def forget_closed_threads(self, closed_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` threads closed before ``closed_before``, with their transcripts; how many."""
        ...

    async def lock_open_threads(self, untouched_since: datetime, limit: int) -> list[RoutedThread]:
        """Up to ``limit`` threads not closed and untouched since ``untouched_since``, locked (skipping those
        another transaction holds)."""
        ...

    async def forget_threads(self, keys: Collection[tuple[str, str]]) -> int:
        """Delete these threads with their transcripts; how many."""
        ...

    async def forget_entries_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` transcript entries written before ``before``, whatever their thread; how many."""
        ...

    async def forget_transitions(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` ownership changes made before ``before``; how many."""
        ...


class RetentionUnitOfWork(LockingUnitOfWork, Protocol):
    """One transaction of the retention sweep."""

    @property
    def retention(self) -> RetentionStore:
        """Batched deletes."""
        ...

    @property
    def loads(self) -> LoadStore:
        """Loads of users and teams: a thread forgotten while a person holds it frees its place."""
        ...


UnitOfWorkFactory = Callable[[], RoutingUnitOfWorkProtocol]
"""Opens a new unit of work over routing's schema."""
