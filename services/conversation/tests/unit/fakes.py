"""A fake unit of work and answer engine for handler tests: in memory, counting open transactions."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Self

from conversation_service.domain.composer import ComposedAnswer, SourceRef
from conversation_service.domain.model import AgentProfileRecord, ConversationThread
from conversation_service.domain.retrieval import ContentUnavailableError
from conversation_service.handlers.answering import Attempt, ExpectedQuestion
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import CloudEvent


@dataclass
class FakeDatabase:
    """What a fake unit of work commits to, and how many transactions are open right now."""

    threads: dict[tuple[str, str], ConversationThread] = field(default_factory=dict)
    profiles: dict[str, AgentProfileRecord] = field(default_factory=dict)
    claimed: set[tuple[str, str]] = field(default_factory=set)
    published: list[tuple[str, str | None, CloudEvent[Any]]] = field(default_factory=list)
    open_transactions: int = 0


class FakeProfiles:
    """Profiles by account."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database

    async def apply(self, snapshot: AgentConfigSnapshot) -> bool:
        """Not needed by these tests."""
        raise NotImplementedError

    async def get(self, account_id: str) -> AgentProfileRecord | None:
        """The stored profile, if any."""
        return self._database.profiles.get(account_id)


class FakeThreads:
    """Threads held in the unit of work until it commits."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.changed: dict[tuple[str, str], ConversationThread] = {}

    async def peek(self, account_id: str, thread_id: str) -> ConversationThread | None:
        """A copy of the committed thread."""
        stored = self._database.threads.get((account_id, thread_id))
        return None if stored is None else replace(stored, turns=list(stored.turns))

    async def lock(self, account_id: str, thread_id: str, now: datetime) -> ConversationThread:
        """A copy of the committed thread, or a new one."""
        return await self.peek(account_id, thread_id) or ConversationThread.new(account_id, thread_id, at=now)

    async def lock_many(
        self, keys: Collection[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], ConversationThread]:
        """Each thread, as ``lock`` gives it."""
        return {key: await self.lock(*key, now) for key in keys}

    async def save(self, record: ConversationThread) -> None:
        """Kept until commit."""
        self.changed[(record.account_id, record.thread_id)] = record

    async def claim_due_for_resolution(self, now: datetime, default_hours: int, limit: int) -> list[ConversationThread]:
        """Not needed by these tests."""
        raise NotImplementedError


class FakeUnitOfWork:
    """Claims, thread writes and events become visible in the database only at commit."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.profiles = FakeProfiles(database)
        self.threads = FakeThreads(database)
        self._claims: set[tuple[str, str]] = set()
        self._staged: list[tuple[str, str | None, CloudEvent[Any]]] = []
        self._after: list[Callable[[], None]] = []

    async def __aenter__(self) -> Self:
        self._database.open_transactions += 1
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._database.open_transactions -= 1

    async def claim_event(self, consumer: str, event_id: str) -> bool:
        """False when the event was committed before."""
        claim = (consumer, event_id)
        if claim in self._database.claimed or claim in self._claims:
            return False
        self._claims.add(claim)
        return True

    async def publish(
        self, topic: str, key: str | None, event: CloudEvent[Any], *, state_key: Hashable | None = None
    ) -> None:
        """Staged until commit."""
        self._staged.append((topic, key, event))

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run at commit."""
        self._after.append(action)

    async def commit(self) -> None:
        """Make everything visible."""
        self._database.claimed |= self._claims
        self._database.threads.update(self.threads.changed)
        self._database.published.extend(self._staged)
        for action in self._after:
            action()


class FakeEngine:
    """Answers every question with one passage (or raises while ``content_down``), noting open transactions."""

    def __init__(self, database: FakeDatabase) -> None:
        self._database = database
        self.content_down = False
        self.supported = True
        self.transactions_seen: list[int] = []

    async def prefetch(self, questions: Sequence[ExpectedQuestion]) -> None:
        """Nothing ahead."""

    async def answer(self, account_id: str, question: str, **options: Any) -> Attempt:
        """A fixed answer, or a miss when ``supported`` is off."""
        self.transactions_seen.append(self._database.open_transactions)
        if self.content_down:
            raise ContentUnavailableError("index refused the connection")
        ref = SourceRef(title="Passwords", url="https://example.test/passwords")
        if not self.supported:
            return Attempt(False, None, 0.1, (ref,))
        answer = ComposedAnswer(text="Open Settings.", language="en", citations=(ref,), passage="Open Settings.")
        return Attempt(True, answer, 0.9, (ref,))
