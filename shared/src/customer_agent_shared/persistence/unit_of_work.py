"""Unit of work: one transaction for state, outgoing events (outbox) and the inbox claim.

Repositories add and query through ``session``; only ``commit`` commits. After a
commit that staged events the outbox relay is woken so they leave at once.

A consumer handling a fetched batch of messages opens a ``shared_transaction``:
every unit of work of the same database opened inside it joins that one
transaction instead of starting its own. A joined ``commit`` only flushes; the
batch commits once, with its staged events inserted in one statement. This
turns the per-message BEGIN, COMMIT and outbox insert into one per batch; if
anything in the batch fails the caller rolls the whole batch back and handles
its messages one transaction each. Repositories may also keep the rows they
locked for the rest of the transaction (``transaction_cache``) and leave their
updates to one statement at its commit (``write_at_commit``). A part of a
transaction that may fail alone (one account of a batch) runs in ``savepoint``,
which undoes all of that on an error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Executable, Table
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.persistence.advisory_locks import try_lock
from customer_agent_shared.persistence.inbox import claim_event, claim_events
from customer_agent_shared.persistence.outbox import OutboxRelay, outbox_row, stage_rows

WriteAtCommit = Callable[[Executable, Hashable, dict[str, Any]], Awaitable[None]]
"""``SqlUnitOfWork.write_at_commit`` as a repository receives it."""
WritePending = Callable[[], Awaitable[None]]
"""``SqlUnitOfWork.write_pending`` as a repository receives it."""


class TransactionScopedRepository:
    """Base of a repository that keeps the rows it locked or wrote until the transaction ends and leaves
    its writes to a shared transaction's commit (``SqlUnitOfWork.transaction_cache``, ``write_at_commit``).

    Without them (a unit of work on its own, a test) it keeps rows for its own life and writes at once.
    """

    def __init__(
        self,
        session: AsyncSession,
        *,
        kept: dict[Hashable, Any] | None = None,
        write_at_commit: WriteAtCommit | None = None,
    ) -> None:
        self._session = session
        self._kept: dict[Hashable, Any] = {} if kept is None else kept
        self._write_at_commit = write_at_commit

    async def _write(self, statement: Executable, key: Hashable, parameters: dict[str, Any]) -> None:
        """Execute a write now, or at the shared transaction's commit (the last one per key)."""
        if self._write_at_commit is None:
            await self._session.execute(statement, parameters)
        else:
            await self._write_at_commit(statement, key, parameters)


class UncommittedJoinedWorkError(RuntimeError):
    """A joined unit of work claimed an event but ended without committing: the batch cannot keep part of it."""


_shared_transactions: ContextVar[tuple[SqlUnitOfWork, ...]] = ContextVar("shared_transactions", default=())


@dataclass
class TransactionState:
    """What one transaction collects until it commits or rolls back. Every unit of work joined to a
    shared transaction uses that transaction's state; a unit of work on its own has its own."""

    shared: bool = False
    """A shared transaction: outbox rows may replace each other (``state_key``) and writes wait for the commit."""
    outbox_rows: list[dict[str, Any] | None] = field(default_factory=list)
    """Outbox rows staged, inserted in one statement at the commit (None: replaced, see ``publish``)."""
    staged_states: dict[Hashable, int] = field(default_factory=dict)
    """Per ``state_key`` given to ``publish``: the index in ``outbox_rows`` of the row holding it."""
    staged_events: int = 0
    deferred: dict[Executable, dict[Hashable, dict[str, Any]]] = field(default_factory=dict)
    """Writes of a shared transaction, executed at its commit (see ``write_at_commit``)."""
    preclaimed: dict[str, tuple[set[str], set[str]]] = field(default_factory=dict)
    """Per consumer: (ids claimed ahead by ``claim_events``, those of them not handled before)."""
    caches: dict[str, dict[Hashable, Any]] = field(default_factory=dict)
    """Rows repositories keep for the rest of the transaction (see ``transaction_cache``)."""
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    """What to do once the transaction has committed (see ``after_commit``)."""

    def stage(self, row: dict[str, Any], state_key: Hashable | None) -> None:
        """Stage an outbox row; in a shared transaction it replaces the one staged with the same ``state_key``."""
        if self.shared and state_key is not None:
            replaced = self.staged_states.get(state_key)
            if replaced is not None:
                self.outbox_rows[replaced] = None
            self.staged_states[state_key] = len(self.outbox_rows)
        self.outbox_rows.append(row)
        self.staged_events += 1

    def take_outbox_rows(self) -> list[dict[str, Any]]:
        """The rows to insert at the commit (those not replaced); none are left staged."""
        rows = [row for row in self.outbox_rows if row is not None]
        self.outbox_rows.clear()
        self.staged_states.clear()
        return rows

    def empty_caches(self) -> None:
        """Forget the rows kept: a row read in one transaction is not trusted in the next."""
        # Emptied in place: repositories hold these very dicts.
        for cache in self.caches.values():
            cache.clear()

    def mark(self) -> TransactionState:
        """A copy of what is collected now, for ``restore`` (a savepoint)."""
        return TransactionState(
            shared=self.shared,
            outbox_rows=list(self.outbox_rows),
            staged_states=dict(self.staged_states),
            staged_events=self.staged_events,
            deferred={statement: dict(writes) for statement, writes in self.deferred.items()},
            preclaimed={consumer: (set(ids), set(fresh)) for consumer, (ids, fresh) in self.preclaimed.items()},
            caches={name: dict(cache) for name, cache in self.caches.items()},
            after_commit=list(self.after_commit),
        )

    def restore(self, mark: TransactionState) -> None:
        """Go back to what ``mark`` copied (a savepoint was rolled back)."""
        self.outbox_rows[:] = mark.outbox_rows
        self.staged_states = mark.staged_states
        self.staged_events = mark.staged_events
        self.deferred.clear()
        self.deferred.update(mark.deferred)
        self.preclaimed = mark.preclaimed
        for name, cache in self.caches.items():  # in place: repositories hold these very dicts
            cache.clear()
            cache.update(mark.caches.get(name, {}))
        self.after_commit[:] = mark.after_commit

    def discard(self) -> None:
        """Forget everything collected since the last commit (the transaction was rolled back)."""
        self.outbox_rows.clear()
        self.staged_states.clear()
        self.staged_events = 0
        self.deferred.clear()
        self.preclaimed.clear()  # the claims made ahead were rolled back too
        self.empty_caches()
        self.after_commit.clear()


