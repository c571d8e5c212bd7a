"""Preview request/reply between admin-api and conversation."""

from __future__ import annotations

from pydantic import Field

from customer_agent_shared.events.channels import (
    Assignee,
    ChannelRef,
    Citation,
    ContractModel,
    HandoffReason,
    OutboundKind,
    VisitorText,
)

PREVIEW_REQUESTED = "preview.requested"
PREVIEW_ANSWERED = "preview.answered"
PREVIEW_ROUTED = "preview.routed"


class PreviewRequested(ContractModel):
    """Ask the conversation service what it would answer; never billed."""

    account_id: str = Field(description="Account id.")
    correlation_id: str = Field(description="Matches the reply to the request.")
    text: VisitorText = Field(max_length=20_000, description="The question (control characters become U+FFFD).")
    locale: str | None = Field(default=None, description="Visitor locale to simulate.")
    thread_id: str | None = Field(default=None, description="Preview thread for follow-ups.")
    channel: ChannelRef | None = Field(
        default=None, description="Channel to simulate a new thread on (routing's rule); the account's first if absent."
    )


class PreviewAnswered(ContractModel):
    """The answer the agent would give."""

    account_id: str = Field(description="Account id.")
    correlation_id: str = Field(description="Correlation id of the request.")
    text: str = Field(description="Reply text.")
    kind: OutboundKind = Field(description="What the reply is.")
    language: str = Field(description="Reply language.")
    citations: list[Citation] = Field(default_factory=list, description="Citations.")


class RoutingNotice(ContractModel):
    """A message routing would send the visitor itself (an availability text)."""

    kind: OutboundKind = Field(description="availability or handoff_unavailable.")
    text: str = Field(description="The text.")
    language: str = Field(description="Its language.")


class PreviewRouted(ContractModel):
    """What routing would do with the preview question as a new thread's first message; nothing is changed."""

    account_id: str = Field(description="Account id.")
    correlation_id: str = Field(description="Correlation id of the request.")
    channel: ChannelRef | None = Field(default=None, description="The channel simulated (None: none deployed).")
    outcome: str = Field(description="assigned_to_agent, handed_off or stayed_assigned.")
    reason: HandoffReason | None = Field(default=None, description="Why it would be handed off.")
    assignee: Assignee | None = Field(default=None, description="Who would receive it.")
    notice: RoutingNotice | None = Field(default=None, description="What routing would tell the visitor.")
    powered_by_ai: bool = Field(default=True, description="Whether replies would carry the AI header.")
