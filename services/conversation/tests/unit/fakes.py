"""A fake unit of work and answer engine for handler tests: in memory, counting open transactions."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

from conversation_service.domain.composer import ComposedAnswer, SourceRef
from conversation_service.domain.gap_drafts import DraftSource, PendingDraft
from conversation_service.domain.model import AgentProfileRecord, AskedQuestion, ConversationThread
from conversation_service.domain.retrieval import ContentUnavailableError
from conversation_service.handlers.answering import Attempt, ExpectedQuestion
from customer_agent_shared.events.channels import ChannelRef, ChannelType, MessageReceived, Sender
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.conversations import ConversationAssigned
from customer_agent_shared.events.envelope import CloudEvent, make_event
from customer_agent_shared.testing.in_memory_unit_of_work import InMemoryDatabase, InMemoryUnitOfWork


@dataclass
class QueuedDraft:
    """A queued gap draft with its schedule, lease and end, as the fake keeps it."""

    draft: PendingDraft
    due_at: datetime
    queued_at: datetime
    token: str | None = None
    done_at: datetime | None = None


@dataclass
class Tables:
    """Conversation's tables, as the fake keeps them."""

    threads: dict[tuple[str, str], ConversationThread] = field(default_factory=dict)
    profiles: dict[str, AgentProfileRecord] = field(default_factory=dict)
    questions: dict[tuple[str, str, str], AskedQuestion] = field(default_factory=dict)
    gap_drafts: dict[str, QueuedDraft] = field(default_factory=dict)


class FakeDatabase(InMemoryDatabase[Tables]):
    """The committed tables, claims and events, and how many transactions are open right now."""

    def __init__(self) -> None:
        super().__init__(Tables())
        self.open_transactions = 0

    @property
    def threads(self) -> dict[tuple[str, str], ConversationThread]:
        """The committed threads."""
        return self.tables.threads


class FakeProfiles:
    """Profiles by account."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def apply(self, snapshot: AgentConfigSnapshot) -> bool:
        """Not needed by these tests."""
        raise NotImplementedError

    async def get(self, account_id: str) -> AgentProfileRecord | None:
        """The stored profile, if any."""
        return self._tables.profiles.get(account_id)


class FakeThreads:
    """Threads in the unit of work's copy of the tables."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def peek(self, account_id: str, thread_id: str) -> ConversationThread | None:
        """The thread, if seen."""
        return self._tables.threads.get((account_id, thread_id))

    async def lock(self, account_id: str, thread_id: str, now: datetime) -> ConversationThread:
        """The thread, or a new one."""
        return await self.peek(account_id, thread_id) or ConversationThread.new(account_id, thread_id, at=now)

    async def lock_many(
        self, keys: Collection[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], ConversationThread]:
        """Each thread, as ``lock`` gives it."""
        return {key: await self.lock(*key, now) for key in keys}

    async def save(self, record: ConversationThread) -> None:
        """Into the copy (committed with it)."""
        self._tables.threads[(record.account_id, record.thread_id)] = record

    async def claim_due_for_resolution(self, now: datetime, default_hours: int, limit: int) -> list[ConversationThread]:
        """Not needed by these tests."""
        raise NotImplementedError


class FakeQuestions:
    """The question log in the unit of work's copy of the tables."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def record(self, question: AskedQuestion) -> None:
        """Kept once per message."""
        self._tables.questions.setdefault((question.account_id, question.thread_id, question.message_id), question)

    async def latest(self, account_id: str, limit: int) -> list[AskedQuestion]:
        """Newest first."""
        mine = [q for q in self._tables.questions.values() if q.account_id == account_id]
        return sorted(mine, key=lambda q: q.asked_at, reverse=True)[:limit]

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` questions asked before ``before``."""
        old = [key for key, question in self._tables.questions.items() if question.asked_at < before][:limit]
        for key in old:
            del self._tables.questions[key]
        return len(old)


