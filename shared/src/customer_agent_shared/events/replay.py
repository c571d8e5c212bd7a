"""Draft replay: what a draft configuration would change on an account's recent real questions.

admin-api asks conversation (``replay.requested``), which replays the questions it keeps against the live
and the draft profile; admin-api then asks routing (``replay.routing_requested``) what it would do with each
under the live and the draft handoff settings. Nothing is sent to a visitor and nothing is billed.
"""

from __future__ import annotations

from typing import TypeVar, cast

from pydantic import Field, ValidationError

from customer_agent_shared.events.channels import (
    Assignee,
    ChannelRef,
    Citation,
    ContractModel,
    HandoffReason,
    OutboundKind,
)
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import CloudEvent, EventParseError, RawCloudEvent, Timestamp, envelope_class

REPLAY_REQUESTED = "replay.requested"
REPLAY_ANSWERED = "replay.answered"
REPLAY_ROUTING_REQUESTED = "replay.routing_requested"
REPLAY_ROUTED = "replay.routed"
REPLAY_REQUEST_TYPES = (REPLAY_REQUESTED, REPLAY_ROUTING_REQUESTED)
MAX_REPLAY_QUESTIONS = 500

ReplayDataT = TypeVar("ReplayDataT", bound="ReplayConfigs | ReplayAnswered | ReplayRouted")


class ReplayConfigs(ContractModel):
    """The two configurations a replay compares."""

    account_id: str = Field(description="Account id.")
    replay_id: str = Field(description="The replay; matches results to the request.")
    live: AgentConfigSnapshot = Field(description="The live configuration.")
    draft: AgentConfigSnapshot = Field(description="The live configuration with the draft's changes.")


class ReplayRequested(ReplayConfigs):
    """Ask conversation to replay the account's last ``limit`` real questions against both configurations."""

    limit: int = Field(ge=1, le=MAX_REPLAY_QUESTIONS, description="How many of the latest questions.")


class ReplayVerdict(ContractModel):
    """What the agent would do with one question under one configuration."""

    kind: OutboundKind = Field(description="answer, rephrase_request or handoff_notice.")
    answered: bool = Field(description="The content supported an answer.")
    citations: list[Citation] = Field(default_factory=list, description="What the answer would cite.")
    confidence: float | None = Field(default=None, description="The calibrated confidence the decision used.")
    handoff_reason: HandoffReason | None = Field(
        default=None, description="Set when the agent would ask for a person (a second miss in a row: cannot_answer)."
    )


class ReplayedQuestion(ContractModel):
    """One real question and the agent's verdicts under the live and the draft configuration."""

    position: int = Field(ge=0, description="Its place in the replay, newest first.")
    thread_id: str = Field(description="The thread it was asked in.")
    message_id: str = Field(description="The visitor's message id.")
    channel: ChannelRef | None = Field(default=None, description="The channel it came on.")
    text: str = Field(description="The question.")
    language: str = Field(description="The language it was answered in.")
    asked_at: Timestamp = Field(description="When it was asked.")
    live: ReplayVerdict = Field(description="Under the live configuration.")
    draft: ReplayVerdict = Field(description="Under the draft.")


class ReplayAnswered(ContractModel):
    """Conversation's part of a replay."""

    account_id: str = Field(description="Account id.")
    replay_id: str = Field(description="The replay.")
    questions: list[ReplayedQuestion] = Field(default_factory=list, description="Replayed questions, newest first.")
    available: int = Field(ge=0, description="How many of the requested questions the history held.")
    complete: bool = Field(default=True, description="False when the replay stopped before the last question.")
    note: str | None = Field(default=None, description="Why it stopped early, for the admin.")


class RoutingQuestion(ContractModel):
    """A replayed question as routing needs it: where it came and whether the agent would ask for a person."""

    position: int = Field(ge=0, description="Its place in the replay.")
    channel: ChannelRef | None = Field(default=None, description="The channel it came on.")
    text: str = Field(description="The question (trigger words are looked for in it).")
    live_handoff: HandoffReason | None = Field(default=None, description="The agent's handoff request, live.")
    draft_handoff: HandoffReason | None = Field(default=None, description="The agent's handoff request, draft.")


class ReplayRoutingRequested(ReplayConfigs):
    """Ask routing what it would do with each replayed question under both configurations (read only)."""

    questions: list[RoutingQuestion] = Field(default_factory=list, description="The questions.")


class RoutingVerdict(ContractModel):
    """What routing would do with one question of a thread the agent holds, under one configuration."""

    outcome: str = Field(description="assigned_to_agent, handed_off or stayed_assigned.")
    reason: HandoffReason | None = Field(default=None, description="Why it would be handed off.")
    assignee: Assignee | None = Field(default=None, description="Who would receive it.")
    trigger: str | None = Field(default=None, description="The trigger word or phrase found, if any.")


class RoutedQuestion(ContractModel):
    """Routing's verdicts on one question."""

    position: int = Field(ge=0, description="Its place in the replay.")
    live: RoutingVerdict = Field(description="Under the live configuration.")
    draft: RoutingVerdict = Field(description="Under the draft.")


class ReplayRouted(ContractModel):
    """Routing's part of a replay."""

    account_id: str = Field(description="Account id.")
    replay_id: str = Field(description="The replay.")
    questions: list[RoutedQuestion] = Field(default_factory=list, description="One per question asked about.")


def replay_event(raw: RawCloudEvent, model: type[ReplayDataT]) -> CloudEvent[ReplayDataT]:
    """The event with its data validated as ``model``; ``EventParseError`` (a poison message) for invalid
    data or data naming another account than the envelope."""
    try:
        data = model.model_validate(raw.data)
    except ValidationError as error:
        raise EventParseError(f"invalid {raw.type} data: {error.errors()[:5]}") from error
    if data.account_id != raw.accountid:
        raise EventParseError(f"event accountid {raw.accountid!r} differs from data.account_id {data.account_id!r}")
    event_class = cast("type[CloudEvent[ReplayDataT]]", envelope_class(model))
    return event_class(data=data, **raw.model_dump(exclude={"data"}))


def is_request_for(raw: RawCloudEvent, event_type: str) -> bool:
    """True when ``raw`` is the request ``event_type`` a service answers; False for the other service's request
    on agent.replay.v1 (skipped by design); ``EventParseError`` (dead-lettered) for any other type."""
    if raw.type == event_type:
        return True
    if raw.type in REPLAY_REQUEST_TYPES:
        return False
    raise EventParseError(f"unexpected event type {raw.type!r}; expected one of {', '.join(REPLAY_REQUEST_TYPES)}")
