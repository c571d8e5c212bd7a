"""An in-memory unit of work for handler unit tests: every change, claim and event visible only after commit,
alone or joined to a batch's shared transaction (``InMemoryStore.batch``), as ``BatchConsumer`` runs one."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from copy import deepcopy
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from customer_agent_shared.events.envelope import CloudEvent

TablesT = TypeVar("TablesT")


@dataclass
class InMemoryDatabase(Generic[TablesT]):
    """What the units of work committed: a service's tables, the inbox's claims and the staged events."""

    tables: TablesT
    claimed: set[tuple[str, str]] = field(default_factory=set)
    published: list[tuple[str, str | None, CloudEvent[Any]]] = field(default_factory=list)


def _commit(working: InMemoryDatabase[TablesT], database: InMemoryDatabase[TablesT]) -> None:
    """The working copy becomes the committed database."""
    database.tables = working.tables
    database.claimed = working.claimed
    database.published = working.published


@dataclass
class InMemoryBatch(Generic[TablesT]):
    """A shared transaction (``shared_transaction``, a batch's): the units of work opened in it work on its copy
    of the database, share its caches and leave what follows a commit to its own commit."""

    database: InMemoryDatabase[TablesT]
    working: InMemoryDatabase[TablesT] = field(init=False)
    caches: dict[str, dict[Hashable, Any]] = field(default_factory=dict)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.working = deepcopy(self.database)

    def commit(self) -> None:
        """What the batch's units of work did becomes the committed database; then what follows its commit runs."""
        _commit(self.working, self.database)
        for action in self.after_commit:
            action()


class InMemoryUnitOfWork(Generic[TablesT]):
    """Works on a copy of the committed database; its commit makes the copy the committed one. Joined to a
    ``batch``, it works on the batch's copy and shares its caches; the batch commits.

    A service's fake subclasses it and attaches its fake repositories to the copy's tables in ``bind``.
    """

    def __init__(self, database: InMemoryDatabase[TablesT], batch: InMemoryBatch[TablesT] | None = None) -> None:
        self._database = database
        self._batch = batch
        self._working = database if batch is None else batch.working  # each begin takes its own copy
        self._caches: dict[str, dict[Hashable, Any]] = {}
        self._after: list[Callable[[], None]] = []

    def bind(self, tables: TablesT) -> None:
        """Attach the service's fake repositories to ``tables`` (called at begin and after each commit)."""
        raise NotImplementedError

    def _begin(self) -> None:
        if self._batch is None:
            self._caches = {}  # a new transaction keeps nothing of the last
            self._working = deepcopy(self._database)
        else:  # joined: on the batch's copy itself, whose commit is the batch's
            self._working = self._batch.working
        self.bind(self._working.tables)

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._after = []

    def transaction_cache(self, name: str) -> dict[Hashable, Any]:
        """A dict that lives until the transaction ends: the batch's when joined to one."""
        return self._transaction_caches().setdefault(name, {})

    def _transaction_caches(self) -> dict[str, dict[Hashable, Any]]:
        return self._caches if self._batch is None else self._batch.caches

    def _actions(self) -> list[Callable[[], None]]:
        return self._after if self._batch is None else self._batch.after_commit

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """False when the event was claimed before."""
        if (consumer, event_id) in self._working.claimed:
            return False
        self._working.claimed.add((consumer, event_id))
        return True

    async def publish(
        self, topic: str, key: str | None, event: CloudEvent[Any], *, state_key: Hashable | None = None
    ) -> None:
        """Staged with the rest of the copy."""
        self._working.published.append((topic, key, event))

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run at commit: the batch's when joined to one."""
        self._actions().append(action)

    async def commit(self) -> None:
        """The copy becomes the committed database; work goes on on a new copy. Joined to a batch, nothing yet:
        the batch commits."""
        if self._batch is not None:
            return
        _commit(self._working, self._database)
        self._begin()
        actions, self._after = self._after, []
        for action in actions:
            action()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """On an error, go back to the working copy, the transaction's caches and the after-commit actions as
        they were before it."""
        working, after = deepcopy(self._working), list(self._actions())
        caches = {name: dict(cache) for name, cache in self._transaction_caches().items()}
        try:
            yield
        except BaseException:
            self._working = working
            if self._batch is not None:
                self._batch.working = working
            self._actions()[:] = after
            for name, cache in self._transaction_caches().items():  # in place: repositories hold these dicts
                cache.clear()
                cache.update(caches.get(name, {}))
            self.bind(working.tables)
            raise


class InMemoryStore(Generic[TablesT]):
    """One in-memory database; a service's fake opens its units of work over it, joined to ``joining`` if a batch
    is open."""

    def __init__(self, database: InMemoryDatabase[TablesT]) -> None:
        self.database = database
        self.joining: InMemoryBatch[TablesT] | None = None
        """The batch open now, which the units of work opened meanwhile join."""

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[InMemoryBatch[TablesT]]:
        """A shared transaction, committed when the block ends without an error (else nothing of it stays)."""
        batch = self.joining = InMemoryBatch(self.database)
        try:
            yield batch
        finally:
            self.joining = None
        batch.commit()