class FakeGapDrafts:
    """The gap draft queue in the unit of work's copy of the tables (one lease token per call; the same question
    is told apart by gap event only: the SQL queue's dedupe is tested on PostgreSQL)."""

    def __init__(self, tables: Tables) -> None:
        self._tables = tables

    async def add(self, draft: PendingDraft, now: datetime) -> None:
        """Queued once per gap event."""
        self._tables.gap_drafts.setdefault(draft.gap_event_id, QueuedDraft(draft, now, now))

    async def pending(self, account_id: str, *, limit: int) -> int:
        """The account's drafts not done, up to ``limit``."""
        queued = self._tables.gap_drafts.values()
        return min(limit, sum(1 for q in queued if q.draft.account_id == account_id and q.done_at is None))

    async def lease(self, now: datetime, *, limit: int, lease_seconds: float) -> tuple[str, list[PendingDraft]]:
        """Due drafts not done, one more attempt each."""
        token = f"lease-{now.timestamp()}"
        pending = (q for q in self._tables.gap_drafts.values() if q.done_at is None and q.due_at <= now)
        due = sorted(pending, key=lambda q: q.due_at)[:limit]
        for queued in due:
            queued.draft = dataclasses.replace(queued.draft, attempts=queued.draft.attempts + 1)
            queued.due_at, queued.token = now + timedelta(seconds=lease_seconds), token
        return token, [queued.draft for queued in due]

    async def finish(self, gap_event_id: str, token: str, now: datetime) -> bool:
        """Done if still under ``token``."""
        queued = self._tables.gap_drafts.get(gap_event_id)
        if queued is None or queued.token != token or queued.done_at is not None:
            return False
        queued.done_at, queued.token = now, None
        return True

    async def retry_at(self, gap_event_id: str, token: str, at: datetime) -> bool:
        """Due again at ``at`` if still under ``token``."""
        queued = self._tables.gap_drafts.get(gap_event_id)
        if queued is None or queued.token != token:
            return False
        queued.due_at, queued.token = at, None
        return True

    async def prune_done(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` drafts done before ``before``."""
        return self._delete([k for k, q in self._tables.gap_drafts.items() if q.done_at and q.done_at < before], limit)

    async def expire_pending(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` pending drafts queued before ``created_before``."""
        old = [k for k, q in self._tables.gap_drafts.items() if q.done_at is None and q.queued_at < created_before]
        return self._delete(old, limit)

    def _delete(self, keys: list[str], limit: int) -> int:
        for key in keys[:limit]:
            del self._tables.gap_drafts[key]
        return len(keys[:limit])


class FakeUnitOfWork(InMemoryUnitOfWork[Tables]):
    """Conversation's repositories over the copy of the committed tables; counts open transactions."""

    profiles: FakeProfiles
    threads: FakeThreads
    questions: FakeQuestions
    gap_drafts: FakeGapDrafts

    def __init__(self, database: FakeDatabase) -> None:
        super().__init__(database)
        self._counted = database

    def bind(self, tables: Tables) -> None:
        """Attach the fake repositories to ``tables``."""
        self.profiles = FakeProfiles(tables)
        self.threads = FakeThreads(tables)
        self.questions = FakeQuestions(tables)
        self.gap_drafts = FakeGapDrafts(tables)

    async def __aenter__(self) -> Self:
        self._counted.open_transactions += 1
        return await super().__aenter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._counted.open_transactions -= 1
        await super().__aexit__(exc_type, exc, tb)


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
            nearest = (DraftSource("Passwords", "Passwords are reset in Settings.", ref.url),)
            return Attempt(False, None, 0.1, (ref,), draft="Passwords are reset in Settings.", draft_sources=nearest)
        answer = ComposedAnswer(text="Open Settings.", language="en", citations=(ref,), passage="Open Settings.")
        return Attempt(True, answer, 0.9, (ref,))


def assigned_message(
    text: str, *, account: str = "acc-1", thread: str = "t-1", locale: str = "en-GB", age_seconds: float = 0
) -> CloudEvent[ConversationAssigned]:
    """A message routing gave the agent, as routing publishes it (``age_seconds`` ago)."""
    message = MessageReceived(
        account_id=account,
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        thread_id=thread,
        message_id=f"m-{text}",
        sender=Sender(id="visitor", locale=locale),
        text=text,
        sent_at=datetime.now(UTC),
    )
    assigned = ConversationAssigned(
        account_id=account, thread_id=thread, channel=message.channel, message=message, new_thread=False
    )
    event = make_event("conversation.assigned", assigned, source="routing", account_id=account)
    return event.model_copy(update={"time": datetime.now(UTC) - timedelta(seconds=age_seconds)})