class SqlUnitOfWork:
    """Base unit of work; services subclass it to attach their repositories in ``on_begin``."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        outbox: Table,
        inbox: Table,
        relay: OutboxRelay | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._outbox = outbox
        self._inbox = inbox
        self._relay = relay
        self._session: AsyncSession | None = None
        self._outer: SqlUnitOfWork | None = None
        """The shared transaction this unit of work joined, if any."""
        self._transaction = TransactionState()
        """This unit of work's, or the shared transaction's it joined."""
        self._claimed = False
        self._committed = False

    @property
    def session(self) -> AsyncSession:
        """The open session (only inside ``async with``)."""
        if self._session is None:
            raise RuntimeError("unit of work used outside 'async with'")
        return self._session

    def on_begin(self) -> None:
        """Hook for subclasses: create repositories bound to ``self.session``."""

    async def __aenter__(self) -> Self:
        self._claimed = self._committed = False
        outer = self._open_shared_transaction()
        if outer is not None:
            self._outer = outer
            self._session = outer.session
            self._transaction = outer._transaction
        else:
            self._session = self._session_factory()
            self._transaction.staged_events = 0
        self.on_begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._session is not None
        if self._outer is not None:
            # Joined: an error propagates to the shared transaction, which rolls the whole batch back.
            self._outer = None
            self._session = None
            self._transaction = TransactionState()
            if exc_type is None and self._claimed and not self._committed:
                # On its own this unit of work would have been discarded; the batch cannot discard a part.
                raise UncommittedJoinedWorkError("a unit of work claimed an event but did not commit")
            return
        try:
            await self._session.rollback()  # no-op after commit; discards anything uncommitted
        finally:
            await self._session.close()
            self._session = None
            # Never committed: what was to follow the commit never happened.
            self._transaction = TransactionState()

    def _open_shared_transaction(self) -> SqlUnitOfWork | None:
        for outer in reversed(_shared_transactions.get()):
            if outer._session_factory is self._session_factory and outer._session is not None:
                return outer
        return None

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """Mark the event handled in this transaction; False means it was handled before."""
        ahead = self._transaction.preclaimed.get(consumer)
        if ahead is not None and event_id in ahead[0]:
            claimed = event_id in ahead[1]
            ahead[1].discard(event_id)  # claiming the same id again in this transaction finds it taken
        else:
            claimed = await claim_event(self.session, self._inbox, consumer, event_id)
        self._claimed = self._claimed or claimed
        return claimed

    async def claim_events(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Claim many events in one statement; ``claim_event`` then answers for them without a round trip.
        Returns the ids not handled before."""
        fresh = await claim_events(self.session, self._inbox, consumer, event_ids)
        self._transaction.preclaimed[consumer] = (set(event_ids), set(fresh))
        return fresh

    def transaction_cache(self, name: str) -> dict[Hashable, Any]:
        """A dict that lives until the transaction ends, shared by every unit of work joined to it.

        A repository keeps rows here that it locked or changed in this transaction, so a later use case of
        the same batch finds them without a round trip. Emptied at commit and rollback: a row read in one
        transaction is not trusted in the next.
        """
        return self._transaction.caches.setdefault(name, {})

    async def write_at_commit(self, statement: Executable, key: Hashable, parameters: dict[str, Any]) -> None:
        """Execute a write now or, in a shared transaction, once at its commit.

        At the commit every statement runs once with all its parameter sets (an executemany); for the same
        ``key`` only the last parameters are kept. Until then the database does not see the write, so a
        repository deferring a row's writes must answer reads of that row from ``transaction_cache``.
        """
        if not self._transaction.shared:
            await self.session.execute(statement, parameters)
        else:
            self._transaction.deferred.setdefault(statement, {})[key] = parameters

    async def write_pending(self) -> None:
        """Execute now the writes ``write_at_commit`` deferred so far (before a read that must see them)."""
        deferred = self._transaction.deferred
        if deferred:
            pending = list(deferred.items())
            deferred.clear()
            for statement, writes in pending:
                await self.session.execute(statement, list(writes.values()))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Run part of the transaction that may fail alone (a SAVEPOINT): on an error what it did is undone and the
        error raised, while the rest of the transaction goes on.

        Undone: its writes (those ``write_at_commit`` deferred too), staged events, claims, after-commit actions
        and the rows it kept (``transaction_cache``; a repository replaces a kept row, never changes it in
        place). Writes deferred before it are executed first: they are not its to undo. A claim made ahead by
        ``claim_events`` is such a write: after a failure its event answers as unclaimed again in this
        transaction, but its inbox row stands, so the caller must redo the event here or roll the whole
        transaction back, never commit without it (the event would count as handled).
        """
        await self.write_pending()
        transaction = self._transaction
        mark, claimed = transaction.mark(), self._claimed
        try:
            async with self.session.begin_nested():
                yield
                await self.write_pending()  # inside it, so that a failing deferred write is undone with it
        except BaseException:
            # A shared transaction's writes deferred inside it would otherwise run at the batch's commit: a
            # row saved without the rows the savepoint rolled back.
            transaction.restore(mark)
            self._claimed = claimed
            raise

    async def try_advisory_lock(self, name: str) -> bool:
        """Take the transaction-level advisory lock named ``name`` (released when the transaction ends); False
        when another transaction holds it. For work one replica at a time should do."""
        return await try_lock(self.session, name)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once this unit of work's changes are committed: at the shared transaction's commit
        when joined, so a batch that is rolled back and redone event by event counts each event once.
        Dropped on rollback. For metrics and other effects outside the database that must match it."""
        self._transaction.after_commit.append(action)

    async def publish(
        self, topic: str, key: str | None, event: CloudEvent[Any], *, state_key: Hashable | None = None
    ) -> None:
        """Stage an event: it is sent only if this unit of work commits.

        ``state_key``: the event carries the whole state of something (an account's credits, say) on a
        topic where only the latest state counts. In a shared transaction, an event staged earlier with the
        same ``state_key`` and not yet sent is then dropped: the batch publishes each state once, not once
        per event that changed it. Only the earlier event is dropped, and only if it was given the key too.
        """
        # Inserted at the commit, all in one statement: a use case that publishes two events (a reply and
        # what happened) costs one round trip, not two; a batch's events, one for the whole batch.
        self._transaction.stage(outbox_row(topic, key, event), state_key)

    async def commit(self) -> None:
        """Commit state, inbox and outbox atomically, then wake the relay.

        Joined to a shared transaction: send the changes so far to the database and start the next
        use case with an empty identity map, as a new session would; the shared transaction commits.
        """
        self._committed = True
        if self._outer is not None:
            await self.session.flush()
            self.session.expunge_all()
            return
        await self.write_pending()
        transaction = self._transaction
        rows = transaction.take_outbox_rows()
        if rows:
            await stage_rows(self.session, self._outbox, rows)
        await self.session.commit()
        transaction.empty_caches()
        actions = list(transaction.after_commit)
        transaction.after_commit.clear()
        for action in actions:
            action()
        if transaction.staged_events and self._relay is not None:
            self._relay.notify()
        transaction.staged_events = 0

    async def rollback(self) -> None:
        """Discard everything since the last commit."""
        if self._outer is not None:
            raise UncommittedJoinedWorkError("a joined unit of work cannot discard part of the shared transaction")
        await self.session.rollback()
        self._transaction.discard()


@asynccontextmanager
async def shared_transaction(create: Callable[[], SqlUnitOfWork]) -> AsyncIterator[SqlUnitOfWork]:
    """One transaction that units of work of the same database opened inside it join; the caller commits it."""
    async with create() as outer:
        outer._transaction.shared = True
        token = _shared_transactions.set((*_shared_transactions.get(), outer))
        try:
            yield outer
        finally:
            _shared_transactions.reset(token)
