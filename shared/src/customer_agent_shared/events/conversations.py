"""Internal conversation events: assignment to the agent and what happened next.

``conversation.handed_off`` is published by routing for every handoff it carries out, whatever its reason
(conversation's ``handoff_requested`` and ``cannot_answer`` only ask for one): the one event billing and
admin-api count handoffs from.

``conversation.knowledge_gap_drafted`` (``KnowledgeGapDrafted``) is internal to conversation and admin-api:
the LLM's recommended answer for a knowledge gap, sent after the gap; its data is also a valid
``ConversationEvent``, so every consumer of the topic decodes it (and ignores the type).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from customer_agent_shared.events.channels import (
    Assignee,
    ChannelRef,
    Citation,
    ContractModel,
    HandoffReason,
    MessageReceived,
)
from customer_agent_shared.events.envelope import Timestamp

CONVERSATION_ASSIGNED = "conversation.assigned"
CONVERSATION_ANSWERED = "conversation.answered"
CONVERSATION_CANNOT_ANSWER = "conversation.cannot_answer"
CONVERSATION_HANDOFF_REQUESTED = "conversation.handoff_requested"
CONVERSATION_HANDED_OFF = "conversation.handed_off"
CONVERSATION_RESOLVED = "conversation.resolved"
CONVERSATION_FEEDBACK = "conversation.feedback"
CONVERSATION_KNOWLEDGE_GAP = "conversation.knowledge_gap"
CONVERSATION_KNOWLEDGE_GAP_DRAFTED = "conversation.knowledge_gap_drafted"
CONVERSATION_EVENT_TYPES = (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_HANDED_OFF,
    CONVERSATION_RESOLVED,
    CONVERSATION_FEEDBACK,
    CONVERSATION_KNOWLEDGE_GAP,
)


class ConversationAssigned(ContractModel):
    """Routing gave an inbound message to the AI agent."""

    account_id: str = Field(description="Account id.")
    thread_id: str = Field(description="Thread id.")
    channel: ChannelRef = Field(description="Channel of the thread.")
    message: MessageReceived = Field(description="The inbound message to answer.")
    new_thread: bool = Field(description="True when this message opened the thread.")
    powered_by_ai: bool = Field(default=True, description="Value for outbound messages.")


class ConversationEvent(ContractModel):
    """Something that happened in a conversation; which fields are set depends on the type."""

    account_id: str = Field(description="Account id.")
    thread_id: str = Field(description="Thread id.")
    channel: ChannelRef | None = Field(default=None, description="Channel of the thread.")
    message_id: str | None = Field(default=None, description="Inbound message concerned.")
    occurred_at: Timestamp = Field(description="When it happened.")
    billable: bool = Field(default=True, description="False for preview and test conversations.")
    question: str | None = Field(default=None, description="The visitor's question.")
    language: str | None = Field(default=None, description="Visitor language (BCP 47).")
    answer: str | None = Field(default=None, description="The answer given (answered).")
    citations: list[Citation] = Field(default_factory=list, description="Citations given.")
    confidence: float | None = Field(default=None, description="Confidence of the answer decision, 0..1.")
    reason: HandoffReason | None = Field(default=None, description="Why a handoff is requested or was made.")
    assignee: Assignee | None = Field(default=None, description="Who received the thread (handed_off).")
    miss_count: int | None = Field(default=None, description="Consecutive misses on the thread.")
    nearest_content: list[Citation] = Field(default_factory=list, description="Closest content found (knowledge_gap).")
    recommended_answer: str | None = Field(
        default=None,
        description="A draft answer from the nearest content, noted in the gap's language (knowledge_gap).",
    )
    question_embedding: list[float] | None = Field(
        default=None,
        max_length=4096,
        description="The question's vector, to group gaps asked in other words or languages (knowledge_gap).",
    )
    embedding_model: str | None = Field(default=None, description="Model of question_embedding.")
    feedback: str | None = Field(default=None, description="'positive' or 'negative' (feedback).")


class KnowledgeGapDrafted(ContractModel):
    """The LLM's recommended answer for the question of one ``conversation.knowledge_gap`` event."""

    account_id: str = Field(description="Account id.")
    thread_id: str = Field(description="Thread of the question (the topic's key).")
    message_id: str | None = Field(default=None, description="Inbound message of the question.")
    occurred_at: Timestamp = Field(description="When the draft was written.")
    gap_event_id: str = Field(description="Id of the conversation.knowledge_gap event whose question it answers.")
    language: str = Field(description="Language of the question and of the draft (BCP 47).")
    recommended_answer: str = Field(
        min_length=1, max_length=4000, description="A short answer from the nearest content, in the language."
    )


class ConversationEventKind(StrEnum):
    """Short names of the conversation event types."""

    ANSWERED = CONVERSATION_ANSWERED
    CANNOT_ANSWER = CONVERSATION_CANNOT_ANSWER
    HANDOFF_REQUESTED = CONVERSATION_HANDOFF_REQUESTED
    HANDED_OFF = CONVERSATION_HANDED_OFF
    RESOLVED = CONVERSATION_RESOLVED
    FEEDBACK = CONVERSATION_FEEDBACK
    KNOWLEDGE_GAP = CONVERSATION_KNOWLEDGE_GAP
