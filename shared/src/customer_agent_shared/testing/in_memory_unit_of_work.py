"""An in-memory unit of work for handler unit tests: every change, claim and event visible only after commit."""

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


class InMemoryUnitOfWork(Generic[TablesT]):
    """Works on a copy of the committed database; its commit makes the copy the committed one.

    A service's fake subclasses it and attaches its fake repositories to the copy's tables in ``bind``.
    """

    def __init__(self, database: InMemoryDatabase[TablesT]) -> None:
        self._database = database
        self._working = deepcopy(database)
        self._after: list[Callable[[], None]] = []

    def bind(self, tables: TablesT) -> None:
        """Attach the service's fake repositories to ``tables`` (called at begin and after each commit)."""
        raise NotImplementedError

    def _begin(self) -> None:
        self._working = deepcopy(self._database)
        self.bind(self._working.tables)

    async def __aenter__(self) -> Self:
        self._begin()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._after = []

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
        """Run at commit."""
        self._after.append(action)

    async def commit(self) -> None:
        """The copy becomes the committed database; work goes on on a new copy."""
        self._database.tables = self._working.tables
        self._database.claimed = self._working.claimed
        self._database.published = self._working.published
        self._begin()
        actions, self._after = self._after, []
        for action in actions:
            action()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """On an error, go back to the working copy and after-commit actions as they were before it."""
        working, after = deepcopy(self._working), list(self._after)
        try:
            yield
        except BaseException:
            self._working, self._after = working, after
            self.bind(working.tables)
            raise
