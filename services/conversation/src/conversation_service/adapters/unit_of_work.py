"""Conversation's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork

from conversation_service.adapters.gap_draft_queue import GapDraftQueue
from conversation_service.adapters.repositories import AgentProfileRepository, QuestionLogRepository, ThreadRepository


class ConversationUnitOfWork(SqlUnitOfWork):
    """Transaction scope for conversation's use cases."""

    profiles: AgentProfileRepository
    threads: ThreadRepository
    questions: QuestionLogRepository
    gap_drafts: GapDraftQueue

    def on_begin(self) -> None:
        """Bind the repositories to this transaction's session."""
        self.profiles = AgentProfileRepository(self.session)
        self.threads = ThreadRepository(
            self.session, kept=self.transaction_cache("threads"), write_at_commit=self.write_at_commit
        )
        self.questions = QuestionLogRepository(self.session, write_at_commit=self.write_at_commit)
        self.gap_drafts = GapDraftQueue(self.session, write_at_commit=self.write_at_commit)
