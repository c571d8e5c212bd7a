"""Bodies of the agent endpoints: profile, status, preview."""

from __future__ import annotations

from customer_agent_shared.events.channels import Assignee, ChannelRef, HandoffReason, OutboundKind
from customer_agent_shared.events.config import AgentRole, Personality
from customer_agent_shared.events.preview import RoutingNotice
from pydantic import BaseModel, Field

from admin_api.domain.status import AgentStatus
from admin_api.entrypoints.http.models.common import ApiModel, CitationOut, examples


class AgentProfileBody(ApiModel):
    """Name, role and personality of the agent, and how sure it must be to answer."""

    model_config = examples(
        {"name": "Ada", "role": "customer_service", "personality": "friendly"},
        {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.7},
    )

    name: str = Field(min_length=1, max_length=100, description="Name that signs the agent's messages.")
    role: AgentRole = Field(description="What the agent is for.")
    personality: Personality = Field(description="Tone of the replies.")
    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="The least confidence (the calibrated probability, 0..1, that an answer cites the right "
        "page) the agent needs to answer; higher answers less often and more precisely. null = the service's tuned "
        "default. Left out of a PUT, the stored value stays (a body of name, role and personality changes "
        "only those); send null to go back to the default.",
    )


class AgentStatusOut(BaseModel):
    """Whether the agent takes new conversations, and if not, why."""

    model_config = examples({"status": "paused_credits_exhausted", "paused": False, "credits_exhausted": True})

    status: AgentStatus
    paused: bool = Field(description="Paused manually (POST /agent/pause).")
    credits_exhausted: bool = Field(description="Billing reported the credits exhausted.")


class PreviewRequest(ApiModel):
    """A question to preview."""

    model_config = examples({"text": "How do I reset my password?", "locale": "da-DK"})

    text: str = Field(min_length=1, max_length=20_000, description="The visitor's question.")
    locale: str | None = Field(default=None, max_length=35, description="Visitor locale to simulate.")
    thread_id: str | None = Field(default=None, max_length=200, description="Preview thread for follow-ups.")
    channel: ChannelRef | None = Field(
        default=None, description="The channel to simulate a new thread on (its handoff rule); the first if absent."
    )


class PreviewRoutingOut(BaseModel):
    """Routing's decision for the question as a new thread's first message: the channel's rule, trigger
    words, a pause, people's availability and load."""

    channel: ChannelRef | None = Field(default=None, description="The channel simulated (None: none deployed).")
    outcome: str = Field(description="assigned_to_agent, handed_off or stayed_assigned.")
    reason: HandoffReason | None = Field(default=None, description="Why it would be handed off.")
    assignee: Assignee | None = Field(default=None, description="Who would receive it.")
    notice: RoutingNotice | None = Field(default=None, description="What routing would tell the visitor.")


class PreviewOut(BaseModel):
    """The answer the agent would give (never billed)."""

    model_config = examples(
        {
            "text": "Klik på 'Glemt adgangskode' på login-siden.",
            "kind": "answer",
            "language": "da",
            "citations": [{"title": "Reset your password", "url": "https://help.example.com/reset"}],
        }
    )

    text: str
    kind: OutboundKind
    language: str
    citations: list[CitationOut]
    routing: PreviewRoutingOut | None = Field(
        default=None, description="What routing would do with it as a new thread's first message (None if late)."
    )
