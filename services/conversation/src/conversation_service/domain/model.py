"""Conversation's entities (a thread, the agent profile) and the one decision tree every turn goes through."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from customer_agent_shared.events.channels import ChannelRef, ChannelType, HandoffReason

from conversation_service.domain.intents import Intent
from conversation_service.domain.policy import MissOutcome, misses_after, on_miss

PREVIEW_THREAD_PREFIX = "preview:"


@dataclass(frozen=True)
class Turn:
    """One message of a thread."""

    role: str
    text: str
    at: datetime


class TurnOutcome(StrEnum):
    """What the agent did with one visitor message."""

    ANSWERED = "answered"
    REPHRASE = "rephrase"
    CANNOT_ANSWER = "cannot_answer"
    HANDOFF = "handoff"
    FEEDBACK = "feedback"
    CONTENT_UNAVAILABLE = "content_unavailable"


@dataclass(frozen=True)
class TurnDecision:
    """The outcome of one turn and what the events about it need."""

    outcome: TurnOutcome
    handoff_reason: HandoffReason | None = None
    """Set when the thread goes to a person now."""
    miss_count: int | None = None
    """Set for a knowledge gap: the how-manieth miss in a row this was."""
    positive_feedback: bool | None = None
    """Set for feedback."""


def channel_ref(channel_type: str | None, channel_id: str | None) -> ChannelRef | None:
    """The channel a thread or question was on, as the contract names it (None when unknown)."""
    if channel_type is None or channel_id is None:
        return None
    try:
        return ChannelRef(type=ChannelType(channel_type), id=channel_id)
    except ValueError:
        return None


@dataclass(frozen=True)
class AskedQuestion:
    """A real visitor's question as the question log keeps it, for a draft replay."""

    account_id: str
    thread_id: str
    message_id: str
    text: str
    language: str  # the one it was answered in
    locale: str | None  # the visitor's, to choose the language again under another configuration
    channel_type: str | None
    channel_id: str | None
    asked_at: datetime


@dataclass(frozen=True)
class AgentProfileRecord:
    """The part of an account's agent configuration conversation keeps."""

    account_id: str
    version: int
    name: str
    role: str
    personality: str
    default_language: str
    resolution_hours: int | None
    deleted: bool
    answer_threshold: float | None = None
    languages: tuple[str, ...] = ()


INTENTS_WITHOUT_SEARCH = (Intent.HUMAN_REQUEST, Intent.POSITIVE_FEEDBACK, Intent.NEGATIVE_FEEDBACK)


@dataclass
class ConversationThread:
    """Conversation's state of one thread: misses in a row, who has it, and its recent turns."""

    account_id: str
    thread_id: str
    channel_type: str | None
    channel_id: str | None
    language: str | None
    consecutive_misses: int
    agent_replied: bool
    handed_off: bool
    negative_feedback: bool
    last_message_at: datetime
    resolved_at: datetime | None
    turns: list[Turn] = field(default_factory=list)
    is_new: bool = False

    @classmethod
    def new(cls, account_id: str, thread_id: str, *, at: datetime) -> ConversationThread:
        """A thread seen for the first time."""
        return cls(account_id, thread_id, None, None, None, 0, False, False, False, at, None, is_new=True)

    @property
    def is_preview(self) -> bool:
        """A preview thread is the admin's rehearsal: it never counts as replied, so it never resolves."""
        return self.thread_id.startswith(PREVIEW_THREAD_PREFIX)

    def receive(self, *, channel_type: str, channel_id: str, language: str, at: datetime) -> None:
        """A visitor message arrived: the thread is live again (``at`` is our clock, not the visitor's)."""
        self.channel_type = channel_type
        self.channel_id = channel_id
        self.language = language
        self.last_message_at = at
        self.resolved_at = None

    def take_turn(self, intent: Intent, *, answered: bool, content_available: bool = True) -> TurnDecision:
        """Apply one visitor turn: ``answered`` says whether the content supported an answer."""
        if intent is Intent.HUMAN_REQUEST:
            self.handed_off = True
            self.consecutive_misses = 0
            return TurnDecision(TurnOutcome.HANDOFF, handoff_reason=HandoffReason.VISITOR_REQUEST)
        if intent in (Intent.POSITIVE_FEEDBACK, Intent.NEGATIVE_FEEDBACK):
            positive = intent is Intent.POSITIVE_FEEDBACK
            self.negative_feedback = self.negative_feedback or not positive
            return TurnDecision(TurnOutcome.FEEDBACK, positive_feedback=positive)
        if not content_available:
            # Without its content the agent must not guess: a person takes the thread.
            self.handed_off = True
            return TurnDecision(TurnOutcome.CONTENT_UNAVAILABLE, handoff_reason=HandoffReason.CANNOT_ANSWER)
        if answered:
            self.agent_replied = self.agent_replied or not self.is_preview
            self.consecutive_misses = misses_after(None, self.consecutive_misses)
            return TurnDecision(TurnOutcome.ANSWERED)
        return self._miss()

    def _miss(self) -> TurnDecision:
        outcome = on_miss(self.consecutive_misses)
        miss_count = self.consecutive_misses + 1
        self.consecutive_misses = misses_after(outcome, self.consecutive_misses)
        if outcome is MissOutcome.REPHRASE:
            return TurnDecision(TurnOutcome.REPHRASE, miss_count=miss_count)
        self.handed_off = True
        return TurnDecision(
            TurnOutcome.CANNOT_ANSWER, handoff_reason=HandoffReason.CANNOT_ANSWER, miss_count=miss_count
        )

    def remember(self, new_turns: list[Turn], keep: int) -> None:
        """Append turns, keeping only the last ``keep``."""
        self.turns = [*self.turns, *new_turns][-keep:]

    def visitor_questions(self) -> list[str]:
        """What the visitor asked before, oldest first."""
        return [turn.text for turn in self.turns if turn.role == "visitor"]
