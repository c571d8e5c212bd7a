"""Preview request/reply between admin-api and conversation."""

from __future__ import annotations

from pydantic import Field

from customer_agent_shared.events.channels import Citation, ContractModel, OutboundKind

PREVIEW_REQUESTED = "preview.requested"
PREVIEW_ANSWERED = "preview.answered"


class PreviewRequested(ContractModel):
    """Ask the conversation service what it would answer; never billed."""

    account_id: str = Field(description="Account id.")
    correlation_id: str = Field(description="Matches the reply to the request.")
    text: str = Field(max_length=20_000, description="The question.")
    locale: str | None = Field(default=None, description="Visitor locale to simulate.")
    thread_id: str | None = Field(default=None, description="Preview thread for follow-ups.")


class PreviewAnswered(ContractModel):
    """The answer the agent would give."""

    account_id: str = Field(description="Account id.")
    correlation_id: str = Field(description="Correlation id of the request.")
    text: str = Field(description="Reply text.")
    kind: OutboundKind = Field(description="What the reply is.")
    language: str = Field(description="Reply language.")
    citations: list[Citation] = Field(default_factory=list, description="Citations.")
