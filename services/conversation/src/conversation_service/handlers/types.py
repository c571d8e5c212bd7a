"""What the use cases need from storage: small protocols the SQL unit of work and a test's fake both meet."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Protocol

from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWorkProtocol

from conversation_service.domain.gap_drafts import PendingDraft
from conversation_service.domain.model import AgentProfileRecord, AskedQuestion, ConversationThread


class ProfileStore(Protocol):
    """Agent profiles folded from agent.config.v1."""

    async def apply(self, snapshot: AgentConfigSnapshot) -> bool:
        """Store the snapshot unless a newer (or the same) version is stored; True if it was applied."""
        ...

    async def get(self, account_id: str) -> AgentProfileRecord | None:
        """The stored profile of an account, if any."""
        ...


class ThreadStore(Protocol):
    """Threads by (account, thread)."""

    async def peek(self, account_id: str, thread_id: str) -> ConversationThread | None:
        """The thread's state without locking it; None if unseen."""
        ...

    async def lock(self, account_id: str, thread_id: str, now: datetime) -> ConversationThread:
        """The thread's state, locked for this transaction; created on first sight."""
        ...

    async def lock_many(
        self, keys: Collection[tuple[str, str]], now: datetime
    ) -> dict[tuple[str, str], ConversationThread]:
        """Lock (creating missing ones) several threads."""
        ...

    async def save(self, record: ConversationThread) -> None:
        """Write the thread's state back."""
        ...

    async def claim_due_for_resolution(self, now: datetime, default_hours: int, limit: int) -> list[ConversationThread]:
        """Threads the resolution rule now resolves, locked."""
        ...


class QuestionLog(Protocol):
    """Real visitors' questions, for draft replays."""

    async def record(self, question: AskedQuestion) -> None:
        """Keep a question (once per message)."""
        ...

    async def latest(self, account_id: str, limit: int) -> list[AskedQuestion]:
        """The account's ``limit`` latest questions, newest first."""
        ...

    async def prune(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` questions asked before ``before``; how many were deleted."""
        ...


class GapDraftStore(Protocol):
    """Knowledge gaps waiting for the LLM's recommended answer, and those drafted lately."""

    async def add(self, draft: PendingDraft, now: datetime) -> None:
        """Queue a draft, due at once (once per gap event; not if the same question is pending or done lately)."""
        ...

    async def pending(self, account_id: str, *, limit: int) -> int:
        """How many of the account's drafts are pending, counting up to ``limit``."""
        ...

    async def lease(self, now: datetime, *, limit: int, lease_seconds: float) -> tuple[str, list[PendingDraft]]:
        """Take up to ``limit`` due drafts for a while, each counted as one more attempt: (token, drafts)."""
        ...

    async def finish(self, gap_event_id: str, token: str, now: datetime) -> bool:
        """Mark a draft still under the lease ``token`` done; False if another drafter took it."""
        ...

    async def retry_at(self, gap_event_id: str, token: str, at: datetime) -> bool:
        """Make a draft still under the lease ``token`` due again at ``at``; False if another drafter took it."""
        ...

    async def prune_done(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` drafts done before ``before``; how many were deleted."""
        ...

    async def expire_pending(self, created_before: datetime, limit: int) -> int:
        """Delete up to ``limit`` pending drafts queued before ``created_before``; how many were deleted."""
        ...


class ConversationUnitOfWorkProtocol(UnitOfWorkProtocol, Protocol):
    """One transaction over the service's repositories."""

    @property
    def profiles(self) -> ProfileStore:
        """Agent profiles."""
        ...

    @property
    def threads(self) -> ThreadStore:
        """Threads."""
        ...

    @property
    def questions(self) -> QuestionLog:
        """The question log."""
        ...

    @property
    def gap_drafts(self) -> GapDraftStore:
        """Gaps waiting for the LLM's draft."""
        ...


UnitOfWorkFactory = Callable[[], ConversationUnitOfWorkProtocol]
"""Opens a new unit of work over conversation's schema."""
